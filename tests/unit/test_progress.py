"""Progress: the live table's content and ETA, plain lines without terminal codes, JSON logs."""

from __future__ import annotations

import io
import json

import structlog
from rich.console import Console

from orchestrator.logsetup import configure_logging
from orchestrator.model.results import NodeResult
from orchestrator.model.states import Status
from orchestrator.reporting.progress import LiveProgress, PlainProgress, _Tracker, use_live
from tests.fakes import dag

GRAPH = dag([("base", "requirements"), ("requirements", "keystone"), ("requirements", "nova")])


def test_live_table_shows_each_node_step_and_failure_tail() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    progress = LiveProgress(GRAPH, run_id="r1", estimates={}, console=console)
    progress.on_event("base", "started", {"attempt": 1})
    progress.on_event("base", "reused", {"reason": "cache key matches"})
    progress.on_event("requirements", "started", {"attempt": 2})
    progress.on_event("requirements", "step", {"step": "build-wheels"})
    console.print(progress.render())
    progress.on_result(
        NodeResult(
            node="keystone",
            status=Status.FAILED,
            error="step 'smoke' exited 1",
            error_tail="Traceback\nImportError: ldap",
            log_path="/s/keystone.log",
        )
    )
    text = out.getvalue()
    assert "1/4 done, 1 running" in text and "ETA unknown (no history)" in text
    assert "requirements  running (try 2)  build-wheels" in text
    assert "base          reused" in text and "keystone      waiting" in text
    assert "ImportError: ldap" in text and "full log: /s/keystone.log" in text


def test_eta_is_the_longest_remaining_path() -> None:
    tracker = _Tracker(GRAPH, {"base": 10, "requirements": 80, "keystone": 30, "nova": 120})
    assert tracker.eta(tracker.started) == 210
    tracker.on_event("base", "built", {})
    assert tracker.eta(tracker.started) == 200
    assert _Tracker(GRAPH, {"base": 10}).eta(0.0) is None


def test_live_only_on_a_terminal_outside_ci(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CI", raising=False)
    assert use_live("auto", log_format="auto", stream_is_tty=True)
    assert not use_live("auto", log_format="auto", stream_is_tty=False)
    assert not use_live("auto", log_format="json", stream_is_tty=True)
    assert use_live("live", log_format="auto", stream_is_tty=False)
    monkeypatch.setenv("CI", "true")
    assert not use_live("auto", log_format="auto", stream_is_tty=True)


def test_plain_progress_writes_timestamped_lines_without_terminal_codes(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("auto")
    progress = PlainProgress(GRAPH)
    with structlog.contextvars.bound_contextvars(run="r1", node="nova"):
        progress.on_event("nova", "step", {"step": "install-packages"})
    err = capsys.readouterr().err
    assert "node step" in err and "step=install-packages" in err and "node=nova" in err
    assert err[:4].isdigit()  # an ISO timestamp leads the line
    assert "\x1b" not in err


def test_json_logs_carry_run_and_node(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("json")
    with structlog.contextvars.bound_contextvars(run="r1", node="keystone"):
        structlog.get_logger().info("node started", attempt=1)
    event = json.loads(capsys.readouterr().err.strip())
    assert (event["event"], event["run"], event["node"], event["attempt"]) == (
        "node started",
        "r1",
        "keystone",
        1,
    )
    configure_logging("auto")
