"""masakari served from its image: the versions document, and a no-auth failover segment
created and listed."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

MASAKARI = Service(
    name="masakari",
    user="masakari",
    uid=42485,
    wsgi="masakari.wsgi.api:application",
    # The image's /etc/masakari/api-paste.ini (from etc/masakari) stays beside this file:
    # its v1 pipeline follows auth_strategy; noauth2 gives an admin context.
    files={
        "masakari.conf": """\
[DEFAULT]
auth_strategy = noauth2
transport_url = fake://
[database]
connection = sqlite:////var/lib/masakari/masakari.db
# The engine's taskflow persistence (db sync creates its tables too).
[taskflow]
connection = sqlite:////var/lib/masakari/taskflow.db
"""
    },
    setup=("masakari-manage --config-file /etc/masakari/masakari.conf db sync",),
)


@pytest.mark.full_stack
@pytest.mark.service("masakari")
def test_masakari_serves_versions_and_keeps_a_failover_segment(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(MASAKARI, images["masakari"], workdir) as masakari:
        root = requests.get(masakari.url, timeout=30)
        assert root.status_code == 200, masakari.logs()
        assert "v1.0" in {v["id"] for v in root.json()["versions"]}, masakari.logs()
        segments = requests.get(f"{masakari.url}/v1/segments", timeout=30)
        assert segments.status_code == 200, masakari.logs()
        assert segments.json()["segments"] == []
        created = requests.post(
            f"{masakari.url}/v1/segments",
            json={
                "segment": {
                    "name": "acceptance",
                    "recovery_method": "auto",
                    "service_type": "COMPUTE",
                }
            },
            timeout=30,
        )
        assert created.status_code == 201, masakari.logs()
        segment = created.json()["segment"]
        assert segment["name"] == "acceptance"
        listed = requests.get(f"{masakari.url}/v1/segments", timeout=30)
        assert listed.status_code == 200, masakari.logs()
        assert [(s["uuid"], s["recovery_method"]) for s in listed.json()["segments"]] == [
            (segment["uuid"], "auto")
        ]
