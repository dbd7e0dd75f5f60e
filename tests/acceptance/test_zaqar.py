"""zaqar served from its image: the versions document, and a message posted to a queue and read
back, without keystone.

zaqar cannot serve on SQLite alone: SQLite only backs its management store (queues, pools,
flavors); messages need a message store (redis, mongodb or swift), which zaqar connects to as
it starts. The test runs the host's redis-server (Debian's ``redis-server`` package) on a
private port for the length of the test.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, free_port, serve


def zaqar(redis_port: int) -> Service:
    return Service(
        name="zaqar",
        user="zaqar",
        uid=42452,
        wsgi="zaqar.transport.wsgi.app:application",
        # auth_strategy is empty by default: no keystone, the project comes from the headers.
        files={
            "zaqar.conf": f"""\
[drivers]
transport = wsgi
message_store = redis
management_store = sqlalchemy
[drivers:message_store:redis]
uri = redis://127.0.0.1:{redis_port}
[drivers:management_store:sqlalchemy]
uri = sqlite:////var/lib/zaqar/zaqar.db
"""
        },
        # zaqar's migrations are for MySQL (ALTER TABLE ... CHANGE COLUMN); as its own SQL
        # tests do, create the schema from the tables, then stamp it as the head.
        setup=(
            "python -c 'import sqlalchemy as sa; from zaqar.storage.sqlalchemy import tables;"
            " tables.metadata.create_all("
            'sa.create_engine("sqlite:////var/lib/zaqar/zaqar.db"))\'',
            "zaqar-sql-db-manage --config-file /etc/zaqar/zaqar.conf stamp head",
        ),
    )


@contextlib.contextmanager
def redis(folder: Path) -> Iterator[int]:
    """A throwaway redis-server on 127.0.0.1 (no persistence), stopped when the block ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("zaqar's test needs redis-server on the host: apt-get install redis-server")
    folder.mkdir(parents=True)
    port = free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(folder), "--daemonize", "no"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.full_stack
@pytest.mark.service("zaqar")
def test_zaqar_serves_versions_and_delivers_a_message(
    images: dict[str, str], workdir: Path
) -> None:
    client = {"Client-ID": str(uuid.uuid4()), "X-Project-ID": "acceptance"}
    with (
        redis(workdir / "redis") as redis_port,
        serve(zaqar(redis_port), images["zaqar"], workdir / "zaqar") as served,
    ):
        root = requests.get(served.url, timeout=30)
        assert root.status_code == 300, served.logs()
        assert [v["id"] for v in root.json()["versions"]] == ["2"], served.logs()
        queue = f"{served.url}/v2/queues/acceptance"
        created = requests.put(queue, json={"_ttl": 600}, headers=client, timeout=30)
        assert created.status_code == 201, created.text + served.logs()
        queues = requests.get(f"{served.url}/v2/queues", headers=client, timeout=30)
        assert queues.status_code == 200, served.logs()
        assert [q["name"] for q in queues.json()["queues"]] == ["acceptance"]
        posted = requests.post(
            f"{queue}/messages",
            json={"messages": [{"ttl": 300, "body": {"event": "acceptance"}}]},
            headers=client,
            timeout=30,
        )
        assert posted.status_code == 201, posted.text + served.logs()
        (resource,) = posted.json()["resources"]
        listed = requests.get(f"{queue}/messages?echo=true", headers=client, timeout=30)
        assert listed.status_code == 200, listed.text + served.logs()
        (message,) = listed.json()["messages"]
        assert message["body"] == {"event": "acceptance"}
        assert resource.endswith(message["id"])
