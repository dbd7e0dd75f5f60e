"""placement served from its image: the version document, and a resource provider created
with an inventory that reads back the same (no-auth tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

PLACEMENT = Service(
    name="placement",
    user="placement",
    uid=42482,
    wsgi="placement.wsgi.api:application",
    # placement's own noauth2 strategy: the token is "user[:project]", "admin" has the admin
    # role (as its functional tests use it).
    files={
        "placement.conf": """\
[api]
auth_strategy = noauth2
[placement_database]
connection = sqlite:////var/lib/placement/placement.db
"""
    },
    setup=("placement-manage db sync",),
)
HEADERS = {"X-Auth-Token": "admin", "OpenStack-API-Version": "placement 1.20"}


@pytest.mark.full_stack
@pytest.mark.service("placement")
def test_placement_keeps_a_resource_provider_inventory(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(PLACEMENT, images["placement"], workdir) as placement:
        root = requests.get(placement.url, timeout=30)
        assert root.status_code == 200, placement.logs()
        (v1,) = root.json()["versions"]
        assert v1["id"] == "v1.0" and v1["min_version"] == "1.0", root.text
        assert v1["max_version"].startswith("1."), root.text
        # Only the version document is public.
        refused = requests.get(f"{placement.url}/resource_providers", timeout=30)
        assert refused.status_code == 401, placement.logs()

        created = requests.post(
            f"{placement.url}/resource_providers",
            json={"name": "acceptance-compute"},
            headers=HEADERS,
            timeout=30,
        )
        assert created.status_code == 200, placement.logs()
        provider = created.json()
        assert provider["name"] == "acceptance-compute"
        assert provider["generation"] == 0
        inventories = f"{placement.url}/resource_providers/{provider['uuid']}/inventories"
        put = requests.put(
            inventories,
            json={
                "resource_provider_generation": 0,
                "inventories": {
                    "VCPU": {"total": 8, "allocation_ratio": 4.0},
                    "MEMORY_MB": {"total": 16384, "reserved": 512},
                },
            },
            headers=HEADERS,
            timeout=30,
        )
        assert put.status_code == 200, placement.logs()
        assert put.json()["resource_provider_generation"] == 1

        read = requests.get(inventories, headers=HEADERS, timeout=30)
        assert read.status_code == 200, placement.logs()
        body = read.json()
        assert body["resource_provider_generation"] == 1
        assert set(body["inventories"]) == {"VCPU", "MEMORY_MB"}
        assert body["inventories"]["VCPU"]["total"] == 8
        assert body["inventories"]["VCPU"]["allocation_ratio"] == 4.0
        assert body["inventories"]["MEMORY_MB"]["total"] == 16384
        assert body["inventories"]["MEMORY_MB"]["reserved"] == 512
        listed = requests.get(f"{placement.url}/resource_providers", headers=HEADERS, timeout=30)
        assert [p["uuid"] for p in listed.json()["resource_providers"]] == [provider["uuid"]]
    # The database lives in the state folder the operator mounted.
    assert (workdir / "state" / "placement.db").stat().st_size > 0
