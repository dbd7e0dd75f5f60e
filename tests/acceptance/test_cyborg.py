"""cyborg served from its image behind keystone: the public version documents, a call
without a token refused, and keystone-authenticated reads of its device profiles and
deployables."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve
from tests.acceptance.test_keystone import KEYSTONE, admin_authtoken, admin_session


def cyborg(keystone: str) -> Service:
    """cyborg, its tokens checked by the keystone at ``keystone`` (cyborg has no no-auth
    mode: its shipped paste pipeline, /etc/cyborg/api-paste.ini in the image, always has
    keystonemiddleware, with ``/`` and ``/v2`` public)."""
    return Service(
        name="cyborg",
        user="cyborg",
        uid=42483,
        wsgi="cyborg.wsgi.api:application",
        files={
            "cyborg.conf": f"""\
[DEFAULT]
transport_url = fake://
state_path = /var/lib/cyborg
[database]
connection = sqlite:////var/lib/cyborg/cyborg.db
{admin_authtoken(keystone)}
[oslo_concurrency]
lock_path = /var/lib/cyborg/lock
"""
        },
        # cyborg's migrations do not run on SQLite (ALTER COLUMN); its own create_schema
        # builds the schema from the models and stamps it.
        setup=("cyborg-dbsync --config-file /etc/cyborg/cyborg.conf create_schema",),
    )


@pytest.mark.full_stack
@pytest.mark.service("keystone")
@pytest.mark.service("cyborg")
def test_cyborg_serves_versions_and_lists_device_profiles_with_a_token(
    images: dict[str, str], workdir: Path
) -> None:
    with (
        serve(KEYSTONE, images["keystone"], workdir / "keystone") as keystone,
        serve(cyborg(keystone.url), images["cyborg"], workdir / "cyborg") as api,
    ):
        root = requests.get(api.url, timeout=30)
        assert root.status_code == 200, api.logs()
        assert root.json()["default_version"]["id"] == "v2", root.text
        assert root.json()["default_version"]["max_version"].startswith("2."), root.text
        v2 = requests.get(f"{api.url}/v2", timeout=30)
        assert v2.status_code == 200, api.logs()
        refused = requests.get(f"{api.url}/v2/device_profiles", timeout=30)
        assert refused.status_code == 401, api.logs()
        assert refused.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}/v3"'

        auth = {"X-Auth-Token": admin_session(keystone.url).get_token()}
        profiles = requests.get(f"{api.url}/v2/device_profiles", headers=auth, timeout=30)
        assert profiles.status_code == 200, api.logs()
        assert profiles.json()["device_profiles"] == []
        deployables = requests.get(f"{api.url}/v2/deployables", headers=auth, timeout=30)
        assert deployables.status_code == 200, api.logs()
        assert deployables.json()["deployables"] == []
