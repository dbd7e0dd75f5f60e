"""manila served from its image: the versions document, and a share type created and read
back through the no-auth pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

MANILA = Service(
    name="manila",
    user="manila",
    uid=42429,
    wsgi="manila.wsgi.api:application",
    files={
        "manila.conf": """\
[DEFAULT]
auth_strategy = noauthv2
state_path = /var/lib/manila
transport_url = fake://
[database]
connection = sqlite:////var/lib/manila/manila.db
[oslo_concurrency]
lock_path = /var/lib/manila/lock
"""
    },
    # manila's migrations do not run on SQLite: the first one creates its tables from a
    # second connection while alembic's holds the database ("database is locked"). As
    # manila's own SQLite tests do: the schema from the models, stamped as the head.
    setup=(
        "python -c 'import sqlalchemy as sa; from manila.db.sqlalchemy import models;"
        " models.BASE.metadata.create_all("
        'sa.create_engine("sqlite:////var/lib/manila/manila.db"))\'',
        "manila-manage db stamp head",
    ),
)
# manila's noauthv2 pipeline takes "user:project" as the token (URLs carry no project id,
# from microversion 2.60); the caller is an admin.
HEADERS = {"X-Auth-Token": "admin:admin", "X-OpenStack-Manila-API-Version": "2.65"}


@pytest.mark.full_stack
@pytest.mark.service("manila")
def test_manila_serves_versions_and_keeps_share_types(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(MANILA, images["manila"], workdir) as manila:
        versions = requests.get(manila.url, timeout=30)
        assert versions.status_code == 300, manila.logs()
        (v2,) = [v for v in versions.json()["versions"] if v["id"] == "v2.0"]
        assert v2["status"] == "CURRENT" and v2["version"].startswith("2."), versions.text
        created = requests.post(
            f"{manila.url}/v2/types",
            json={
                "share_type": {
                    "name": "acceptance",
                    "description": "made by a test",
                    "extra_specs": {"driver_handles_share_servers": False},
                }
            },
            headers=HEADERS,
            timeout=30,
        )
        assert created.status_code == 200, manila.logs()
        share_type = created.json()["share_type"]
        assert share_type["extra_specs"] == {"driver_handles_share_servers": "False"}
        assert share_type["share_type_access:is_public"] is True
        types = requests.get(f"{manila.url}/v2/types", headers=HEADERS, timeout=30)
        assert types.status_code == 200, manila.logs()
        listed = {t["name"]: t for t in types.json()["share_types"]}
        assert listed["acceptance"]["id"] == share_type["id"], types.text
        assert listed["acceptance"]["description"] == "made by a test"
        assert listed["acceptance"]["extra_specs"] == {"driver_handles_share_servers": "False"}
        shares = requests.get(f"{manila.url}/v2/shares", headers=HEADERS, timeout=30)
        assert shares.status_code == 200, manila.logs()
        assert shares.json()["shares"] == []
