"""The images together, as an operator runs them: on a private MariaDB, RabbitMQ and
memcached, every API behind keystone authentication, driven from the host by real clients.

Here: keystone on MariaDB (fernet tokens, its cache in memcached) with a project, a user and
service users, set up by the admin through openstacksdk; placement and glance on MariaDB
behind keystonemiddleware, migrated with their own ``db sync``; a normal user of a new project
uploads an image through openstacksdk and reads it back; the placement service user keeps a
resource provider's inventory (a keystoneauth session: what a service uses). The backing
services are started for the scenario and leave nothing behind. The demo user's whole journey
(glance, neutron, cinder, nova) is in tests/cloud/journey.py, run by test_compute.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from keystoneauth1 import session
from openstack import exceptions
from openstack.connection import Connection

from tests.acceptance.serving import Served, Service, serve
from tests.cloud import clients
from tests.cloud.backing import MariaDB, mariadb, memcached, rabbitmq
from tests.cloud.clients import connect, password_session

ADMIN_PASSWORD = uuid.uuid4().hex


@dataclass(frozen=True)
class Backing:
    db: MariaDB
    memcache: str


@pytest.fixture(scope="module")
def backing() -> Iterator[Backing]:
    with mariadb() as db, memcached() as memcache:
        yield Backing(db=db, memcache=memcache)


def keystone_service(db_url: str, memcache: str) -> Service:
    return Service(
        name="keystone",
        user="keystone",
        uid=42425,
        wsgi="keystone.wsgi.api:application",
        files={
            "keystone.conf": f"""\
[database]
connection = {db_url}
[cache]
enabled = true
backend = dogpile.cache.memcached
memcache_servers = {memcache}
[fernet_tokens]
key_repository = /var/lib/keystone/fernet-keys
[fernet_receipts]
key_repository = /var/lib/keystone/fernet-keys
[credential]
key_repository = /var/lib/keystone/credential-keys
[token]
provider = fernet
"""
        },
        setup=(
            "keystone-manage db_sync",
            "keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone",
            "keystone-manage credential_setup --keystone-user keystone --keystone-group keystone",
            f"keystone-manage bootstrap --bootstrap-password {ADMIN_PASSWORD}"
            " --bootstrap-admin-url http://127.0.0.1:{port}/v3"
            " --bootstrap-internal-url http://127.0.0.1:{port}/v3"
            " --bootstrap-public-url http://127.0.0.1:{port}/v3"
            " --bootstrap-region-id RegionOne",
        ),
    )


def authtoken(keystone: str, user: str, password: str, memcache: str) -> str:
    """keystonemiddleware's section for a service user of project ``service``."""
    return f"""\
[keystone_authtoken]
www_authenticate_uri = {keystone}/v3
auth_url = {keystone}/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {user}
password = {password}
memcached_servers = {memcache}
region_name = RegionOne
service_token_roles_required = true
"""


@dataclass(frozen=True)
class Identity:
    """What keystone holds for the scenario: its URL, the admin's connection, the passwords."""

    url: str
    admin: Connection
    passwords: dict[str, str]

    def connect(self, user: str, project: str = "service") -> Connection:
        """A new openstacksdk connection as ``user`` (its token has the catalog as it is now)."""
        return connect(self.url, user, self.passwords[user], project)

    def role(self, name: str) -> str:
        keystone = clients.identity(self.admin)
        return str((keystone.find_role(name) or keystone.create_role(name=name)).id)

    def grant(self, project: str, user: str, role: str) -> None:
        clients.identity(self.admin).assign_project_role_to_user(project, user, self.role(role))

    def endpoint(self, kind: str, name: str, url: str) -> None:
        """A service of type ``kind`` with its public and internal endpoints at ``url``; the
        admin's next request re-authenticates, so its catalog has them."""
        keystone = clients.identity(self.admin)
        service = keystone.create_service(type=kind, name=name)
        for interface in ("public", "internal"):
            keystone.create_endpoint(
                service_id=service.id, interface=interface, url=url, region_id=clients.REGION
            )
        self.admin.session.invalidate()


def cloud_identity(url: str, services: tuple[str, ...]) -> Identity:
    """A ``service`` project with a user per service (admin and service roles), and a
    ``demo`` project with a ``demo`` user (member)."""
    admin = connect(url, "admin", ADMIN_PASSWORD, "admin")
    identity = Identity(url=url, admin=admin, passwords={})
    keystone = clients.identity(identity.admin)
    service_project = keystone.create_project(name="service", domain_id="default")
    for name in services:
        password = uuid.uuid4().hex
        user = keystone.create_user(name=name, password=password, domain_id="default")
        identity.grant(service_project.id, user.id, "admin")
        identity.grant(service_project.id, user.id, "service")
        identity.passwords[name] = password
    demo_project = keystone.create_project(name="demo", domain_id="default")
    password = uuid.uuid4().hex
    demo = keystone.create_user(name="demo", password=password, domain_id="default")
    identity.grant(demo_project.id, demo.id, "member")
    identity.passwords["demo"] = password
    return identity


def placement_service(db_url: str, auth: str) -> Service:
    return Service(
        name="placement",
        user="placement",
        uid=42482,
        wsgi="placement.wsgi.api:application",
        files={
            "placement.conf": f"""\
[api]
auth_strategy = keystone
[placement_database]
connection = {db_url}
{auth}"""
        },
        setup=("placement-manage db sync",),
    )


def glance_service(db_url: str, auth: str) -> Service:
    return Service(
        name="glance",
        user="glance",
        uid=42415,
        wsgi="glance.wsgi.api:application",
        files={
            "glance-api.conf": f"""\
[DEFAULT]
node_staging_uri = file:///var/lib/glance/staging
[database]
connection = {db_url}
[paste_deploy]
flavor = keystone
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = /var/lib/glance/images/
{auth}"""
        },
        setup=(
            "mkdir -p /var/lib/glance/images /var/lib/glance/staging",
            "glance-manage --config-file /etc/glance/glance-api.conf db_sync",
        ),
    )


def tables(db: MariaDB, name: str) -> set[str]:
    return set(db.sql(f"SHOW TABLES FROM `{name}`").split())


@pytest.mark.service("keystone")
@pytest.mark.service("placement")
@pytest.mark.service("glance")
def test_keystone_placement_and_glance_on_mariadb_behind_keystone(
    images: dict[str, str], workdir: Path, backing: Backing
) -> None:
    db, memcache = backing.db, backing.memcache
    keystone_db = db.database("keystone")
    with serve(keystone_service(keystone_db, memcache), images["keystone"], workdir / "ks") as ks:
        identity = cloud_identity(ks.url, ("placement", "glance"))
        # Migrated on MariaDB by keystone-manage db_sync.
        assert {"project", "user", "role", "endpoint"} <= tables(db, "keystone")

        auth = authtoken(ks.url, "placement", identity.passwords["placement"], memcache)
        placement_svc = placement_service(db.database("placement"), auth)
        auth = authtoken(ks.url, "glance", identity.passwords["glance"], memcache)
        glance_svc = glance_service(db.database("glance"), auth)
        with (
            serve(placement_svc, images["placement"], workdir / "placement") as placement,
            serve(glance_svc, images["glance"], workdir / "glance") as glance,
        ):
            identity.endpoint("placement", "placement", placement.url)
            identity.endpoint("image", "glance", glance.url)
            assert {"resource_providers", "inventories"} <= tables(db, "placement")
            assert {"images", "image_locations"} <= tables(db, "glance")
            _placement_keeps_an_inventory(identity, placement)
            _a_user_uploads_an_image(identity, glance, workdir / "glance")


def _placement_keeps_an_inventory(identity: Identity, placement: Served) -> None:
    """As placement's service user, through keystone: a provider and its inventory."""
    sess = password_session(identity.url, "placement", identity.passwords["placement"], "service")
    headers = {"OpenStack-API-Version": "placement 1.20"}
    refused = session.Session().get(f"{placement.url}/resource_providers", raise_exc=False)
    assert refused.status_code == 401, placement.logs()
    created = sess.post(
        f"{placement.url}/resource_providers",
        json={"name": "cloud-compute"},
        headers=headers,
        raise_exc=False,
    )
    assert created.status_code == 200, f"{created.text}\n{placement.logs()}"
    provider = created.json()
    url = f"{placement.url}/resource_providers/{provider['uuid']}/inventories"
    inventory = {"VCPU": {"total": 8}, "MEMORY_MB": {"total": 16384, "reserved": 512}}
    put = sess.put(
        url,
        json={"resource_provider_generation": 0, "inventories": inventory},
        headers=headers,
        raise_exc=False,
    )
    assert put.status_code == 200, f"{put.text}\n{placement.logs()}"
    read = sess.get(url, headers=headers).json()["inventories"]
    assert read["VCPU"]["total"] == 8 and read["MEMORY_MB"]["reserved"] == 512


def _a_user_uploads_an_image(identity: Identity, glance: Served, state: Path) -> None:
    """As ``demo`` of project ``demo``, through openstacksdk: an image created, uploaded, read
    back, deleted."""
    demo = identity.connect("demo", "demo")
    glance_v2 = clients.image(demo)
    payload = os.urandom(2 * 1024 * 1024 + 5)
    image = glance_v2.create_image(
        "cloud", data=payload, disk_format="raw", container_format="bare", wait=True
    )
    assert image.visibility == "shared" and image.owner == demo.current_project_id
    shown = glance_v2.get_image(image)
    assert shown.status == "active", glance.logs()
    assert shown.hash_value == hashlib.sha512(payload).hexdigest()
    assert glance_v2.download_image(image).content == payload  # its hash checked too
    # The admin (of another project) lists it too; deleting it removes the bytes.
    assert image.id in {i.id for i in clients.image(identity.admin).images()}
    glance_v2.delete_image(image, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        glance_v2.get_image(image.id)
    assert not (state / "state" / "images" / image.id).exists()


def test_the_backing_services_start_and_leave_nothing() -> None:
    """RabbitMQ (what nova, neutron, cinder and heat talk over) starts privately with a vhost
    and user, and stops with its epmd; MariaDB's and memcached's daemons end too."""
    before = _daemons()
    with rabbitmq() as rabbit:
        assert rabbit.url.startswith("rabbit://cloud:") and rabbit.url.endswith("/cloud")
        assert "cloud" in rabbit.ctl("list_vhosts").split()
        with mariadb() as db:
            db.database("probe")
            assert "probe" in db.sql("SHOW DATABASES").split()
    assert _daemons() == before
    assert not rabbit.folder.exists() and not db.folder.exists()


def _daemons() -> set[str]:
    """The PIDs of the backing daemons running now (the host's own included; exited ones
    not yet reaped, zombies, are not running)."""
    out = subprocess.run(
        ["pgrep", "-f", "beam.smp|epmd|mariadbd|memcached"], capture_output=True, text=True
    )
    running = set()
    for pid in out.stdout.split():
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                running.add(pid)
    return running
