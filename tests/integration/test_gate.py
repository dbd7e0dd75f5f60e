"""The gate before release, for real: pipelines/keystone.yaml with a gate that serves keystone
from the run's image and talks to it (the acceptance test, run as the gate's check).

A keystone image broken at runtime (an invalid policy file, which no build check reads) fails
the check: the run exits 5, the local release tag does not move, and the summary names the
check, the failing test and keystone's own last log lines, kept under the run's folder. The
same pipeline without the break passes the gate and moves its release tag.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import EXIT_GATE_FAILED
from tests.integration.conftest import ROOT, orchestrate

NAMESPACE = "localhost/orchestrate-test"
CHECK = (
    f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m pytest -q "
    "-p no:cacheprovider tests/acceptance/test_keystone.py"
    "::test_keystone_issues_a_token_and_lists_projects"
)
# Read when keystone first enforces a policy (listing projects), not by any build check.
BREAK = "printf 'identity:list_projects: [\\n' > /etc/keystone/policy.yaml"


def gated_pipeline(folder: Path, tag: str, *, broken: bool) -> Path:
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace('tags: ["{release}"]', f'tags: ["{tag}"]')
    if broken:
        text += f"    steps: [{{name: break-policy, run: {json.dumps(BREAK)}}}]\n"
    text += f"gate:\n  - name: keystone-serves\n    run: {json.dumps(CHECK)}\n    timeout: 900\n"
    path = folder / f"{tag}.yaml"
    path.write_text(text)
    return path


def tagged(image: str) -> bool:
    found = subprocess.run(["buildah", "inspect", "--type", "image", image], capture_output=True)
    return found.returncode == 0


@pytest.fixture
def release_tag(request: pytest.FixtureRequest) -> Iterator[str]:
    """A release tag of this test alone, removed from every image afterwards."""
    tag = f"gate-{os.getpid()}-{request.node.name.split('_')[-1]}"
    yield tag
    listed = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    ours = [
        name for name in listed if name.startswith(f"{NAMESPACE}/") and name.endswith(f":{tag}")
    ]
    if ours:
        subprocess.run(["buildah", "rmi", *ours], capture_output=True, check=True)


def build(pipeline: Path, state_dir: Path, summary: Path) -> subprocess.CompletedProcess[str]:
    return orchestrate(
        "--progress", "plain", "build", str(pipeline), "--summary-json", str(summary),
        state_dir=state_dir, timeout=2400,
    )  # fmt: skip


def test_a_failing_gate_check_holds_the_release_back(
    tmp_path: Path, state_dir: Path, release_tag: str, no_leftovers: None
) -> None:
    pipeline = gated_pipeline(tmp_path, release_tag, broken=True)
    summary_path = tmp_path / "summary.json"
    proc = build(pipeline, state_dir, summary_path)
    assert proc.returncode == EXIT_GATE_FAILED, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    assert all(n["status"] in ("built", "reused") for n in summary["nodes"])
    keystone = next(n for n in summary["nodes"] if n["node"] == "keystone")
    assert tagged(keystone["image"])  # the key image is there, for a look
    assert not tagged(f"{NAMESPACE}/keystone:{release_tag}")  # the release tag did not move
    gate = summary["gate"]
    (check,) = gate["checks"]
    assert gate["passed"] is False and check["state"] == "failed"
    assert "FAILED tests/acceptance/test_keystone.py::test_keystone_issues_a_token" in check["why"]
    (blamed,) = check["services"]
    assert Path(blamed["log"]).name == "keystone.log"
    assert Path(blamed["log"]).is_relative_to(state_dir / "runs" / summary["run_id"] / "gate")
    whole = Path(blamed["log"]).read_text()
    assert "policy" in whole.lower() and "Traceback" in whole
    # The console says it too: the check, why, and keystone's own last lines.
    out = proc.stdout
    assert "gate keystone-serves: failed" in out and "no release tag moved" in out
    assert f"--- last lines of {blamed['log']}:" in out
    assert blamed["last_lines"].splitlines()[-1] in out
    # The report links the check's output and each service's log.
    report = tmp_path / "report.html"
    shown = orchestrate("report", summary["run_id"], "-o", str(report), state_dir=state_dir)
    assert shown.returncode == 0, shown.stderr
    page = report.read_text()
    assert 'data-check="keystone-serves"' in page and ">keystone</a>" in page
    # And the history, later.
    detail = orchestrate("show", summary["run_id"], state_dir=state_dir)
    assert "gate keystone-serves: failed" in detail.stdout
    assert f"keystone-serves log: {check['log']}" in detail.stdout


def test_a_passing_gate_moves_the_release_tag(
    tmp_path: Path, state_dir: Path, release_tag: str, no_leftovers: None
) -> None:
    pipeline = gated_pipeline(tmp_path, release_tag, broken=False)
    summary_path = tmp_path / "summary.json"
    held = orchestrate(
        "--progress", "plain", "build", str(pipeline), "--no-gate", state_dir=state_dir,
        timeout=2400,
    )  # fmt: skip
    assert held.returncode == 0, held.stdout[-3000:] + held.stderr[-3000:]
    assert "gate skipped (--no-gate): release tags held back" in held.stdout
    assert not tagged(f"{NAMESPACE}/keystone:{release_tag}")
    # What a CI engine's gate job runs: the checks alone, nothing moved.
    alone = orchestrate("gate", str(pipeline), state_dir=state_dir, timeout=1200)
    assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-3000:]
    assert "gate passed: keystone-serves" in alone.stdout
    assert not tagged(f"{NAMESPACE}/keystone:{release_tag}")
    proc = build(pipeline, state_dir, summary_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    assert summary["gate"]["passed"] is True
    (check,) = summary["gate"]["checks"]
    assert check["state"] == "passed" and check["services"] == []
    assert (Path(check["logs_dir"]) / "keystone.log").is_file()  # kept for a look anyway
    keystone = next(n for n in summary["nodes"] if n["node"] == "keystone")
    image_id = subprocess.run(
        ["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}",
         f"{NAMESPACE}/keystone:{release_tag}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert keystone["image_id"].removeprefix("sha256:").startswith(image_id[:12])
