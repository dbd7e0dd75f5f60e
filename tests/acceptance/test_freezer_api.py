"""freezer-api served from its image: its v2 home document, and a client registered and listed
back through a no-auth paste pipeline (its SQL storage on SQLite).

Its root versions document is not checked: freezer-api 18.0.0 sets falcon's ``resp.data`` to a
str there (freezer_api/api/versions.py), which falcon 4 (upper-constraints: 4.2.0) passes on
as is: uwsgi logs "Unhandled object from iterator" and sends the headers (Content-Length
included) with no body, so a client waits until it times out. An upstream bug."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

# The shipped freezer-paste.ini with authtoken taken out of the `api` pipeline: what an operator
# without keystone writes (the shipped `unauthenticated_freezer_api` names an app, freezer_app,
# that the file does not define). Identity then comes from the request's X-* headers.
PASTE = """\
[app:api_versions]
paste.app_factory = freezer_api.api.versions:api_versions

[app:appv1]
paste.app_factory = freezer_api.service:freezer_appv1_factory

[app:appv2]
paste.app_factory = freezer_api.service:freezer_appv2_factory

[app:healthcheck]
paste.app_factory = oslo_middleware:Healthcheck.app_factory
backends = disable_by_file
disable_by_file_path = /etc/freezer/healthcheck_disable

[filter:context]
paste.filter_factory = freezer_api.api.common.middleware:ContextMiddleware.factory

[filter:versionsNegotiator]
paste.filter_factory = freezer_api.api.versions:VersionNegotiator.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory

[composite:main]
use = egg:Paste#urlmap
/healthcheck = healthcheck
/ = api

[pipeline:api]
pipeline = http_proxy_to_wsgi versionsNegotiator context backupapp

[composite:backupapp]
paste.composite_factory = freezer_api.service:root_app_factory
/: api_versions
/v1: appv1
/v2: appv2
"""
# freezer-api reads /etc/freezer (the catalog's `etc`), state in the freezer user's home.
FREEZER_API = Service(
    name="freezer",
    user="freezer",
    uid=42414,
    wsgi="freezer_api.wsgi:application",
    files={
        "freezer-api.conf": """\
[storage]
backend = sqlalchemy
driver = sqlalchemy
[database]
connection = sqlite:////var/lib/freezer/freezer.db
""",
        "freezer-paste.ini": PASTE,
    },
    setup=("freezer-manage db sync",),
    ready_path="/healthcheck",
)
PROJECT = "acceptance-project"
# What keystonemiddleware's authtoken would have set: freezer's context filter requires it.
IDENTITY = {
    "X-Identity-Status": "Confirmed",
    "X-User-Id": "acceptance-user",
    "X-Project-Id": PROJECT,
    "X-Roles": "admin",
}


@pytest.mark.full_stack
@pytest.mark.service("freezer-api")
def test_freezer_api_serves_versions_and_registers_a_client(
    images: dict[str, str], workdir: Path
) -> None:
    with serve(FREEZER_API, images["freezer-api"], workdir) as api:
        health = requests.get(f"{api.url}/healthcheck", timeout=30)
        assert health.status_code == 200, api.logs()
        home = requests.get(f"{api.url}/v2/", headers=IDENTITY, timeout=30)
        assert home.status_code == 200, f"{home.status_code} {home.text}\n{api.logs()}"
        assert home.headers["Content-Type"] == "application/json-home"
        assert "rel/backups" in home.json()["resources"], home.text
        clients = f"{api.url}/v2/{PROJECT}/clients"
        doc = {"client_id": "acceptance-node", "hostname": "acceptance-node"}
        made = requests.post(clients, json=doc, headers=IDENTITY, timeout=30)
        assert made.status_code == 201, f"{made.status_code} {made.text}\n{api.logs()}"
        assert made.json()["client_id"] == "acceptance-node"
        listed = requests.get(clients, headers=IDENTITY, timeout=30)
        assert listed.status_code == 200, f"{listed.status_code} {listed.text}\n{api.logs()}"
        (client,) = listed.json()["clients"]
        assert client["client"]["hostname"] == "acceptance-node", listed.text
        assert (client["project_id"], client["user_id"]) == (PROJECT, "acceptance-user")
    assert (workdir / "state/freezer.db").stat().st_size > 0
