"""nova split as operators run it: nova-api (uwsgi), nova-conductor, nova-scheduler and
nova-compute (``fake.FakeDriver``), each a container of the nova image, over a private
RabbitMQ, on MariaDB, with placement and glance behind keystone. A normal user of a new
project boots a server from a glance image with a flavor, sees it ACTIVE, deletes it and sees
it gone. No neutron here: the server is booted with ``networks: none``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.serving import Served, Service, run, serve, start, wait_for_log
from tests.cloud.backing import mariadb, memcached, rabbitmq
from tests.cloud.test_cloud import (
    Identity,
    authtoken,
    cloud_identity,
    glance_service,
    keystone_service,
    password_session,
    placement_service,
)

COMPUTE_HOST = "cloud-compute-1"


def nova_service(urls: dict[str, str], transport: str, auth: str, service_auth: str) -> Service:
    return Service(
        name="nova",
        user="nova",
        uid=42436,
        wsgi="nova.wsgi.osapi_compute:application",
        files={
            "nova.conf": f"""\
[DEFAULT]
state_path = /var/lib/nova
transport_url = {transport}
compute_driver = fake.FakeDriver
host = {COMPUTE_HOST}
my_ip = 127.0.0.1
[api]
auth_strategy = keystone
[api_database]
connection = {urls["nova_api"]}
[database]
connection = {urls["nova"]}
[oslo_concurrency]
lock_path = /var/lib/nova/lock
[scheduler]
discover_hosts_in_cells_interval = -1
[conductor]
workers = 1
{auth}
[placement]
{service_auth}
[glance]
valid_interfaces = public
[neutron]
{service_auth}
"""
        },
    )


def _service_auth(keystone: str, user: str, password: str) -> str:
    """A [section]'s keystoneauth options for a service user of project ``service``."""
    return f"""\
auth_type = password
auth_url = {keystone}/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {user}
password = {password}
region_name = RegionOne
valid_interfaces = public"""


def nova_api_setup(nova: Service, urls: dict[str, str]) -> Service:
    """``nova``, with the set-up its API container runs first: the API database, cell0 and
    cell1 mapped, the cell database migrated."""
    return dataclasses.replace(
        nova,
        setup=(
            "mkdir -p /var/lib/nova/lock",
            "nova-manage api_db sync",
            f"nova-manage cell_v2 map_cell0 --database_connection '{urls['nova_cell0']}'",
            "nova-manage cell_v2 create_cell --name cell1 --verbose",
            "nova-manage db sync",
        ),
    )


def neutron_service(db_url: str, transport: str, auth: str, nova_auth: str) -> Service:
    """neutron-server with ML2 (flat and VXLAN networks), migrated on MariaDB with its own
    ``neutron-db-manage upgrade heads``."""
    return Service(
        name="neutron",
        user="neutron",
        uid=42435,
        wsgi="neutron.wsgi.api:application",
        files={
            "neutron.conf": f"""\
[DEFAULT]
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = {transport}
state_path = /var/lib/neutron
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
[database]
connection = {db_url}
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers =
[ml2_type_vxlan]
vni_ranges = 1:1000
[oslo_concurrency]
lock_path = /var/lib/neutron/lock
{auth}
[nova]
{nova_auth}
"""
        },
        env={"OS_NEUTRON_CONFIG_FILES": "neutron.conf"},
        setup=("neutron-db-manage --config-file /etc/neutron/neutron.conf upgrade heads",),
    )


@contextlib.contextmanager
def _process(
    service: Service, image: str, folder: Path, command: str, ready: str
) -> Iterator[Served]:
    with start(service, image, folder, command) as served:
        wait_for_log(served, ready, seconds=180)
        yield served


@pytest.mark.service("keystone")
@pytest.mark.service("placement")
@pytest.mark.service("glance")
@pytest.mark.service("nova")
@pytest.mark.service("neutron")
def test_a_user_boots_a_server_on_the_split_nova(images: dict[str, str], workdir: Path) -> None:
    with mariadb() as db, memcached() as memcache, rabbitmq() as rabbit:
        ks_svc = keystone_service(db.database("keystone"), memcache)
        with serve(ks_svc, images["keystone"], workdir / "keystone") as ks:
            identity = cloud_identity(ks.url, ("placement", "glance", "nova", "neutron"))
            placement_svc = placement_service(
                db.database("placement"),
                authtoken(ks.url, "placement", identity.passwords["placement"], memcache),
            )
            glance_svc = glance_service(
                db.database("glance"),
                authtoken(ks.url, "glance", identity.passwords["glance"], memcache),
            )
            urls = {name: db.database(name) for name in ("nova_api", "nova", "nova_cell0")}
            nova_svc = nova_service(
                urls,
                rabbit.url,
                authtoken(ks.url, "nova", identity.passwords["nova"], memcache),
                _service_auth(ks.url, "nova", identity.passwords["nova"]),
            )
            neutron_svc = neutron_service(
                db.database("neutron"),
                rabbit.url,
                authtoken(ks.url, "neutron", identity.passwords["neutron"], memcache),
                _service_auth(ks.url, "nova", identity.passwords["nova"]),
            )
            nova_dir = workdir / "nova"
            setup = nova_api_setup(nova_svc, urls)
            with (
                serve(placement_svc, images["placement"], workdir / "placement") as placement,
                serve(glance_svc, images["glance"], workdir / "glance") as glance,
                serve(neutron_svc, images["neutron"], workdir / "neutron") as neutron,
                serve(setup, images["nova"], nova_dir) as nova,
            ):
                identity.endpoint("network", "neutron", neutron.url)
                identity.endpoint("placement", "placement", placement.url)
                identity.endpoint("image", "glance", glance.url)
                identity.endpoint("compute", "nova", f"{nova.url}/v2.1")
                with (
                    _process(
                        nova_svc,
                        images["nova"],
                        nova_dir,
                        "nova-conductor",
                        "Starting conductor node",
                    ),
                    _process(
                        nova_svc,
                        images["nova"],
                        nova_dir,
                        "nova-scheduler",
                        "Starting scheduler node",
                    ),
                    _process(
                        nova_svc, images["nova"], nova_dir, "nova-compute", "Starting compute node"
                    ),
                ):
                    _discover_hosts(nova_svc, images["nova"], nova_dir)
                    _a_network_and_subnet(identity, neutron)
                    _boot_and_delete(identity, glance, nova)


def _discover_hosts(service: Service, image: str, folder: Path) -> None:
    """``nova-manage cell_v2 discover_hosts`` until the compute host is mapped."""
    deadline = time.monotonic() + 120
    while True:
        found = run(service, image, folder, "nova-manage cell_v2 discover_hosts --verbose")
        assert found.returncode == 0, found.stdout + found.stderr
        if COMPUTE_HOST in found.stdout or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert COMPUTE_HOST in found.stdout, found.stdout


def _a_network_and_subnet(identity: Identity, neutron: Served) -> None:
    """As ``demo``: a network and a subnet created, listed, deleted."""
    demo = password_session(identity.url, "demo", identity.passwords["demo"], "demo")
    net = demo.post(
        f"{neutron.url}/v2.0/networks", json={"network": {"name": "cloud-net"}}, raise_exc=False
    )
    assert net.status_code == 201, f"{net.text}\n{neutron.logs()}"
    network = net.json()["network"]
    assert network["project_id"] == demo.get_project_id() and network["name"] == "cloud-net"
    sub = demo.post(
        f"{neutron.url}/v2.0/subnets",
        json={"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": "10.20.0.0/24"}},
        raise_exc=False,
    )
    assert sub.status_code == 201, f"{sub.text}\n{neutron.logs()}"
    assert sub.json()["subnet"]["gateway_ip"] == "10.20.0.1"
    listed = demo.get(f"{neutron.url}/v2.0/networks").json()["networks"]
    assert [n["id"] for n in listed] == [network["id"]]
    gone = demo.delete(f"{neutron.url}/v2.0/networks/{network['id']}", raise_exc=False)
    assert gone.status_code == 204, gone.text


def _boot_and_delete(identity: Identity, glance: Served, nova: Served) -> None:
    admin = identity.admin
    flavor = admin.post(
        f"{nova.url}/v2.1/flavors",
        json={"flavor": {"name": "cloud.tiny", "ram": 512, "vcpus": 1, "disk": 1}},
        raise_exc=False,
    )
    assert flavor.status_code == 200, f"{flavor.text}\n{nova.logs()}"
    flavor_id = flavor.json()["flavor"]["id"]
    demo = password_session(identity.url, "demo", identity.passwords["demo"], "demo")
    image = demo.post(
        f"{glance.url}/v2/images",
        json={"name": "cirros-like", "disk_format": "raw", "container_format": "bare"},
    ).json()
    demo.put(
        f"{glance.url}/v2/images/{image['id']}/file",
        data=os.urandom(1024 * 1024),
        headers={"Content-Type": "application/octet-stream"},
    )
    headers = {"OpenStack-API-Version": "compute 2.37"}
    created = demo.post(
        f"{nova.url}/v2.1/servers",
        json={
            "server": {
                "name": "cloud-server",
                "imageRef": image["id"],
                "flavorRef": flavor_id,
                "networks": "none",
            }
        },
        headers=headers,
        raise_exc=False,
    )
    assert created.status_code == 202, f"{created.text}\n{nova.logs()}"
    server_id = created.json()["server"]["id"]
    deadline = time.monotonic() + 180
    while True:
        shown = demo.get(f"{nova.url}/v2.1/servers/{server_id}", headers=headers, raise_exc=False)
        assert shown.status_code == 200, f"{shown.text}\n{nova.logs()}"
        server = shown.json()["server"]
        if server["status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert server["status"] == "ACTIVE", f"{server}\n{nova.logs()}"
    assert server["tenant_id"] == demo.get_project_id()
    deleted = demo.delete(f"{nova.url}/v2.1/servers/{server_id}", raise_exc=False)
    assert deleted.status_code == 204, deleted.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        gone = demo.get(f"{nova.url}/v2.1/servers/{server_id}", headers=headers, raise_exc=False)
        if gone.status_code == 404:
            break
        time.sleep(2)
    assert gone.status_code == 404, gone.text
