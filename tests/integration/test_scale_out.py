"""The registry as cache and hand-off between build hosts (marker ``scale_out``: minutes of
real pulls, builds and pushes; `nox -s scale_out`).

One machine acts as three build hosts, each a storage root and a state directory of its own,
against docker-registry on 127.0.0.1 with TLS and htpasswd auth:

- host A (the session's storage) pushes keystone.yaml's images, release tags promoted;
- host B, empty, builds a changed keystone with a site image on it: it pulls exactly base
  and the wheels image (by key), builds the rest and pushes; while the site image fails, no
  release tag moves; fixed, everything is promoted;
- a push interrupted by stopping the registry is finished by ``resume`` without rebuilding;
- host C, empty, runs the same pipeline: nothing built, no blob downloaded (its time is a
  figure of ``nox -s scale_out``'s benchmark, not asserted here).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT
from tests.registry_server import PASSWORD, TlsRegistry

pytestmark = pytest.mark.scale_out

NAMESPACE = "localhost/orchestrate-test"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    server = TlsRegistry(tmp_path_factory.mktemp("tls-registry"))
    server.prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Host:
    """A build host: a storage root and a state directory (none: the machine's storage)."""

    def __init__(self, root: Path | None, state: Path) -> None:
        self.root = root
        self.state = state

    def orchestrate(self, *args: str, registry: TlsRegistry) -> subprocess.CompletedProcess[str]:
        env = dict(
            os.environ,
            ORCHESTRATE_STATE_DIR=str(self.state),
            ORCHESTRATE_NAMESPACE=NAMESPACE,
            ORCHESTRATE_REGISTRY=f"{registry.address}/scale",
            ORCHESTRATE_CERT_DIR=str(registry.cert_dir),
            ORCHESTRATE_AUTHFILE=str(registry.authfile),
        )
        if self.root is not None:
            env["ORCHESTRATE_STORAGE_ROOT"] = str(self.root)
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", "--progress", "plain", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=1800,
            check=False,
        )

    def images(self) -> set[str]:
        env = dict(os.environ)
        if self.root is not None:
            env["CONTAINERS_STORAGE_CONF"] = str(self.root / "storage.conf")
        out = subprocess.run(
            ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        return set(out.split())

    def wipe(self) -> None:
        """Remove this host's storage (images first, so no overlay mount is left)."""
        if self.root is None or not (self.root / "storage.conf").exists():
            return
        env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(self.root / "storage.conf"))
        for argv in (["buildah", "rm", "--all"], ["buildah", "rmi", "--all", "--force"]):
            subprocess.run(argv, env=env, capture_output=True, check=False)
        subprocess.run(
            ["umount", "-R", str(self.root / "graph" / "overlay")], capture_output=True, check=False
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def hosts(tmp_path: Path, state_dir: Path) -> Iterator[dict[str, Host]]:
    made = {
        "A": Host(None, state_dir),
        "B": Host(tmp_path / "host-b" / "storage", tmp_path / "host-b" / "state"),
        "C": Host(tmp_path / "host-c" / "storage", tmp_path / "host-c" / "state"),
    }
    yield made
    for host in made.values():
        host.wipe()


def pipeline(tmp_path: Path, site_run: str, marker: str) -> Path:
    """keystone.yaml with a keystone of its own (an extra step: a key no host has) and a
    site image FROM it whose one step is ``site_run``."""
    folder = tmp_path / f"site-{secrets.token_hex(2)}"
    folder.mkdir()
    (folder / "Containerfile").write_text(f"FROM keystone\nRUN {site_run}\n")
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace(
        "    source: {pypi: keystone==29.1.0,",
        f"    steps: [{{name: mark, run: 'echo {marker} > /etc/keystone-build'}}]\n"
        "    source: {pypi: keystone==29.1.0,",
    )
    text += f"children:\n  site:\n    from: keystone\n    containerfile: {folder}/Containerfile\n"
    path = folder / "pipeline.yaml"
    path.write_text(text)
    return path


def statuses(stdout: str) -> dict[str, str]:
    """node -> status word, from the summary table."""
    found = re.findall(r"^(base|wheel-builder|requirements|keystone|site)\s+(\w+)", stdout, re.M)
    return dict(found)


def test_three_hosts_share_their_work_through_the_registry(
    keystone_run: dict[str, object], registry: TlsRegistry, hosts: dict[str, Host], tmp_path: Path
) -> None:
    a, b, c = hosts["A"], hosts["B"], hosts["C"]
    marker = secrets.token_hex(4)

    # Host A pushes what it has: every key tag, then the release tags.
    first = a.orchestrate("build", "pipelines/keystone.yaml", "--push", registry=registry)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert f"promoted: {registry.address}/scale/base:2026.1" in first.stdout
    old_keystone = registry.digest("scale/keystone", "2026.1")
    assert old_keystone is not None

    # Host B, empty: a new keystone, and a site image that fails. Base and the wheels come
    # from the registry by digest (a child builds on them); no release tag moves.
    failing = pipeline(tmp_path, "false", marker)
    pulls_before = registry.blob_downloads()
    broken = b.orchestrate("build", str(failing), "--push", registry=registry)
    assert broken.returncode == 1, broken.stdout[-3000:] + broken.stderr[-3000:]
    assert statuses(broken.stdout) == {
        "base": "reused",
        "wheel-builder": "reused",
        "requirements": "reused",
        "keystone": "built",
        "site": "failed",
    }, broken.stdout
    assert "release tags not promoted: 1 node(s) did not succeed (site)" in broken.stdout
    assert registry.digest("scale/keystone", "2026.1") == old_keystone
    assert registry.blob_downloads() > pulls_before  # base and wheels came down
    names = b.images()
    assert any(n.startswith(f"{NAMESPACE}/base:") for n in names)
    assert any(n.startswith(f"{NAMESPACE}/requirements:") for n in names)

    # Fixed: keystone is reused, site built; every tag promoted, keystone:2026.1 moves.
    fixed = pipeline(tmp_path, "echo site", marker)
    good = b.orchestrate("build", str(fixed), "--push", registry=registry)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    assert statuses(good.stdout)["site"] == "built"
    assert f"{registry.address}/scale/keystone:2026.1" in good.stdout
    assert registry.digest("scale/keystone", "2026.1") not in (None, old_keystone)
    assert registry.digest("scale/site", "2026.1") is not None

    # The registry stops while a changed site image is pushed: the node fails after its
    # tries; with the registry back, resume pushes the image it has (nothing rebuilt).
    changed = pipeline(tmp_path, "echo site v2", marker)
    runs_before = set((b.state / "runs").iterdir())

    def stop_when_site_builds() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            for run in set((b.state / "runs").iterdir()) - runs_before:
                log = run / "logs" / "site.log"
                if log.is_file() and "--- step build" in log.read_text(errors="replace"):
                    registry.stop()
                    return
            time.sleep(0.2)

    watcher = threading.Thread(target=stop_when_site_builds)
    watcher.start()
    try:
        cut = b.orchestrate("build", str(changed), "--push", registry=registry)
    finally:
        watcher.join()
        registry.start()
    assert cut.returncode == 1, cut.stdout[-3000:] + cut.stderr[-3000:]
    assert statuses(cut.stdout)["site"] == "failed", cut.stdout
    run_id = re.search(r"orchestrate resume (\S+)", cut.stderr)
    assert run_id, cut.stderr[-2000:]
    resumed = b.orchestrate("resume", run_id.group(1), registry=registry)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "built" not in statuses(resumed.stdout).values(), resumed.stdout
    assert "promoted:" in resumed.stdout

    # Host C, empty: the same pipeline builds nothing and downloads no blob.
    pulls_before = registry.blob_downloads()
    summary_file = tmp_path / "c.json"
    noop = c.orchestrate(
        "build", str(changed), "--push", "--summary-json", str(summary_file), registry=registry
    )
    assert noop.returncode == 0, noop.stdout[-3000:] + noop.stderr[-3000:]
    assert set(statuses(noop.stdout).values()) == {"reused"}, noop.stdout
    assert registry.blob_downloads() == pulls_before
    assert c.images() == set()
    summary = json.loads(summary_file.read_text())
    assert all(n["image_id"].startswith("sha256:") for n in summary["nodes"])

    # No credential reached a host's state.
    for host in (b, c):
        for path in host.state.rglob("*"):
            if path.is_file():
                assert PASSWORD.encode() not in path.read_bytes(), path
