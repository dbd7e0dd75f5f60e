"""ironic served from its image: API root and a no-auth read of the node list."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

IRONIC = Service(
    name="ironic",
    user="ironic",
    uid=42422,
    wsgi="ironic.wsgi.api:application",
    files={
        "ironic.conf": """\
[DEFAULT]
auth_strategy = noauth
enabled_hardware_types = fake-hardware
rpc_transport = json-rpc
[database]
connection = sqlite:////var/lib/ironic/ironic.db
[oslo_concurrency]
lock_path = /var/lib/ironic/lock
"""
    },
    setup=("ironic-dbsync --config-file /etc/ironic/ironic.conf create_schema",),
)
VERSION = {"X-OpenStack-Ironic-API-Version": "latest"}


@pytest.mark.full_stack
@pytest.mark.service("ironic")
def test_ironic_serves_its_api_and_lists_nodes(images: dict[str, str], workdir: Path) -> None:
    with serve(IRONIC, images["ironic"], workdir) as ironic:
        root = requests.get(ironic.url, timeout=30)
        assert root.status_code == 200, ironic.logs()
        assert root.json()["default_version"]["id"] == "v1"
        nodes = requests.get(f"{ironic.url}/v1/nodes", headers=VERSION, timeout=30)
        assert nodes.status_code == 200, ironic.logs()
        assert nodes.json()["nodes"] == []
        drivers = requests.get(f"{ironic.url}/v1/drivers", headers=VERSION, timeout=30)
        assert drivers.status_code == 200, ironic.logs()
