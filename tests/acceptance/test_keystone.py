"""keystone served from its image issues a token and lists projects (keystoneauth1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from keystoneauth1 import exceptions, session
from keystoneauth1.identity import v3

from tests.acceptance.serving import Service, serve

PASSWORD = "acceptance-admin-secret"
KEYSTONE = Service(
    name="keystone",
    user="keystone",
    uid=42425,
    wsgi="keystone.wsgi.api:application",
    files={
        "keystone.conf": """\
[database]
connection = sqlite:////var/lib/keystone/keystone.db
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
        f"keystone-manage bootstrap --bootstrap-password {PASSWORD}"
        " --bootstrap-admin-url http://127.0.0.1:{port}/v3"
        " --bootstrap-public-url http://127.0.0.1:{port}/v3"
        " --bootstrap-region-id RegionOne",
    ),
    ready_path="/v3",
)


def admin_authtoken(keystone: str) -> str:
    """The ``[keystone_authtoken]`` section of a service validating tokens against the
    keystone at ``keystone``, with its admin as the service user. keystone's bootstrap makes
    public and admin endpoints; the middleware would ask for internal."""
    return f"""\
[keystone_authtoken]
www_authenticate_uri = {keystone}/v3
auth_url = {keystone}/v3
auth_type = password
interface = public
username = admin
password = {PASSWORD}
project_name = admin
user_domain_id = default
project_domain_id = default"""


def admin_session(url: str, password: str = PASSWORD) -> session.Session:
    auth = v3.Password(
        auth_url=f"{url}/v3",
        username="admin",
        password=password,
        project_name="admin",
        user_domain_id="default",
        project_domain_id="default",
    )
    return session.Session(auth=auth)


@pytest.mark.service("keystone")
def test_keystone_issues_a_token_and_lists_projects(images: dict[str, str], workdir: Path) -> None:
    with serve(KEYSTONE, images["keystone"], workdir) as keystone:
        sess = admin_session(keystone.url)
        token = sess.get_token()
        assert token and len(token) > 100  # a fernet token
        projects = sess.get(f"{keystone.url}/v3/projects").json()["projects"]
        assert "admin" in {p["name"] for p in projects}
        # The token validates, and a wrong password is refused.
        check = sess.get(f"{keystone.url}/v3/auth/tokens", headers={"X-Subject-Token": token})
        assert check.json()["token"]["user"]["name"] == "admin"
        with pytest.raises(exceptions.Unauthorized):
            admin_session(keystone.url, password="wrong").get_token()
