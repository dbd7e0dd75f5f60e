"""openstack-client (python-openstackclient) run from its image against the keystone image:
its version, and a token issued with an operator's clouds.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.serving import Service, run, serve
from tests.acceptance.test_keystone import KEYSTONE, PASSWORD


def client(keystone_url: str) -> Service:
    """The CLI with a clouds.yaml for keystone at ``keystone_url``, where openstacksdk looks
    for the site's clouds (/etc/openstack)."""
    return Service(
        name="openstack-client",
        user="openstack-client",
        uid=42498,
        wsgi="",  # a CLI: nothing to serve
        files={
            "clouds.yaml": f"""\
clouds:
  acceptance:
    auth:
      auth_url: {keystone_url}/v3
      username: admin
      password: {PASSWORD}
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
"""
        },
        paths={"clouds.yaml": "/etc/openstack/clouds.yaml"},
    )


@pytest.mark.full_stack
@pytest.mark.service("openstack-client")
@pytest.mark.service("keystone")
def test_openstack_client_issues_a_token_from_keystone(
    images: dict[str, str], workdir: Path
) -> None:
    image = images["openstack-client"]
    with serve(KEYSTONE, images["keystone"], workdir / "keystone") as keystone:
        cli = client(keystone.url)
        # The venv (/var/lib/openstack) is root's: the CLI's user cannot change it.
        owner = run(cli, image, workdir / "owner", "stat -c '%U %a' /var/lib/openstack")
        assert owner.stdout.split() == ["root", "755"], owner.stdout + owner.stderr
        version = run(cli, image, workdir / "client", "openstack --version")
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip().startswith("openstack 9.0."), version.stdout
        issued = run(
            cli, image, workdir / "client", "openstack --os-cloud acceptance token issue -f json"
        )
        assert issued.returncode == 0, f"{issued.stdout}{issued.stderr}\n{keystone.logs()}"
        token = json.loads(issued.stdout)
        assert len(token["id"]) > 100  # a fernet token
        assert token["project_id"] and token["user_id"], token
        listed = run(
            cli,
            image,
            workdir / "client",
            "openstack --os-cloud acceptance project list -f value -c Name",
        )
        assert listed.returncode == 0, f"{listed.stdout}{listed.stderr}\n{keystone.logs()}"
        assert "admin" in listed.stdout.split(), listed.stdout
