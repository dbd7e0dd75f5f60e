"""magnum served from its image behind keystone: the public version documents, a call
without a token refused, and keystone-authenticated reads of cluster templates and
clusters."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from keystoneauth1 import session

from tests.acceptance.serving import Service, serve
from tests.acceptance.test_keystone import KEYSTONE, admin_authtoken, admin_session

TRUSTEE_PASSWORD = "acceptance-magnum-domain-admin-secret"


def magnum(keystone: str) -> Service:
    """magnum, its tokens checked by the keystone at ``keystone`` (magnum has no no-auth
    mode: its shipped paste pipeline always has keystonemiddleware, with ``/`` and ``/v1``
    public). Every policy check also asks keystone for the trustee domain's id, as the
    trustee domain admin: the [trust] section is required."""
    return Service(
        name="magnum",
        user="magnum",
        uid=42428,
        wsgi="magnum.wsgi.api:application",
        files={
            "magnum.conf": f"""\
[DEFAULT]
transport_url = fake://
state_path = /var/lib/magnum
[database]
connection = sqlite:////var/lib/magnum/magnum.db
{admin_authtoken(keystone)}
[trust]
trustee_domain_name = magnum
trustee_domain_admin_name = magnum_domain_admin
trustee_domain_admin_password = {TRUSTEE_PASSWORD}
[oslo_concurrency]
lock_path = /var/lib/magnum/lock
"""
        },
        # magnum's migrations do not run on SQLite (ALTER of constraints); as octavia's test
        # does, create the schema from the models, then stamp it as the head.
        setup=(
            "python -c 'import sqlalchemy as sa; from magnum.db.sqlalchemy import models;"
            " models.Base.metadata.create_all("
            'sa.create_engine("sqlite:////var/lib/magnum/magnum.db"))\'',
            "magnum-db-manage stamp head",
        ),
    )


def create_trustee_domain(sess: session.Session, keystone: str) -> None:
    """The keystone side of magnum's install guide: a ``magnum`` domain, administered by
    ``magnum_domain_admin`` (``openstack domain create``, ``user create``, ``role add``)."""
    domain = sess.post(f"{keystone}/v3/domains", json={"domain": {"name": "magnum"}})
    domain_id = domain.json()["domain"]["id"]
    user = sess.post(
        f"{keystone}/v3/users",
        json={
            "user": {
                "name": "magnum_domain_admin",
                "domain_id": domain_id,
                "password": TRUSTEE_PASSWORD,
            }
        },
    )
    roles = sess.get(f"{keystone}/v3/roles", params={"name": "admin"}).json()["roles"]
    sess.put(
        f"{keystone}/v3/domains/{domain_id}/users/{user.json()['user']['id']}"
        f"/roles/{roles[0]['id']}"
    )


@pytest.mark.full_stack
@pytest.mark.service("keystone")
@pytest.mark.service("magnum")
def test_magnum_serves_versions_and_lists_cluster_templates_with_a_token(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(KEYSTONE, images["keystone"], workdir / "keystone") as keystone:
        sess = admin_session(keystone.url)
        create_trustee_domain(sess, keystone.url)
        with serve(magnum(keystone.url), images["magnum"], workdir / "magnum") as api:
            root = requests.get(api.url, timeout=30)
            assert root.status_code == 200, api.logs()
            assert [v["id"] for v in root.json()["versions"]] == ["v1"], root.text
            v1 = requests.get(f"{api.url}/v1", timeout=30)
            assert v1.status_code == 200, api.logs()
            assert v1.json()["id"] == "v1", v1.text
            refused = requests.get(f"{api.url}/v1/clustertemplates", timeout=30)
            assert refused.status_code == 401, api.logs()
            assert refused.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}/v3"'

            auth = {
                "X-Auth-Token": sess.get_token(),
                "OpenStack-API-Version": "container-infra latest",
            }
            templates = requests.get(f"{api.url}/v1/clustertemplates", headers=auth, timeout=30)
            assert templates.status_code == 200, api.logs()
            assert templates.json()["clustertemplates"] == []
            clusters = requests.get(f"{api.url}/v1/clusters", headers=auth, timeout=30)
            assert clusters.status_code == 200, api.logs()
            assert clusters.json()["clusters"] == []
