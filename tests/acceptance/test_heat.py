"""heat served from its image: the versions document and its health check."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

HEAT = Service(
    name="heat",
    user="heat",
    uid=42418,
    wsgi="heat.wsgi.api:application",
    files={
        "heat.conf": """\
[DEFAULT]
transport_url = fake://
rpc_response_timeout = 5
[database]
connection = sqlite:////var/lib/heat/heat.db
[paste_deploy]
flavor = noauth
[oslo_concurrency]
lock_path = /var/lib/heat/lock
"""
    },
    setup=("heat-manage db_sync",),
)


@pytest.mark.full_stack
@pytest.mark.service("heat")
def test_heat_serves_versions_and_its_health_check(images: dict[str, str], workdir: Path) -> None:
    with serve(HEAT, images["heat"], workdir) as heat:
        versions = requests.get(heat.url, timeout=30)
        assert versions.status_code == 300, heat.logs()
        assert "v1.0" in {v["id"] for v in versions.json()["versions"]}
        health = requests.get(f"{heat.url}/healthcheck", timeout=30)
        assert health.status_code == 200, heat.logs()
