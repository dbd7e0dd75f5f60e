"""swift served from its image: rings built with its swift-ring-builder, the proxy, account,
container and object servers in one container on loopback; /info, and an object PUT and GET
back through a no-auth proxy pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, free_port, start, wait_for_http

SWIFT_CONF = """\
[swift-hash]
swift_hash_path_prefix = acceptance-prefix
swift_hash_path_suffix = acceptance-suffix

[storage-policy:0]
name = Policy-0
default = yes
"""
# One device (a folder in the state folder: no mount point to check) for the three rings.
DEVICES = """\
devices = /var/lib/swift/node
mount_check = false
"""
# No auth middleware in the pipeline: every request is allowed, as on a no-auth proxy.
PROXY = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 1

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging listing_formats copy dlo slo \
proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:dlo]
use = egg:swift#dlo

[filter:slo]
use = egg:swift#slo
"""
KINDS = ("account", "container", "object")


def backend(kind: str, port: int) -> str:
    """The configuration of one storage server (account, container or object) on ``port``."""
    return f"""\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 1
{DEVICES}
[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""


def swift(ports: dict[str, int]) -> Service:
    """swift with its storage servers on ``ports`` (by ring) and the proxy on ``{port}``."""
    rings = []
    for kind, port in ports.items():
        builder = f"/etc/swift/{kind}.builder"
        rings += [
            f"swift-ring-builder {builder} create 10 1 1",
            f"swift-ring-builder {builder} add r1z1-127.0.0.1:{port}/d1 100",
            f"swift-ring-builder {builder} rebalance",
        ]
    servers = [f"swift-{kind}-server /etc/swift/{kind}-server.conf --verbose &" for kind in ports]
    # The proxy starts once its storage servers listen.
    listening = [
        f"until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 0.2; done"
        for port in ports.values()
    ]
    return Service(
        name="swift",
        user="swift",
        uid=42445,
        wsgi="",  # swift's servers are their own (eventlet) servers
        files={
            "swift.conf": SWIFT_CONF,
            "proxy-server.conf": PROXY,
            **{f"{kind}-server.conf": backend(kind, port) for kind, port in ports.items()},
        },
        # The rings, as an operator builds them: in /etc/swift (the image's, swift's own).
        setup=("mkdir -p /var/lib/swift/node/d1", *rings, *servers, *listening),
    )


@pytest.mark.full_stack
@pytest.mark.service("swift")
def test_swift_serves_info_and_stores_an_object(images: dict[str, str], workdir: Path) -> None:
    service = swift({kind: free_port() for kind in KINDS})
    command = "swift-proxy-server /etc/swift/proxy-server.conf --verbose"
    with start(service, images["swift"], workdir, command) as proxy:
        wait_for_http(proxy, "/healthcheck")
        health = requests.get(f"{proxy.url}/healthcheck", timeout=30)
        assert health.status_code == 200 and health.text == "OK", proxy.logs()
        info = requests.get(f"{proxy.url}/info", timeout=30)
        assert info.status_code == 200, proxy.logs()
        assert info.json()["swift"]["version"].startswith("2.37."), info.text
        assert "slo" in info.json(), info.text  # the pipeline's middleware report themselves
        account = f"{proxy.url}/v1/AUTH_acceptance"
        made = requests.put(f"{account}/things", timeout=30)
        assert made.status_code == 201, f"{made.status_code} {made.text}\n{proxy.logs()}"
        body = b"acceptance object body\n" * 100
        put = requests.put(f"{account}/things/greeting.txt", data=body, timeout=30)
        assert put.status_code == 201, f"{put.status_code} {put.text}\n{proxy.logs()}"
        got = requests.get(f"{account}/things/greeting.txt", timeout=30)
        assert got.status_code == 200, proxy.logs()
        assert got.content == body
        assert got.headers["Etag"] == put.headers["Etag"]
        listing = requests.get(f"{account}/things", params={"format": "json"}, timeout=30)
        assert [o["name"] for o in listing.json()] == ["greeting.txt"], listing.text
    # The object server wrote the object to the device (the state folder).
    assert list((workdir / "state/node/d1/objects").rglob("*.data")), "no object on the device"
