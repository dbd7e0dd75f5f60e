"""nova served from its image: the versions document, and an unauthenticated call refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

NOVA = Service(
    name="nova",
    user="nova",
    uid=42436,
    wsgi="nova.wsgi.osapi_compute:application",
    # nova has no no-auth mode: keystonemiddleware guards the API; with no token it answers
    # 401 without asking keystone (www_authenticate_uri names where to get one).
    files={
        "nova.conf": """\
[DEFAULT]
state_path = /var/lib/nova
transport_url = fake://
[api_database]
connection = sqlite:////var/lib/nova/nova_api.db
[database]
connection = sqlite:////var/lib/nova/nova.db
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:5000/
[oslo_concurrency]
lock_path = /var/lib/nova/lock
"""
    },
    setup=("nova-manage api_db sync", "nova-manage db sync"),
)


@pytest.mark.full_stack
@pytest.mark.service("nova")
def test_nova_serves_versions_and_refuses_an_unauthenticated_call(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(NOVA, images["nova"], workdir) as nova:
        versions = requests.get(nova.url, timeout=30)
        assert versions.status_code == 200, nova.logs()
        assert "v2.1" in {v["id"] for v in versions.json()["versions"]}
        v21 = requests.get(f"{nova.url}/v2.1/", timeout=30)
        assert v21.status_code in (200, 401), nova.logs()
        servers = requests.get(f"{nova.url}/v2.1/servers", timeout=30)
        assert servers.status_code == 401, nova.logs()
        assert servers.headers["WWW-Authenticate"] == 'Keystone uri="http://127.0.0.1:5000/"'
