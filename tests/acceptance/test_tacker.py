"""tacker served from its image: the versions documents, and a no-auth VNF lifecycle
subscription created (tacker tests its notification endpoint first) and listed."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve

TACKER = Service(
    name="tacker",
    user="tacker",
    uid=42446,
    # tacker 15.0.0 ships no WSGI module (nor script): operators (kolla, openstack-helm,
    # devstack) run its eventlet tacker-server, so the last set-up step execs that in uwsgi's
    # place, bound where the test listens.
    wsgi="",
    # The image's /etc/tacker/api-paste.ini (from etc/tacker) stays beside this file: its
    # pipelines follow auth_strategy; noauth gives an admin context.
    files={
        "tacker.conf": """\
[DEFAULT]
auth_strategy = noauth
bind_host = 127.0.0.1
bind_port = {port}
state_path = /var/lib/tacker
transport_url = fake://
[database]
connection = sqlite:////var/lib/tacker/tacker.db
[glance_store]
filesystem_store_datadir = /var/lib/tacker/csar_files
[oslo_concurrency]
lock_path = /var/lib/tacker/lock
[vim_keys]
openstack = /var/lib/tacker/vim/fernet_keys
[vnf_package]
vnf_package_csar_path = /var/lib/tacker/vnfpackages
"""
    },
    # tacker's migrations do not run on SQLite (ALTER COLUMN); like its unit tests, create
    # the schema from the models (all of them, as of the head), then stamp it as the head.
    setup=(
        "python -c 'import sqlalchemy as sa; from tacker.db.migration.models import head;"
        " head.model_base.BASE.metadata.create_all("
        'sa.create_engine("sqlite:////var/lib/tacker/tacker.db"))\'',
        "tacker-db-manage --config-file /etc/tacker/tacker.conf stamp head",
        # tacker-server's VNFM plugin reads the VNFs as it starts on a session it never ends:
        # harmless on MySQL, but on SQLite that open read transaction fails every later write
        # ("database is locked") unless the database is in WAL mode, where readers do not
        # block writers (the mode is stored in the database file).
        "python -c 'import sqlite3;"
        ' sqlite3.connect("/var/lib/tacker/tacker.db").execute("PRAGMA journal_mode=WAL")\'',
        "exec tacker-server --config-file /etc/tacker/tacker.conf",
    ),
)


@contextlib.contextmanager
def subscriber() -> Iterator[tuple[str, list[str]]]:
    """A subscriber's notification endpoint on 127.0.0.1 (tacker runs on the host's network),
    answering GET with 204 as tacker's test of it expects: its URL, and the paths called."""
    calls: list[str] = []

    class Callback(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/notify", calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.full_stack
@pytest.mark.service("tacker")
def test_tacker_serves_versions_and_keeps_a_lifecycle_subscription(
    images: dict[str, str], workdir: Path
) -> None:
    with subscriber() as (callback, calls), serve(TACKER, images["tacker"], workdir) as tacker:
        root = requests.get(tacker.url, timeout=30)
        assert root.status_code == 200, tacker.logs()
        assert "v1.0" in {v["id"] for v in root.json()["versions"]}, tacker.logs()
        versions = requests.get(f"{tacker.url}/vnflcm/v2/api_versions", timeout=30)
        assert versions.status_code == 200, tacker.logs()
        assert versions.json()["uriPrefix"] == "/vnflcm/v2", tacker.logs()
        # The ETSI SOL003 VNF lifecycle management API (v2): its requests name their version.
        subscriptions = f"{tacker.url}/vnflcm/v2/subscriptions"
        sol = {"Version": "2.0.0"}
        created = requests.post(
            subscriptions, json={"callbackUri": callback}, headers=sol, timeout=30
        )
        assert created.status_code == 201, created.text + tacker.logs()
        subscription = created.json()
        assert subscription["callbackUri"] == callback
        assert calls == ["/notify"], tacker.logs()  # tacker tested the endpoint first
        listed = requests.get(subscriptions, headers=sol, timeout=30)
        assert listed.status_code == 200, tacker.logs()
        assert [(s["id"], s["verbosity"]) for s in listed.json()] == [(subscription["id"], "FULL")]
