"""The gate's checks, run for real as small shell commands: what they are told, how a failure
is explained (the failing line, the blamed services' last lines), a check stopped at its
timeout after tearing down, and how the gate reads in the summary, its JSON and exit code."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from orchestrator.errors import EXIT_GATE_FAILED, EXIT_NODE_FAILED, EXIT_OK
from orchestrator.execution import gate as gate_module
from orchestrator.execution.gate import run_gate
from orchestrator.execution.release import gate_and_release, gate_exit_code
from orchestrator.model.pipeline import GateCheck
from orchestrator.model.results import (
    Attempt,
    CheckResult,
    CheckState,
    GateResult,
    NodeResult,
    RunResult,
)
from orchestrator.model.states import Status
from orchestrator.planning.nodeplan import Step, empty_plan
from orchestrator.reporting import summary
from tests.unit.test_buildah_executor import RecordingRunner

IMAGES = {"keystone": "localhost/o/keystone:k1", "glance": "localhost/o/glance:k2"}


def gate(tmp_path: Path, *checks: GateCheck) -> GateResult:
    return run_gate(
        checks,
        images=IMAGES,
        folder=tmp_path,
        gate_dir=tmp_path / "run" / "gate",
        run_id="20261206-120000-abcd",
        env={"CONTAINERS_STORAGE_CONF": "/state/storage.conf"},
    )


def test_a_check_is_told_the_images_its_log_folder_and_runs_in_the_pipeline_folder(
    tmp_path: Path,
) -> None:
    seen = tmp_path / "seen"
    script = (
        f'{{ pwd; cat "$ORCHESTRATE_GATE_IMAGES"; echo "$ORCHESTRATE_GATE_LOGS"; '
        'echo "$ORCHESTRATE_GATE_CHECK $ORCHESTRATE_GATE_RUN $CONTAINERS_STORAGE_CONF"; '
        'echo "$PATH"; '
        f"}} > {seen}"
    )
    result = gate(tmp_path, GateCheck(name="first", run=script), GateCheck(name="then", run="true"))
    assert result.passed and [c.state for c in result.checks] == [CheckState.PASSED] * 2
    lines = seen.read_text().splitlines()
    assert lines[0] == str(tmp_path)
    assert json.loads("".join(lines[1:-3])) == IMAGES
    assert lines[-3] == str(tmp_path / "run" / "gate" / "first")
    assert lines[-2] == "first 20261206-120000-abcd /state/storage.conf"
    # nox and pytest beside orchestrate come first, whatever PATH orchestrate was started with
    assert lines[-1].split(":")[0] == str(Path(sys.executable).parent)
    assert result.message() == "gate passed: first, then"
    assert gate_exit_code(result) == EXIT_OK


def test_a_failing_check_names_its_failing_line_and_the_services_it_blames(
    tmp_path: Path,
) -> None:
    script = (
        'for i in $(seq 1 30); do echo "keystone line $i"; done '
        '> "$ORCHESTRATE_GATE_LOGS/keystone.log"; '
        'echo "glance ok" > "$ORCHESTRATE_GATE_LOGS/glance.log"; '
        'echo keystone.log > "$ORCHESTRATE_GATE_LOGS/failed-services"; '
        'echo "collected 2 items"; '
        'echo "FAILED tests/cloud/test_cloud.py::test_keystone - 500 from https://u:pw@h/v3"; '
        'echo "1 failed, 1 passed in 3.0s"; exit 3'
    )
    result = gate(
        tmp_path, GateCheck(name="cloud", run=script), GateCheck(name="later", run="true")
    )
    failed = result.failed
    assert failed is not None and not result.passed and not result.interrupted
    assert failed.state is CheckState.FAILED and failed.exit_code == 3
    assert failed.why == (
        "exit code 3: FAILED tests/cloud/test_cloud.py::test_keystone - 500 from https://***@h/v3"
    )
    ((log, last),) = failed.services
    assert log.endswith("gate/cloud/keystone.log")
    assert last.splitlines() == [f"keystone line {i}" for i in range(21, 31)]
    assert result.checks[1] == CheckResult(name="later", state=CheckState.NOT_RUN)
    assert Path(failed.log).read_text().splitlines()[-1] == "1 failed, 1 passed in 3.0s"
    assert gate_exit_code(result) == EXIT_GATE_FAILED
    message = result.message()
    assert (
        message.startswith("gate check 'cloud' failed: exit code 3: FAILED")
        and failed.log in message
    )


def test_without_a_blame_file_the_newest_service_log_is_shown(tmp_path: Path) -> None:
    script = (
        'echo old > "$ORCHESTRATE_GATE_LOGS/a.log"; sleep 0.05; '
        'echo new > "$ORCHESTRATE_GATE_LOGS/b.log"; echo "it broke"; echo; false'
    )
    failed = gate(tmp_path, GateCheck(name="c", run=script)).failed
    assert failed is not None and failed.why == "exit code 1: it broke"
    assert [(Path(p).name, last) for p, last in failed.services] == [("b.log", "new")]


def test_a_check_past_its_timeout_is_interrupted_so_it_tears_down(tmp_path: Path) -> None:
    torn = tmp_path / "torn-down"
    script = f"trap 'echo yes > {torn}; exit 130' INT; echo serving; sleep 30 & wait"
    started = time.monotonic()
    result = gate(tmp_path, GateCheck(name="slow", run=script, timeout=1))
    assert time.monotonic() - started < 20
    failed = result.failed
    assert failed is not None and failed.state is CheckState.TIMED_OUT
    assert failed.why == "ran past its timeout of 1 s and was stopped"
    assert torn.read_text() == "yes\n"
    assert gate_exit_code(result) == EXIT_GATE_FAILED


def test_a_check_that_ignores_sigint_is_terminated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate_module, "INTERRUPT_GRACE_SECONDS", 0.5)
    result = gate(tmp_path, GateCheck(name="stubborn", run="trap '' INT; sleep 30", timeout=1))
    failed = result.failed
    assert failed is not None and failed.state is CheckState.TIMED_OUT and failed.exit_code != 0


def a_run(gate_result: GateResult | None, note: str = "") -> RunResult:
    result = RunResult(run_id="20261206-120000-abcd", started=1000.0, finished=1300.0)
    result.results["keystone"] = NodeResult(
        node="keystone",
        status=Status.BUILT,
        attempts=(Attempt(number=1, started=1000.0, finished=1100.0),),
        image="ns/keystone:k",
    )
    result.gate = gate_result
    result.gate_note = note
    return result


FAILED = GateResult(
    checks=[
        CheckResult(
            name="cloud",
            state=CheckState.FAILED,
            exit_code=1,
            seconds=95.0,
            log="/s/runs/r/gate/cloud.log",
            logs_dir="/s/runs/r/gate/cloud",
            why="exit code 1: FAILED tests/cloud/test_cloud.py::test_x - boom",
            services=(("/s/runs/r/gate/cloud/keystone.log", "ERROR keystone\nTraceback"),),
        ),
        CheckResult(name="heat", state=CheckState.NOT_RUN),
    ]
)


def test_a_failed_gate_reads_in_the_summary_and_its_json(tmp_path: Path) -> None:
    result = a_run(FAILED)
    assert result.exit_code == EXIT_GATE_FAILED
    lines = summary.table(result, ["keystone"]).splitlines()
    tail = lines[lines.index("gate cloud: failed in 95s") :]
    assert tail == [
        "gate cloud: failed in 95s",
        "gate heat: not run",
        "gate check 'cloud' failed: exit code 1: FAILED tests/cloud/test_cloud.py::test_x - "
        "boom (log: /s/runs/r/gate/cloud.log)",
        "--- last lines of /s/runs/r/gate/cloud/keystone.log:",
        "    ERROR keystone",
        "    Traceback",
        "no release tag moved",
    ]
    document = summary.to_json(result, ["keystone"], pipeline="p.yaml", log_dir=Path("/s"))
    jsonschema.validate(document, json.loads(summary.SCHEMA_PATH.read_text()))
    assert document["exit_code"] == EXIT_GATE_FAILED
    assert document["gate"]["passed"] is False
    assert document["gate"]["checks"][0]["services"] == [
        {"log": "/s/runs/r/gate/cloud/keystone.log", "last_lines": "ERROR keystone\nTraceback"}
    ]


def test_a_passed_a_skipped_and_no_gate_read_in_the_summary() -> None:
    passed = a_run(GateResult(checks=[CheckResult(name="cloud", state=CheckState.PASSED)]))
    assert passed.exit_code == EXIT_OK
    assert summary.table(passed, ["keystone"]).splitlines()[-2:] == [
        "gate passed: cloud",
        "release tags moved",
    ]
    note = "gate skipped (--no-gate): release tags held back; 'orchestrate gate' runs its checks"
    skipped = a_run(None, note)
    assert skipped.exit_code == EXIT_OK
    assert summary.table(skipped, ["keystone"]).splitlines()[-1] == note
    document = summary.to_json(skipped, ["keystone"], pipeline="p.yaml", log_dir=Path("/s"))
    assert document["gate"] == {"passed": False, "note": note, "checks": []}
    assert (
        summary.to_json(a_run(None), ["keystone"], pipeline="p", log_dir=Path("/s"))["gate"] is None
    )


def test_what_a_check_leaves_running_is_ended_with_it(tmp_path: Path) -> None:
    marker = f"sleep 6{os.getpid() % 1000:03d}7"
    result = gate(tmp_path, GateCheck(name="leaky", run=f"({marker} &) ; echo started"))
    assert result.passed
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"left running: {left.stdout}"


def test_a_release_tag_that_cannot_move_after_a_passed_gate_fails_the_run(
    tmp_path: Path,
) -> None:
    """The gate passed but tagging failed: the run's error says so (exit 1), and nothing
    escapes to skip the history's record of the run."""
    release = (Step(name="tag:2026.1", argv=("buildah", "tag", "ns/keystone:k", "ns/ks:2026.1")),)
    plans = {
        "keystone": dataclasses.replace(
            empty_plan("keystone"), image="ns/keystone:k", release=release
        )
    }
    runner = RecordingRunner(images={"ns/keystone:k": "k"})
    runner.fail("tag:2026.1")
    result = a_run(None)
    gate_and_release(
        checks=(GateCheck(name="works", run="true"),),
        run_gate_checks=True,
        plans=plans,
        result=result,
        runner=runner,
        registry=None,
        folder=tmp_path,
        run_dir=tmp_path / "run",
        storage_conf=None,
    )
    assert result.gate is not None and result.gate.passed
    assert result.promotion_error.startswith(
        "the gate passed but a local release tag did not move: "
    )
    assert result.exit_code == EXIT_NODE_FAILED
