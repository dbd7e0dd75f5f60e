"""glance served from its image stores an uploaded image and returns the same bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

GLANCE = Service(
    name="glance",
    user="glance",
    uid=42415,
    wsgi="glance.wsgi.api:application",
    # No keystone: glance's default paste pipeline gives an unauthenticated admin context;
    # its roles are empty, so the policy's deprecated rules are the ones that apply.
    files={
        "glance-api.conf": """\
[DEFAULT]
node_staging_uri = file:///var/lib/glance/staging
[database]
connection = sqlite:////var/lib/glance/glance.db
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = /var/lib/glance/images/
[oslo_policy]
enforce_new_defaults = false
"""
    },
    setup=(
        "mkdir -p /var/lib/glance/images /var/lib/glance/staging",
        "glance-manage --config-file /etc/glance/glance-api.conf db_sync",
    ),
)


@pytest.mark.full_stack
@pytest.mark.service("glance")
def test_glance_stores_an_image_and_returns_the_same_bytes(
    images: dict[str, str], workdir: Path
) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    with serve(GLANCE, images["glance"], workdir) as glance:
        created = requests.post(
            f"{glance.url}/v2/images",
            json={"name": "acceptance", "disk_format": "raw", "container_format": "bare"},
            timeout=30,
        )
        assert created.status_code == 201, glance.logs()
        image_id = created.json()["id"]
        upload = requests.put(
            f"{glance.url}/v2/images/{image_id}/file",
            data=payload,
            headers={"Content-Type": "application/octet-stream"},
            timeout=60,
        )
        assert upload.status_code == 204, glance.logs()
        shown = requests.get(f"{glance.url}/v2/images/{image_id}", timeout=30).json()
        assert shown["status"] == "active"
        assert shown["size"] == len(payload)
        assert shown["os_hash_value"] == hashlib.sha512(payload).hexdigest()
        download = requests.get(f"{glance.url}/v2/images/{image_id}/file", timeout=60)
        assert download.status_code == 200
        assert download.content == payload
        # The bytes live in the file store, under the state folder the operator mounted.
        assert (workdir / "state" / "images" / image_id).stat().st_size == len(payload)
