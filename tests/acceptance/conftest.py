"""Acceptance fixtures: the images under test, built (or reused) by orchestrate itself.

The session builds ``pipelines/full-stack.yaml --only <the services whose tests were
collected>`` (with ``requirements.scope: selected`` when that is not all nine: the wheels
are only theirs), or ``pipelines/loci-all.yaml --only ...`` as it is when one of them is not
among the nine. After ``orchestrate build pipelines/loci-all.yaml`` the full session
(``nox -s acceptance``, in the default namespace) finds every key built and reuses it; the
default test run builds keystone and horizon in the integration suite's namespace.
``ORCHESTRATE_ACCEPTANCE_TAG=2026.1`` tests the images of that tag as they are, without
building.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SERVICES as ALL_SERVICES

ROOT = Path(__file__).resolve().parents[2]
SERVICES = set(ALL_SERVICES)
# The integration suite's namespace by default; `nox -s acceptance` sets the default one, so
# it reuses what `orchestrate --parallel 9` (or `nox -s full_stack`) built.
NAMESPACE = os.environ.get("ORCHESTRATE_ACCEPTANCE_NAMESPACE", "localhost/orchestrate-test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/acceptance" in str(item.fspath):
            item.add_marker(pytest.mark.acceptance)


def build(
    pipeline: str, *args: str, state_dir: Path, summary: Path
) -> subprocess.CompletedProcess[str]:
    """``orchestrate build PIPELINE ARGS`` into the acceptance namespace, summary to a file."""
    env = dict(os.environ, ORCHESTRATE_NAMESPACE=NAMESPACE, ORCHESTRATE_STATE_DIR=str(state_dir))
    argv = [sys.executable, "-m", "orchestrator", "--progress", "plain", "build", pipeline]
    proc = subprocess.Popen(
        [*argv, *args, "--summary-json", str(summary)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=3600)
    except BaseException:  # a timeout or Ctrl-C: let orchestrate remove its containers
        proc.terminate()
        proc.communicate(timeout=120)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture(scope="session")
def images(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    build_state_dir: Path,
) -> dict[str, str]:
    """Image (by key tag) of every service whose test was collected, built or reused."""
    for tool in ("buildah", "podman", "mmdebstrap"):
        if shutil.which(tool) is None or os.geteuid() != 0:
            pytest.fail(f"acceptance tests need root and {tool}: run ./setup-host first, as root")
    needed = sorted(
        {m.args[0] for item in request.session.items for m in item.iter_markers("service")}
    )
    given = os.environ.get("ORCHESTRATE_GATE_IMAGES")
    if given:  # run by a pipeline's gate: its run's images, {node: image}
        known = json.loads(Path(given).read_text())
        missing = sorted(set(needed) - set(known))
        if missing:
            pytest.fail(f"{given}: the run built no image for {', '.join(missing)}")
        return {name: known[name] for name in needed}
    tag = os.environ.get("ORCHESTRATE_ACCEPTANCE_TAG")
    if tag:  # images built before, by tag (e.g. 2026.1 after `orchestrate --parallel 9`)
        return {name: f"{NAMESPACE}/{name}:{tag}" for name in needed}
    folder = tmp_path_factory.mktemp("acceptance")
    out = folder / "summary.json"
    # The session's state, shared with the integration suite: one fetch of the sources, and
    # its keystone stack's wheels build takes the unchanged wheels of this one.
    state = os.environ.get("ORCHESTRATE_STATE_DIR") or str(build_state_dir)
    # The nine's pipeline when they are enough, else the thirty's.
    pipeline, everything = "pipelines/full-stack.yaml", SERVICES
    if not set(needed) <= SERVICES:
        # The thirty's wheels image (scope: pipeline) serves any of them: the nodes of an
        # `orchestrate build pipelines/loci-all.yaml` are reused as they are.
        pipeline, everything = "pipelines/loci-all.yaml", set(needed)
    if set(needed) != everything:
        # Some services only (the default run): wheels for those alone, not all of them.
        text = (ROOT / pipeline).read_text().replace("../constraints", str(ROOT / "constraints"))
        assert "  scope: pipeline\n" in text
        pipeline = str(folder / "some-services.yaml")
        Path(pipeline).write_text(text.replace("  scope: pipeline\n", "  scope: selected\n"))
    proc = build(
        pipeline,
        "--only",
        ",".join(needed),
        "--parallel",
        "4",
        state_dir=Path(state),
        summary=out,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads(out.read_text())
    return {node["node"]: node["image"] for node in summary["nodes"]}


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A folder for one service's configuration and state (mounted into its container)."""
    yield tmp_path
    # The state folder belongs to the service's uid: remove it as root here, not by pytest.
    shutil.rmtree(tmp_path, ignore_errors=True)
