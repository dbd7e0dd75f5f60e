"""heat as operators run it: heat-api (uwsgi) and heat-engine over the private RabbitMQ, on
MariaDB, behind keystone, driving nova's and neutron's APIs from their images: a stack of a
random string, a flavor and a network created by the admin through openstacksdk, its outputs
read, then deleted with its resources."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from openstack import exceptions

from tests.acceptance.serving import Served, Service, serve, start
from tests.cloud.backing import RabbitMQ, mariadb, memcached, rabbitmq
from tests.cloud.test_cloud import Identity, authtoken, cloud_identity, keystone_service
from tests.cloud.test_compute import (
    _service_auth,
    neutron_service,
    nova_api_setup,
    nova_service,
)

SECONDS = 180
TEMPLATE = {
    "heat_template_version": "2021-04-16",
    "resources": {
        "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 24}},
        "flavor": {
            "type": "OS::Nova::Flavor",
            "properties": {"name": "heat-flavor", "ram": 256, "vcpus": 1, "disk": 1},
        },
        "net": {"type": "OS::Neutron::Net", "properties": {"name": "heat-net"}},
    },
    "outputs": {
        "secret": {"value": {"get_attr": ["secret", "value"]}},
        "flavor": {"value": {"get_resource": "flavor"}},
        "net": {"value": {"get_resource": "net"}},
    },
}


def heat_service(db_url: str, transport: str, auth: str, keystone: str, password: str) -> Service:
    return Service(
        name="heat",
        user="heat",
        uid=42418,
        wsgi="heat.wsgi.api:application",
        files={
            "heat.conf": f"""\
[DEFAULT]
transport_url = {transport}
num_engine_workers = 1
[database]
connection = {db_url}
[clients_keystone]
auth_uri = {keystone}
[trustee]
auth_type = password
auth_url = {keystone}/v3
username = heat
password = {password}
user_domain_name = Default
{auth}
[oslo_concurrency]
lock_path = /var/lib/heat/lock
"""
        },
        setup=("mkdir -p /var/lib/heat/lock", "heat-manage db_sync"),
    )


@pytest.mark.service("keystone")
@pytest.mark.service("nova")
@pytest.mark.service("neutron")
@pytest.mark.service("heat")
def test_a_heat_stack_creates_and_deletes_its_resources(
    images: dict[str, str], workdir: Path
) -> None:
    with mariadb() as db, memcached() as memcache, rabbitmq() as rabbit:
        ks_svc = keystone_service(db.database("keystone"), memcache)
        with serve(ks_svc, images["keystone"], workdir / "keystone") as ks:
            identity = cloud_identity(ks.url, ("nova", "neutron", "heat", "placement"))
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
            heat_svc = heat_service(
                db.database("heat"),
                rabbit.url,
                authtoken(ks.url, "heat", identity.passwords["heat"], memcache),
                ks.url,
                identity.passwords["heat"],
            )
            with (
                serve(nova_api_setup(nova_svc, urls), images["nova"], workdir / "nova") as nova,
                serve(neutron_svc, images["neutron"], workdir / "neutron") as neutron,
                serve(heat_svc, images["heat"], workdir / "heat") as heat,
                start(heat_svc, images["heat"], workdir / "heat", "heat-engine") as engine,
            ):
                _consuming(rabbit, "engine", engine)
                identity.endpoint("compute", "nova", f"{nova.url}/v2.1")
                identity.endpoint("network", "neutron", neutron.url)
                identity.endpoint("orchestration", "heat", f"{heat.url}/v1/%(tenant_id)s")
                _stack(identity, engine)


def _stack(identity: Identity, engine: Served) -> None:
    """As the admin, through openstacksdk: the stack created, its outputs read and its
    resources found in nova and neutron, then the stack deleted with them."""
    admin = identity.admin
    heat = admin.orchestration
    stack = heat.create_stack(name="cloud-stack", template=TEMPLATE)
    try:
        stack = heat.wait_for_status(
            stack, "CREATE_COMPLETE", failures=["CREATE_FAILED"], wait=SECONDS
        )
    except (exceptions.ResourceFailure, exceptions.ResourceTimeout) as failed:
        raise AssertionError(f"{failed}\n{engine.logs()}") from None
    outputs = {o["output_key"]: o["output_value"] for o in stack.outputs}
    assert len(outputs["secret"]) == 24
    # The resources exist in nova and neutron, as heat-engine made them.
    flavor = admin.compute.get_flavor(outputs["flavor"])
    assert flavor.name == "heat-flavor" and flavor.ram == 256
    assert admin.network.get_network(outputs["net"]).name == "heat-net"

    heat.delete_stack(stack)
    try:  # a stack DELETE_COMPLETE is not found
        heat.wait_for_delete(stack, wait=SECONDS)
    except exceptions.ResourceTimeout as failed:
        raise AssertionError(f"{failed}\n{engine.logs()}") from None
    with pytest.raises(exceptions.NotFoundException):
        admin.compute.get_flavor(outputs["flavor"])
    with pytest.raises(exceptions.NotFoundException):
        admin.network.get_network(outputs["net"])


def _consuming(rabbit: RabbitMQ, queue: str, process: Served, seconds: int = 180) -> None:
    """Wait until ``queue`` of the broker has a consumer: heat-engine listens for RPC."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for line in rabbit.ctl("list_queues", "-p", "cloud", "name", "consumers").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue and parts[1].isdigit() and int(parts[1]):
                return
        time.sleep(2)
    raise AssertionError(f"nothing consumes {queue!r} after {seconds} s:\n{process.logs()}")
