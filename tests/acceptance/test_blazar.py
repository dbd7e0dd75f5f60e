"""blazar served from its image behind keystone: its versions document answers a keystone
token and refuses a request without one."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve
from tests.acceptance.test_keystone import KEYSTONE, admin_authtoken, admin_session


def blazar(keystone: str) -> Service:
    """blazar validating tokens against the keystone at ``keystone`` (its own admin as the
    service user)."""
    return Service(
        name="blazar",
        user="blazar",
        uid=42471,
        wsgi="blazar.wsgi.api:application",
        # blazar has no no-auth mode: keystonemiddleware wraps both its v1 (Flask) and v2
        # (pecan) apps, the versions document included.
        files={
            "blazar.conf": f"""\
[DEFAULT]
transport_url = fake://
[database]
connection = sqlite:////var/lib/blazar/blazar.db
{admin_authtoken(keystone)}
"""
        },
        # blazar's migrations do not run on SQLite (ALTER COLUMN); as its tests (and
        # blazar-manager as it starts) do, create the schema from the models, then stamp it.
        setup=(
            "python -c 'import sqlalchemy as sa; from blazar.db.sqlalchemy import models;"
            " models.Lease.metadata.create_all("
            'sa.create_engine("sqlite:////var/lib/blazar/blazar.db"))\'',
            "blazar-db-manage --config-file /etc/blazar/blazar.conf stamp head",
        ),
    )


@pytest.mark.full_stack
@pytest.mark.service("keystone")
@pytest.mark.service("blazar")
def test_blazar_serves_versions_to_a_keystone_user(images: dict[str, str], workdir: Path) -> None:
    with serve(KEYSTONE, images["keystone"], workdir / "keystone") as keystone:
        token = admin_session(keystone.url).get_token()
        with serve(blazar(keystone.url), images["blazar"], workdir / "blazar") as served:
            refused = requests.get(served.url, timeout=30)
            assert refused.status_code == 401, served.logs()
            versions = requests.get(served.url, headers={"X-Auth-Token": token}, timeout=30)
            assert versions.status_code == 300, versions.text + served.logs()
            assert {"v1.0", "v2.0"} <= {v["id"] for v in versions.json()["versions"]}
