"""watcher served from its image: the versions document, the goals watcher-sync loaded, an
audit template created for one, and the admin policy enforced."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

WATCHER = Service(
    name="watcher",
    user="watcher",
    uid=42451,
    wsgi="watcher.wsgi.api:application",
    files={
        "watcher.conf": """\
[DEFAULT]
enable_authentication = false
transport_url = fake://
[database]
connection = sqlite:////var/lib/watcher/watcher.db
"""
    },
    # create_schema: the schema from the models, stamped as the head (ironic's way);
    # watcher-sync loads the goals and strategies the decision engine offers into the DB.
    setup=(
        "watcher-db-manage --config-file /etc/watcher/watcher.conf create_schema",
        "watcher-sync --config-file /etc/watcher/watcher.conf",
    ),
)
# Without keystone, watcher takes the caller's identity and roles from the request's headers.
ADMIN = {"X-Project-Id": "acceptance", "X-User-Id": "acceptance", "X-Roles": "admin"}
MEMBER = {**ADMIN, "X-Roles": "member"}


@pytest.mark.full_stack
@pytest.mark.service("watcher")
def test_watcher_serves_goals_and_keeps_an_audit_template(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(WATCHER, images["watcher"], workdir) as watcher:
        root = requests.get(watcher.url, timeout=30)
        assert root.status_code == 200, watcher.logs()
        assert root.json()["default_version"]["id"] == "v1", watcher.logs()
        goals = requests.get(f"{watcher.url}/v1/goals", headers=ADMIN, timeout=30)
        assert goals.status_code == 200, watcher.logs()
        names = {g["name"] for g in goals.json()["goals"]}
        assert {"dummy", "server_consolidation", "workload_balancing"} <= names, names
        refused = requests.get(f"{watcher.url}/v1/goals", headers=MEMBER, timeout=30)
        assert refused.status_code == 403, watcher.logs()
        created = requests.post(
            f"{watcher.url}/v1/audit_templates",
            json={"name": "acceptance", "goal": "dummy"},
            headers=ADMIN,
            timeout=30,
        )
        assert created.status_code == 201, created.text + watcher.logs()
        assert created.json()["goal_name"] == "dummy"
        templates = requests.get(f"{watcher.url}/v1/audit_templates", headers=ADMIN, timeout=30)
        assert templates.status_code == 200, watcher.logs()
        assert [t["name"] for t in templates.json()["audit_templates"]] == ["acceptance"]
