"""The demo user's journey, in one place, through openstacksdk from the host: as ``demo``, a
normal user (role ``member``) of the new project ``demo``, an image uploaded to glance, a
network and a subnet created in neutron, a volume created in cinder (``available``), a server
booted from the image with a flavor the admin made (``ACTIVE``), the volume attached to it
(``in-use``) and detached; then everything deleted (server, volume, subnet, network, image)
and each seen gone (not found).

The server is booted with ``networks: none``, not on the demo network: neutron-server here runs
ML2 without any mechanism driver (no agent, no OVN: nothing on this host can plug a port), so
ML2 cannot bind a port to the compute host. Booted on the network, nova-compute asks neutron
to bind the server's port to ``cloud-compute-1`` and neutron answers ``binding:vif_type``
``binding_failed``; nova's build fails (``PortBindingFailed``, "Binding failed for port ...,
please check neutron logs for more information."), nova-compute has no other host to
reschedule to and the server goes to ERROR ("Exceeded maximum number of retries. ... No valid
host was found."). The journey shows that refusal itself: a port the admin binds to the compute
host stays ``binding_failed``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from openstack import exceptions
from openstack.compute.v2.server import Server
from openstack.connection import Connection

from tests.acceptance.serving import Served
from tests.cloud import clients
from tests.cloud.block_storage import BlockStorage
from tests.cloud.test_cloud import Identity

SECONDS = 180


def journey(
    identity: Identity, compute_host: str, cinder: BlockStorage, nova: Sequence[Served]
) -> None:
    """The demo user's journey; ``nova``'s logs (and neutron's) are shown when the server does
    not come up."""
    admin = identity.admin
    flavor = admin.compute.create_flavor(name="cloud.tiny", ram=512, vcpus=1, disk=1)
    demo = identity.connect("demo", "demo")
    project = demo.current_project_id
    glance, volumes = clients.image(demo), clients.block_storage(demo)

    image = glance.create_image(
        "cirros-like",
        data=os.urandom(1024 * 1024),
        disk_format="raw",
        container_format="bare",
        wait=True,
    )
    # The SDK hands back the record it created before uploading (status queued): read it.
    image = glance.wait_for_status(glance.get_image(image.id), "active", wait=SECONDS)
    assert (image.status, image.owner) == ("active", project)

    network = demo.network.create_network(name="cloud-net")
    subnet = demo.network.create_subnet(
        network_id=network.id, ip_version=4, cidr="10.20.0.0/24", name="cloud-subnet"
    )
    assert network.project_id == project and subnet.gateway_ip == "10.20.0.1"
    assert [n.id for n in demo.network.networks()] == [network.id]
    _no_port_binds(admin, network.id, compute_host)

    volume = volumes.create_volume(name="cloud-volume", size=1)
    volume = volumes.wait_for_status(volume, "available", failures=["error"], wait=SECONDS)
    assert volume.project_id == project and volume.size == 1, cinder.volume.logs()

    server = demo.compute.create_server(
        name="cloud-server", image_id=image.id, flavor_id=flavor.id, networks="none"
    )
    server = _active(demo, server, nova)
    assert server.project_id == project and server.flavor.original_name == "cloud.tiny"

    _attach_and_detach(demo, server, volume.id, cinder)

    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=SECONDS)
    volumes.delete_volume(volume)
    volumes.wait_for_delete(volume, wait=SECONDS)
    demo.network.delete_subnet(subnet, ignore_missing=False)
    demo.network.delete_network(network, ignore_missing=False)
    glance.delete_image(image, ignore_missing=False)
    for gone in (
        lambda: demo.compute.get_server(server.id),
        lambda: volumes.get_volume(volume.id),
        lambda: demo.network.get_subnet(subnet.id),
        lambda: demo.network.get_network(network.id),
        lambda: glance.get_image(image.id),
    ):
        with pytest.raises(exceptions.NotFoundException):
            gone()
    admin.compute.delete_flavor(flavor, ignore_missing=False)


def _no_port_binds(admin: Connection, network: str, host: str) -> None:
    """Why the server boots without a network: ML2, with no mechanism driver, cannot bind a
    port to the compute host (the admin sets ``binding:host_id`` as nova-compute would)."""
    port = admin.network.create_port(network_id=network, binding_host_id=host)
    try:
        assert port.binding_vif_type == "binding_failed", port
    finally:
        admin.network.delete_port(port, ignore_missing=False)


def _active(demo: Connection, server: Server, nova: Sequence[Served]) -> Server:
    try:
        return demo.compute.wait_for_server(server, status="ACTIVE", wait=SECONDS)
    except (exceptions.ResourceFailure, exceptions.ResourceTimeout):
        shown = demo.compute.get_server(server.id)
        logs = "\n".join(f"--- {s.name} {s.container}\n{s.logs()}" for s in nova)
        raise AssertionError(f"{shown.status}: {shown.fault}\n{logs}") from None


def _attach_and_detach(demo: Connection, server: Server, volume: str, cinder: BlockStorage) -> None:
    """The volume attached to the server (nova's fake driver and cinder's fake backend: no
    device, no target), seen ``in-use`` by both, then detached and ``available`` again."""
    volumes = clients.block_storage(demo)
    attachment = demo.compute.create_volume_attachment(server, volume)
    assert attachment.volume_id == volume
    attached = volumes.wait_for_status(
        volumes.get_volume(volume), "in-use", failures=["error"], wait=SECONDS
    )
    assert [a["server_id"] for a in attached.attachments] == [server.id], cinder.volume.logs()
    assert [v["id"] for v in demo.compute.get_server(server.id).attached_volumes] == [volume]
    demo.compute.delete_volume_attachment(server, volume, ignore_missing=False)
    detached = volumes.wait_for_status(
        attached, "available", failures=["error", "error_detaching"], wait=SECONDS
    )
    assert detached.attachments == [], cinder.volume.logs()
