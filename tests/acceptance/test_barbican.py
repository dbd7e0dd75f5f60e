"""barbican served from its image behind keystone stores a secret and returns the same
payload to its project only."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve
from tests.acceptance.test_keystone import KEYSTONE, admin_authtoken, admin_session


def barbican(keystone: str) -> Service:
    """barbican with its shipped paste file (/v1 behind keystonemiddleware, ``/`` public),
    its tokens checked by the keystone at ``keystone``. (The unauthenticated pipeline that
    file also defines fails every request in 22.0.0: AttributeError ``request_id`` in
    UnauthenticatedContextMiddleware.) Secrets go to the default store, the simple_crypto
    plugin, with the operator's own key encryption key (32 bytes, base64)."""
    return Service(
        name="barbican",
        user="barbican",
        uid=42403,
        wsgi="barbican.wsgi.api:application",
        files={
            "barbican.conf": f"""\
[DEFAULT]
host_href = http://127.0.0.1:{{port}}
[database]
connection = sqlite:////var/lib/barbican/barbican.db
{admin_authtoken(keystone)}
[simple_crypto_plugin]
kek = YWNjZXB0YW5jZS1rZWstb2YtMzItYnl0ZXMtbG9uZyE=
"""
        },
        setup=("barbican-manage db upgrade",),
    )


@pytest.mark.full_stack
@pytest.mark.service("keystone")
@pytest.mark.service("barbican")
def test_barbican_stores_a_secret_and_returns_its_payload(
    images: dict[str, str], workdir: Path
) -> None:
    payload = secrets.token_hex(24)
    with (
        serve(KEYSTONE, images["keystone"], workdir / "keystone") as keystone,
        serve(barbican(keystone.url), images["barbican"], workdir / "barbican") as api,
    ):
        versions = requests.get(api.url, timeout=30)
        assert versions.status_code == 300, api.logs()
        assert "v1" in {v["id"] for v in versions.json()["versions"]["values"]}, versions.text
        refused = requests.get(f"{api.url}/v1/secrets", timeout=30)
        assert refused.status_code == 401, api.logs()

        auth = {"X-Auth-Token": admin_session(keystone.url).get_token()}
        stored = requests.post(
            f"{api.url}/v1/secrets",
            json={
                "name": "acceptance",
                "payload": payload,
                "payload_content_type": "text/plain",
                "secret_type": "passphrase",
            },
            headers=auth,
            timeout=30,
        )
        assert stored.status_code == 201, api.logs()
        ref = stored.json()["secret_ref"]
        assert ref.startswith(f"{api.url}/v1/secrets/"), ref
        meta = requests.get(ref, headers={**auth, "Accept": "application/json"}, timeout=30)
        assert meta.status_code == 200, api.logs()
        assert meta.json()["name"] == "acceptance"
        assert meta.json()["status"] == "ACTIVE"
        assert meta.json()["content_types"] == {"default": "text/plain"}
        read = requests.get(f"{ref}/payload", headers={**auth, "Accept": "text/plain"}, timeout=30)
        assert read.status_code == 200, api.logs()
        assert read.text == payload
        listed = requests.get(f"{api.url}/v1/secrets", headers=auth, timeout=30)
        assert listed.status_code == 200, api.logs()
        assert [s["secret_ref"] for s in listed.json()["secrets"]] == [ref]
