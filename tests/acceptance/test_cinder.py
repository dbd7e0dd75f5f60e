"""cinder served from its image: the versions document, and volume types created and read
back through the no-auth pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

CINDER = Service(
    name="cinder",
    user="cinder",
    uid=42407,
    wsgi="cinder.wsgi.api:application",
    files={
        "cinder.conf": """\
[DEFAULT]
auth_strategy = noauth
state_path = /var/lib/cinder
transport_url = fake://
[database]
connection = sqlite:////var/lib/cinder/cinder.db
[oslo_concurrency]
lock_path = /var/lib/cinder/lock
"""
    },
    setup=("cinder-manage db sync",),
)
# cinder's noauth pipeline takes "user:project" as the token (URLs carry no project id).
TOKEN = {"X-Auth-Token": "admin:admin"}


@pytest.mark.full_stack
@pytest.mark.service("cinder")
def test_cinder_serves_versions_and_keeps_volume_types(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(CINDER, images["cinder"], workdir) as cinder:
        versions = requests.get(cinder.url, timeout=30)
        assert versions.status_code == 300, cinder.logs()
        assert "v3.0" in {v["id"] for v in versions.json()["versions"]}
        created = requests.post(
            f"{cinder.url}/v3/types",
            json={"volume_type": {"name": "acceptance", "description": "made by a test"}},
            headers=TOKEN,
            timeout=30,
        )
        assert created.status_code == 200, cinder.logs()
        types = requests.get(f"{cinder.url}/v3/types", headers=TOKEN, timeout=30)
        assert types.status_code == 200, cinder.logs()
        assert {"__DEFAULT__", "acceptance"} <= {t["name"] for t in types.json()["volume_types"]}
        volumes = requests.get(f"{cinder.url}/v3/volumes", headers=TOKEN, timeout=30)
        assert volumes.status_code == 200, cinder.logs()
        assert volumes.json()["volumes"] == []
