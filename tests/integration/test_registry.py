"""Push to a real registry (Debian's docker-registry on loopback) and build on a pulled base."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, orchestrate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain-HTTP registry on 127.0.0.1; yields host:port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: run ./setup-host")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "log:\n  level: error\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("docker-registry did not start")
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def tags(address: str, repository: str) -> set[str]:
    with urllib.request.urlopen(f"http://{address}/v2/{repository}/tags/list", timeout=5) as r:
        return set(json.load(r)["tags"])


def test_push_sends_every_tag_of_every_node(registry: str, state_dir: Path) -> None:
    proc = orchestrate(
        "build",
        "pipelines/keystone.yaml",
        "--push",
        "--registry",
        f"{registry}/openstack",
        "--no-tls-verify",
        state_dir=state_dir,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for node in ("base", "requirements", "keystone"):
        got = tags(registry, f"openstack/{node}")
        assert "2026.1" in got
        assert any(len(tag) == 20 for tag in got), got  # the cache-key tag


def test_base_from_a_registry_image(registry: str, state_dir: Path, tmp_path: Path) -> None:
    """A pipeline whose base is pulled (here: the base pushed above) builds keystone on it."""
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace(
        "base:\n  bootstrap: mmdebstrap\n  suite: bookworm\n",
        f"base:\n  from: {registry}/openstack/base:2026.1\n",
    )
    assert f"from: {registry}" in text
    path = tmp_path / "pulled.yaml"
    path.write_text(text)
    proc = orchestrate(
        "build", str(path), "--no-tls-verify", "--only", "requirements", state_dir=state_dir
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "base          built" in proc.stdout
    assert "requirements  built" in proc.stdout
