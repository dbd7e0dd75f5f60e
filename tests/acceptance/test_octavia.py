"""octavia served from its image: API root and a no-auth read of the load balancers."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

OCTAVIA = Service(
    name="octavia",
    user="octavia",
    uid=42437,
    wsgi="octavia.wsgi.api:application",
    files={
        "octavia.conf": """\
[DEFAULT]
transport_url = fake://
[api_settings]
auth_strategy = noauth
[database]
connection = sqlite:////var/lib/octavia/octavia.db
# octavia sets pool defaults for MySQL; SQLite's pool takes none (as its tests do).
max_pool_size =
max_overflow =
pool_timeout =
"""
    },
    # octavia's migrations do not run on SQLite (ALTER of constraints); like its own
    # functional tests, create the schema from the models, then stamp it as the head.
    setup=(
        "python -c 'import sqlalchemy as sa; from octavia.db import base_models, models;"
        " base_models.BASE.metadata.create_all("
        'sa.create_engine("sqlite:////var/lib/octavia/octavia.db"))\'',
        "octavia-db-manage --config-file /etc/octavia/octavia.conf stamp head",
    ),
)


@pytest.mark.full_stack
@pytest.mark.service("octavia")
def test_octavia_serves_its_api_and_lists_load_balancers(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(OCTAVIA, images["octavia"], workdir) as octavia:
        root = requests.get(octavia.url, timeout=30)
        assert root.status_code == 200, octavia.logs()
        assert any(v["id"].startswith("v2") for v in root.json()["versions"])
        lbs = requests.get(f"{octavia.url}/v2/lbaas/loadbalancers", timeout=30)
        assert lbs.status_code == 200, octavia.logs()
        assert lbs.json()["loadbalancers"] == []
