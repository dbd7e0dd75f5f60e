"""trove served from its image behind keystone: the versions document, and the datastore an
operator registered with trove-manage, listed with a token."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve
from tests.acceptance.test_keystone import KEYSTONE, admin_authtoken, admin_session


def trove(keystone: str) -> Service:
    """trove validating tokens against the keystone at ``keystone`` (its own admin as the
    service user)."""
    return Service(
        name="trove",
        user="trove",
        uid=42449,
        wsgi="trove.cmd.app_wsgi:application",
        # trove has no no-auth mode: the image's /etc/trove/api-paste.ini (from etc/trove)
        # puts keystonemiddleware in front of /v1.0.
        files={
            "trove.conf": f"""\
[DEFAULT]
transport_url = fake://
[database]
connection = sqlite:////var/lib/trove/trove.db
{admin_authtoken(keystone)}
"""
        },
        # The database, then a datastore and its version, as trove's install guide has the
        # operator register them (no guest image here: the image id stays empty).
        setup=(
            "trove-manage db_sync",
            "trove-manage datastore_update mysql ''",
            "trove-manage datastore_version_update mysql 8.0 mysql '' '' 1",
            "trove-manage datastore_update mysql 8.0",
        ),
    )


@pytest.mark.full_stack
@pytest.mark.service("keystone")
@pytest.mark.service("trove")
def test_trove_lists_its_datastore_to_a_keystone_user(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(KEYSTONE, images["keystone"], workdir / "keystone") as keystone:
        sess = admin_session(keystone.url)
        token, project = sess.get_token(), sess.get_project_id()
        with serve(trove(keystone.url), images["trove"], workdir / "trove") as served:
            root = requests.get(served.url, timeout=30)
            assert root.status_code == 200, served.logs()
            assert "v1.0" in {v["id"] for v in root.json()["versions"]}, served.logs()
            url = f"{served.url}/v1.0/{project}/datastores"
            refused = requests.get(url, timeout=30)
            assert refused.status_code == 401, served.logs()
            listed = requests.get(url, headers={"X-Auth-Token": token}, timeout=30)
            assert listed.status_code == 200, listed.text + served.logs()
            (mysql,) = listed.json()["datastores"]
            assert mysql["name"] == "mysql"
            assert [v["name"] for v in mysql["versions"]] == ["8.0"]
            assert mysql["default_version"] == mysql["versions"][0]["id"]
