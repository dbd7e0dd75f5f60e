"""Integration fixtures: real buildah, a private state dir, and a check for leftovers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine import buildah, leftovers
from orchestrator.engine.naming import run_of
from orchestrator.engine.runner import ShRunner
from orchestrator.execution.buildah_executor import STARTUP_RETRIES
from tests.registry_server import TlsRegistry, free_port

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _needs_buildah() -> None:
    missing = [tool for tool in ("buildah", "mmdebstrap") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.fail(
            f"integration tests need root and {', '.join(missing) or 'buildah'}: "
            "run ./setup-host first, as root"
        )


@pytest.fixture(scope="session")
def state_dir(build_state_dir: Path) -> Path:
    """The session's state dir, shared with the acceptance tests (tests/conftest.py)."""
    return build_state_dir


@pytest.fixture(scope="session")
def site_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The session's provenance key (Ed25519, PEM): (private key, public key)."""
    folder = tmp_path_factory.mktemp("site-key")
    key, pub = folder / "provenance.key", folder / "provenance.pub"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, pub


@pytest.fixture(scope="session")
def keystone_run(
    state_dir: Path, tmp_path_factory: pytest.TempPathFactory, site_key: tuple[Path, Path]
) -> dict[str, object]:
    """pipelines/keystone.yaml built once per session, signing the provenance of what it
    builds with the session's key; its summary document."""
    out = tmp_path_factory.mktemp("out") / "summary.json"
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--summary-json", str(out),
        "--provenance-key", str(site_key[0]), state_dir=state_dir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary: dict[str, object] = json.loads(out.read_text())
    return summary


def buildah_containers() -> set[str]:
    out = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def run_ids(state_dir: Path) -> set[str]:
    """The runs a state directory knows (one folder each)."""
    return {p.name for p in (state_dir / "runs").glob("*") if p.is_dir()}


@pytest.fixture
def no_leftovers(state_dir: Path) -> Iterator[None]:
    """Fail the test if one of its runs leaves a working container, a candidate image, a
    step still running or a secret file.

    Only the runs this test started are looked at: other builds on the host (another
    checkout, a CI job, a second test session) create and remove containers of their own.
    """
    before = run_ids(state_dir)
    yield
    ours = run_ids(state_dir) - before
    assert ours, "the test started no run in the session's state directory"
    assert_nothing_left(state_dir, ours)


def assert_nothing_left(state_dir: Path, ours: set[str]) -> None:
    """No working container, candidate image, running step or network file of ``ours``."""
    containers = {c for c in buildah_containers() if run_of(c) in ours}
    candidates = {i for i in buildah_image_names() if run_of(i) in ours}
    steps = {name for name in step_payloads() if run_of(name) in ours}
    secrets = [p for run in ours for p in (state_dir / "runs" / run).rglob("network.env")]
    assert containers == set()
    assert candidates == set()
    assert steps == set()
    assert secrets == []


def step_payloads() -> set[str]:
    """Working containers whose step still runs in the OCI runtime without its buildah."""
    return {name for name, _ in leftovers.payloads(ShRunner())}


def processes_with(marker: str) -> list[int]:
    """Pids of processes whose command line holds ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(proc.name))
    return found


def buildah_image_names() -> set[str]:
    out = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def orchestrate(
    *args: str, state_dir: Path, timeout: int = 1500, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI."""
    env = {
        **os.environ,
        "ORCHESTRATE_STATE_DIR": str(state_dir),
        "ORCHESTRATE_NAMESPACE": "localhost/orchestrate-test",
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )


def inspect(image: str) -> dict[str, Any]:
    """``buildah inspect`` of an image, parsed."""
    out = subprocess.run(
        ["buildah", "inspect", "--type", "image", image], capture_output=True, text=True, check=True
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def run_in(image: str, *argv: str, user: str = "root") -> subprocess.CompletedProcess[str]:
    """Run a command in a throwaway container of ``image``; tried again when buildah failed
    to start it (``buildah.TRANSIENT_STARTUP_ERRORS``), as often and after the same pause as a
    build's steps are."""
    name = subprocess.run(
        ["buildah", "from", "--pull=never", image], capture_output=True, text=True, check=True
    ).stdout.strip()
    command = ["buildah", "run", "--isolation", "chroot", "--user", user, name, "--", *argv]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        for _ in range(STARTUP_RETRIES):
            if not done.returncode or not buildah.failed_to_start(done.stderr):
                break
            time.sleep(1)
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        return done
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True, check=False)


@contextlib.contextmanager
def plain_registry(root: Path, *, readonly: bool = False) -> Iterator[str]:
    """A plain-HTTP docker-registry on 127.0.0.1 (read-only: it serves but refuses pushes);
    yields host:port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: run ./setup-host")
    port = free_port()
    config = root / "config.yml"
    maintenance = "  maintenance:\n    readonly:\n      enabled: true\n" if readonly else ""
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n{maintenance}"
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


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[TlsRegistry]:
    """A TLS docker-registry with htpasswd auth on 127.0.0.1, for one test."""
    registry = TlsRegistry(tmp_path / "registry")
    registry.prepare()
    registry.start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain-HTTP registry on 127.0.0.1 for the session; yields host:port."""
    with plain_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def tags(address: str, repository: str) -> set[str]:
    with urllib.request.urlopen(f"http://{address}/v2/{repository}/tags/list", timeout=5) as r:
        return set(json.load(r)["tags"])
