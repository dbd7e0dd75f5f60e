"""The cloud a user works in: nova split as operators run it, nova-api (uwsgi), nova-conductor,
nova-scheduler and nova-compute (``fake.FakeDriver``), each a container of the nova image;
cinder-api (uwsgi), cinder-scheduler and cinder-volume (cinder's fake backend, see
tests/cloud/block_storage.py), each a container of the cinder image; neutron-server (ML2),
placement and glance; all over a private RabbitMQ, on MariaDB, behind keystone. The demo user's
journey through them (tests/cloud/journey.py: an image, a network, a volume, a server booted
with the volume attached, everything deleted) is driven from the host by openstacksdk; the
server boots without a network, and journey.py's docstring says why."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.serving import Served, Service, run, serve, start, wait_for_log
from tests.cloud.backing import mariadb, memcached, rabbitmq
from tests.cloud.block_storage import cinder, cinder_service, wait_until_up
from tests.cloud.journey import journey
from tests.cloud.test_cloud import (
    authtoken,
    cloud_identity,
    glance_service,
    keystone_service,
    placement_service,
)

COMPUTE_HOST = "cloud-compute-1"
# nova's processes besides its API, each with the line it logs once it listens.
NOVA_PROCESSES = (
    ("nova-conductor", "Starting conductor node"),
    ("nova-scheduler", "Starting scheduler node"),
    ("nova-compute", "Starting compute node"),
)


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
[cinder]
os_region_name = RegionOne
{service_auth}
[service_user]
# nova's own token beside the user's: cinder deletes an attachment nova uses only for
# nova (OSSA-2023-003), and neutron and cinder trust long operations this way.
send_service_user_token = true
{service_auth}
"""
        },
    )


def compute_host(nova: Service) -> Service:
    """``nova`` as a compute host runs it: no database settings (nova-compute reaches the
    database through nova-conductor only, and with ``[api_database]`` set it tries to read
    the services' versions itself and logs "No DB access allowed in nova-compute")."""
    files = {name: _without_sections(text, DB_SECTIONS) for name, text in nova.files.items()}
    return dataclasses.replace(nova, files=files)


DB_SECTIONS = ("api_database", "database")


def _without_sections(ini: str, sections: tuple[str, ...]) -> str:
    """``ini`` without the named ``[sections]`` and their options."""
    kept, skipping = [], False
    for line in ini.splitlines(keepends=True):
        header = line.strip()
        if header.startswith("[") and header.endswith("]"):
            skipping = header[1:-1] in sections
        if not skipping:
            kept.append(line)
    return "".join(kept)


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
@pytest.mark.service("cinder")
def test_a_user_journeys_through_glance_neutron_cinder_and_nova(
    images: dict[str, str], workdir: Path
) -> None:
    with mariadb() as db, memcached() as memcache, rabbitmq() as rabbit:
        ks_svc = keystone_service(db.database("keystone"), memcache)
        with serve(ks_svc, images["keystone"], workdir / "keystone") as ks:
            names = ("placement", "glance", "nova", "neutron", "cinder")
            identity = cloud_identity(ks.url, names)
            auths = {n: authtoken(ks.url, n, identity.passwords[n], memcache) for n in names}
            placement_svc = placement_service(db.database("placement"), auths["placement"])
            glance_svc = glance_service(db.database("glance"), auths["glance"])
            urls = {name: db.database(name) for name in ("nova_api", "nova", "nova_cell0")}
            nova_auth = _service_auth(ks.url, "nova", identity.passwords["nova"])
            nova_svc = nova_service(urls, rabbit.url, auths["nova"], nova_auth)
            neutron_svc = neutron_service(
                db.database("neutron"), rabbit.url, auths["neutron"], nova_auth
            )
            cinder_svc = cinder_service(db.database("cinder"), rabbit.url, auths["cinder"])
            nova_dir = workdir / "nova"
            with (
                serve(placement_svc, images["placement"], workdir / "placement") as placement,
                serve(glance_svc, images["glance"], workdir / "glance") as glance,
                serve(neutron_svc, images["neutron"], workdir / "neutron") as neutron,
                cinder(cinder_svc, images["cinder"], workdir / "cinder") as block_storage,
                serve(nova_api_setup(nova_svc, urls), images["nova"], nova_dir) as nova,
            ):
                identity.endpoint("network", "neutron", neutron.url)
                identity.endpoint("placement", "placement", placement.url)
                identity.endpoint("image", "glance", glance.url)
                identity.endpoint("compute", "nova", f"{nova.url}/v2.1")
                cinder_url = f"{block_storage.api.url}/v3/%(project_id)s"
                identity.endpoint("volumev3", "cinderv3", cinder_url)
                with contextlib.ExitStack() as stack:
                    served = [nova, neutron]
                    for command, ready in NOVA_PROCESSES:
                        if command == "nova-compute":  # a host of its own: no database
                            process = _process(
                                compute_host(nova_svc), images["nova"], workdir / command,
                                command, ready,
                            )  # fmt: skip
                        else:
                            process = _process(nova_svc, images["nova"], nova_dir, command, ready)
                        served.append(stack.enter_context(process))
                    _discover_hosts(nova_svc, images["nova"], nova_dir)
                    wait_until_up(identity.admin, block_storage)
                    journey(identity, COMPUTE_HOST, block_storage, served)


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
