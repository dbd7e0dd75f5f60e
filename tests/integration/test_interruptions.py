"""A node killed by its timeout or by Ctrl-C leaves no working container, no tagged image and
no step running: the hang step ignores SIGTERM, so buildah is killed outright and the step,
under OCI isolation, would go on in runc unless orchestrate stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.engine.naming import run_of
from tests.integration.conftest import ROOT, buildah_containers, orchestrate, processes_with

# The hang step's command line carries this, so a test can look for it among processes.
HANG_MARKER = "sleep 6011"


def hanging_pipeline(tmp_path: Path) -> Path:
    """keystone with an extra step that ignores SIGTERM and never ends; base and wheels come
    from the cache."""
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace(
        "    source: {pypi: keystone==29.1.0,",
        f"    steps: [{{name: hang, run: \"trap '' TERM; echo hanging; {HANG_MARKER}\"}}]\n"
        "    source: {pypi: keystone==29.1.0,",
    )
    path = tmp_path / "hang.yaml"
    path.write_text(text)
    return path


def test_timeout_kills_the_node_and_removes_its_containers(
    state_dir: Path, tmp_path: Path, no_leftovers: None
) -> None:
    # The hang step starts about 11 s into the node (base and wheels reused): 30 s is room.
    proc = orchestrate(
        "build", str(hanging_pipeline(tmp_path)), "--timeout", "30", state_dir=state_dir
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "keystone failed: step 'hang' ran past the node's timeout and was killed" in proc.stderr
    assert processes_with(HANG_MARKER) == []
    assert (
        "keystone:candidate-"
        not in subprocess.run(
            ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_ctrl_c_cancels_and_removes_containers(
    state_dir: Path, tmp_path: Path, no_leftovers: None
) -> None:
    before = buildah_containers()
    old_logs = set(state_dir.glob("runs/*/logs/keystone.log"))
    env = dict(
        os.environ,
        ORCHESTRATE_STATE_DIR=str(state_dir),
        ORCHESTRATE_NAMESPACE="localhost/orchestrate-test",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "build", str(hanging_pipeline(tmp_path))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 600
    log = None
    while time.monotonic() < deadline:
        new = set(state_dir.glob("runs/*/logs/keystone.log")) - old_logs
        if new and "hanging" in (candidate := new.pop()).read_text():
            log = candidate
            break
        time.sleep(1)
    assert log is not None, "the hang step never started"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert re.search(r"^keystone +cancelled", out, re.M), out
    run_id = log.parent.parent.name  # only this run's: other builds on the host come and go
    assert {c for c in buildah_containers() - before if run_of(c) == run_id} == set()
    assert processes_with(HANG_MARKER) == []


@pytest.fixture(autouse=True)
def _cache_warm(state_dir: Path) -> None:
    """Make sure base and wheels exist, so only keystone runs into the hang."""
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--only", "requirements", state_dir=state_dir
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
