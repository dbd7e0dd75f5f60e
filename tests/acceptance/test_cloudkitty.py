"""cloudkitty served from its image: the versions document, its rating modules, and a
hashmap service created and read back through the no-auth pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

CLOUDKITTY = Service(
    name="cloudkitty",
    user="cloudkitty",
    uid=42408,
    wsgi="cloudkitty.wsgi.api:application",
    # Rating configuration lives in the SQL database; the rated-data storage (v2, InfluxDB
    # by default) is only reached by the processor and the report calls, not used here.
    files={
        "cloudkitty.conf": """\
[DEFAULT]
auth_strategy = noauth
transport_url = fake://
[database]
connection = sqlite:////var/lib/cloudkitty/cloudkitty.db
[oslo_concurrency]
lock_path = /var/lib/cloudkitty/lock
"""
    },
    # cloudkitty's own schema migrates on SQLite; its rating modules' (hashmap, pyscripts)
    # latest migrations read the table they just altered through a second connection, which
    # on SQLite does not see the uncommitted change ("no such column: ...created_at"). As the
    # octavia test does: those two from their models, stamped as their heads.
    setup=(
        "cloudkitty-dbsync upgrade --module cloudkitty",
        "python -c 'import sqlalchemy as sa;"
        " from cloudkitty.rating.hash.db.sqlalchemy import models as hashmap;"
        " from cloudkitty.rating.pyscripts.db.sqlalchemy import models as pyscripts;"
        ' engine = sa.create_engine("sqlite:////var/lib/cloudkitty/cloudkitty.db");'
        " hashmap.Base.metadata.create_all(engine);"
        " pyscripts.Base.metadata.create_all(engine)'",
        "cloudkitty-dbsync stamp --module hashmap --revision head",
        "cloudkitty-dbsync stamp --module pyscripts --revision head",
    ),
)
HASHMAP = "/v1/rating/module_config/hashmap"


@pytest.mark.full_stack
@pytest.mark.service("cloudkitty")
def test_cloudkitty_serves_versions_and_keeps_a_hashmap_service(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(CLOUDKITTY, images["cloudkitty"], workdir) as cloudkitty:
        versions = requests.get(cloudkitty.url, timeout=30)
        assert versions.status_code == 200, cloudkitty.logs()
        assert {"v1", "v2"} <= {v["id"] for v in versions.json()["versions"]}, versions.text
        modules = requests.get(f"{cloudkitty.url}/v1/rating/modules", timeout=30)
        assert modules.status_code == 200, cloudkitty.logs()
        loaded = {m["module_id"]: m for m in modules.json()["modules"]}
        assert {"hashmap", "noop", "pyscripts"} <= set(loaded), modules.text
        # Enabling a module is kept in the database.
        enabled = requests.put(
            f"{cloudkitty.url}/v1/rating/modules/hashmap",
            json={"module_id": "hashmap", "enabled": True},
            allow_redirects=False,
            timeout=30,
        )
        assert enabled.status_code == 302, cloudkitty.logs()
        hashmap = requests.get(f"{cloudkitty.url}/v1/rating/modules/hashmap", timeout=30)
        assert hashmap.json()["enabled"] is True, cloudkitty.logs()

        created = requests.post(
            f"{cloudkitty.url}{HASHMAP}/services", json={"name": "instance"}, timeout=30
        )
        assert created.status_code == 201, cloudkitty.logs()
        service_id = created.json()["service_id"]
        services = requests.get(f"{cloudkitty.url}{HASHMAP}/services", timeout=30)
        assert services.status_code == 200, cloudkitty.logs()
        assert services.json()["services"] == [{"service_id": service_id, "name": "instance"}]
        again = requests.post(
            f"{cloudkitty.url}{HASHMAP}/services", json={"name": "instance"}, timeout=30
        )
        assert again.status_code == 409, cloudkitty.logs()
