"""mistral served from its image: the versions document, and a workflow created and listed
without keystone."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

MISTRAL = Service(
    name="mistral",
    user="mistral",
    uid=42430,
    wsgi="mistral.wsgi:application",
    files={
        "mistral.conf": """\
[DEFAULT]
transport_url = fake://
[database]
connection = sqlite:////var/lib/mistral/mistral.db
[pecan]
auth_enable = false
"""
    },
    # mistral's migrations are for MySQL and PostgreSQL; on SQLite its install guide creates
    # the schema from the models (tools/sync_db.py, not installed): do the same, stamp it as
    # the head, then populate (the standard actions and workflows), as the guide says.
    setup=(
        "python -c 'from mistral import config; from mistral.db.v2 import api;"
        " config.parse_args(args=[]); api.setup_db()'",
        "mistral-db-manage --config-file /etc/mistral/mistral.conf stamp head",
        "mistral-db-manage --config-file /etc/mistral/mistral.conf populate",
    ),
)
WORKFLOW = """\
version: '2.0'
acceptance_echo:
  type: direct
  input:
    - message
  tasks:
    echo:
      action: std.echo output=<% $.message %>
"""


@pytest.mark.full_stack
@pytest.mark.service("mistral")
def test_mistral_serves_versions_and_keeps_a_workflow(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(MISTRAL, images["mistral"], workdir) as mistral:
        root = requests.get(mistral.url, timeout=30)
        assert root.status_code == 200, mistral.logs()
        assert "v2.0" in {v["id"] for v in root.json()["versions"]}, mistral.logs()
        created = requests.post(
            f"{mistral.url}/v2/workflows",
            data=WORKFLOW,
            headers={"Content-Type": "text/plain"},
            timeout=30,
        )
        assert created.status_code == 201, created.text + mistral.logs()
        (workflow,) = created.json()["workflows"]
        assert workflow["name"] == "acceptance_echo"
        assert workflow["input"] == "message"
        # Without keystone, everything belongs to mistral's default project.
        assert workflow["project_id"] == "<default-project>"
        listed = requests.get(f"{mistral.url}/v2/workflows", timeout=30)
        assert listed.status_code == 200, mistral.logs()
        assert workflow["id"] in {w["id"] for w in listed.json()["workflows"]}
        shown = requests.get(f"{mistral.url}/v2/workflows/{workflow['id']}", timeout=30)
        assert shown.status_code == 200, mistral.logs()
        assert "std.echo output=<% $.message %>" in shown.json()["definition"]
