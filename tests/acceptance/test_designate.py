"""designate served from its image: the versions document, its health check, and a zone
request checked by the API's own validation (no-auth pipeline).

designate's API hands every accepted request to designate-central over the message bus, so
without a broker and central the API's own answers are the versions, the health check and
the validation of what it is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

DESIGNATE = Service(
    name="designate",
    user="designate",
    uid=42411,
    wsgi="designate.wsgi.api:application",
    files={
        "designate.conf": """\
[DEFAULT]
transport_url = fake://
state_path = /var/lib/designate
[service:api]
auth_strategy = noauth
[storage:sqlalchemy]
connection = sqlite:////var/lib/designate/designate.db
[oslo_concurrency]
lock_path = /var/lib/designate/lock
"""
    },
    setup=("designate-manage database sync",),
)


@pytest.mark.full_stack
@pytest.mark.service("designate")
def test_designate_serves_versions_and_validates_a_zone(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(DESIGNATE, images["designate"], workdir) as designate:
        versions = requests.get(designate.url, timeout=30)
        assert versions.status_code == 200, designate.logs()
        listed = {v["id"]: v for v in versions.json()["versions"]}
        assert {"v2", "v2.0", "v2.1"} <= set(listed), versions.text
        assert listed["v2"]["links"][0]["href"] == f"{designate.url}/v2", versions.text
        assert [v for v in listed.values() if v["status"] == "CURRENT"], versions.text
        health = requests.get(f"{designate.url}/healthcheck", timeout=30)
        assert health.status_code == 200, designate.logs()
        # A zone name must be a fully qualified name (a trailing dot): refused by the API.
        refused = requests.post(
            f"{designate.url}/v2/zones",
            json={"name": "example.org", "email": "hostmaster@example.org"},
            timeout=30,
        )
        assert refused.status_code == 400, designate.logs()
        error = refused.json()
        assert error["code"] == 400 and error["type"] == "invalid_object", refused.text
        assert "example.org does not end with a dot" in error["message"], refused.text
        assert error["request_id"].startswith("req-"), refused.text
    # designate-manage created the schema in the state folder (central's, the API's peer).
    assert (workdir / "state" / "designate.db").stat().st_size > 0
