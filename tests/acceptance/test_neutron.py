"""neutron served from its image: the API root and a no-auth read of the networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

NEUTRON = Service(
    name="neutron",
    user="neutron",
    uid=42435,
    wsgi="neutron.wsgi.api:application",
    files={
        "neutron.conf": """\
[DEFAULT]
core_plugin = ml2
auth_strategy = noauth
transport_url = fake://
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = /var/lib/neutron
[database]
connection = sqlite:////var/lib/neutron/neutron.db
[ml2]
type_drivers = local,flat
tenant_network_types = local
[oslo_concurrency]
lock_path = /var/lib/neutron/lock
"""
    },
    env={"OS_NEUTRON_CONFIG_FILES": "neutron.conf"},
    # neutron's migrations run on MySQL and PostgreSQL only: create the schema from the
    # models (as its unit tests do) and stamp it as the heads.
    setup=(
        "python -c 'import sqlalchemy as sa; from neutron.db.migration.models import head;"
        " head.get_metadata().create_all("
        'sa.create_engine("sqlite:////var/lib/neutron/neutron.db"))\'',
        "neutron-db-manage --config-file /etc/neutron/neutron.conf stamp heads",
    ),
)


@pytest.mark.full_stack
@pytest.mark.service("neutron")
def test_neutron_serves_its_api_and_lists_networks(images: dict[str, str], workdir: Path) -> None:
    with serve(NEUTRON, images["neutron"], workdir) as neutron:
        root = requests.get(neutron.url, timeout=30)
        assert root.status_code == 200, neutron.logs()
        assert "v2.0" in {v["id"] for v in root.json()["versions"]}
        networks = requests.get(f"{neutron.url}/v2.0/networks", timeout=30)
        assert networks.status_code == 200, neutron.logs()
        assert networks.json()["networks"] == []
