"""Integration fixtures: real buildah, a private state dir, and a check for leftovers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine.buildah import run_of

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
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state dir per test session: sources are fetched once."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def keystone_run(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """pipelines/keystone.yaml built once per session; its summary document."""
    out = tmp_path_factory.mktemp("out") / "summary.json"
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--summary-json", str(out), state_dir=state_dir
    )
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
    """Fail the test if one of its runs leaves a working container or a candidate image.

    Only the runs this test started are looked at: other builds on the host (another
    checkout, a CI job, a second test session) create and remove containers of their own.
    """
    before = run_ids(state_dir)
    yield
    ours = run_ids(state_dir) - before
    assert ours, "the test started no run in the session's state directory"
    containers = {c for c in buildah_containers() if run_of(c) in ours}
    candidates = {i for i in buildah_image_names() if run_of(i) in ours}
    assert containers == set()
    assert candidates == set()


def buildah_image_names() -> set[str]:
    out = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def orchestrate(
    *args: str, state_dir: Path, timeout: int = 1500
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI."""
    env = dict(
        os.environ,
        ORCHESTRATE_STATE_DIR=str(state_dir),
        ORCHESTRATE_NAMESPACE="localhost/orchestrate-test",
    )
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
    """Run a command in a throwaway container of ``image``."""
    name = subprocess.run(
        ["buildah", "from", "--pull=never", image], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        return subprocess.run(
            ["buildah", "run", "--isolation", "chroot", "--user", user, name, "--", *argv],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True, check=False)
