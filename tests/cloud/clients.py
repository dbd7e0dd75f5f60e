"""The clients the scenario drives the cloud with from the host, as a user or an operator
would: openstacksdk connections for users and the admin, keystoneauth sessions where a
service's own credentials are the natural tool.

A connection is built on a keystoneauth password session (no clouds.yaml, no ``OS_*``
variables read) and finds every service in the catalog of ``RegionOne``, on its public
endpoint. The typed proxies below pin the API versions the scenario's services serve
(identity v3, image v2, block-storage v3), so a version mix-up fails loudly.
"""

from __future__ import annotations

from keystoneauth1 import session
from keystoneauth1.identity import v3
from openstack.block_storage.v3._proxy import Proxy as BlockStorageV3
from openstack.connection import Connection
from openstack.identity.v3._proxy import Proxy as IdentityV3
from openstack.image.v2._proxy import Proxy as ImageV2

REGION = "RegionOne"


def password_session(url: str, user: str, password: str, project: str) -> session.Session:
    """A keystoneauth session as ``user`` of ``project`` (domain Default) on keystone ``url``."""
    auth = v3.Password(
        auth_url=f"{url}/v3",
        username=user,
        password=password,
        project_name=project,
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return session.Session(auth=auth)


def connect(url: str, user: str, password: str, project: str) -> Connection:
    """An openstacksdk connection as ``user`` of ``project``."""
    sess = password_session(url, user, password, project)
    return Connection(session=sess, region_name=REGION, interface="public")


def identity(conn: Connection) -> IdentityV3:
    proxy = conn.identity
    assert isinstance(proxy, IdentityV3), proxy
    return proxy


def image(conn: Connection) -> ImageV2:
    proxy = conn.image
    assert isinstance(proxy, ImageV2), proxy
    return proxy


def block_storage(conn: Connection) -> BlockStorageV3:
    proxy = conn.block_storage
    assert isinstance(proxy, BlockStorageV3), proxy
    return proxy
