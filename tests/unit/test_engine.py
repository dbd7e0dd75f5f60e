"""The command runner, on ordinary programs (no buildah): logging, failure, cancel, timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator import redaction
from orchestrator.engine import buildah
from orchestrator.engine import runner as engine
from orchestrator.errors import (
    EXIT_USAGE,
    CancelledError,
    HostError,
    LogWriteError,
    StepFailedError,
    StepTimeoutError,
    ToolMissingError,
)
from orchestrator.reporting.console import TAIL_SHOWN, shown_tail


def test_output_goes_to_the_log_with_the_command_line(tmp_path: Path) -> None:
    log_path = tmp_path / "n.log"
    with log_path.open("w") as log:
        engine.run(["sh", "-c", "echo out; echo err >&2"], step="s", log=log)
    text = log_path.read_text()
    assert text.splitlines()[0] == "+ sh -c 'echo out; echo err >&2'"
    assert "out\n" in text and "err\n" in text


def test_failure_carries_the_tail_and_log_path(tmp_path: Path) -> None:
    with (tmp_path / "n.log").open("w") as log, pytest.raises(StepFailedError) as info:
        engine.run(
            ["sh", "-c", "for i in $(seq 1 60); do echo line$i; done; exit 3"],
            step="build",
            log=log,
            log_path="/x/n.log",
        )
    assert info.value.returncode == 3 and info.value.step == "build"
    assert info.value.tail.splitlines()[-1] == "line60"
    assert len(info.value.tail.splitlines()) == engine.TAIL_LINES
    assert str(info.value) == "step 'build' exited 3 (log: /x/n.log)"


def test_cancel_stops_the_command(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        engine.run(["sleep", "30"], step="s", cancel=cancel)
    assert time.monotonic() - started < 5


def test_deadline_kills_the_command() -> None:
    with pytest.raises(StepTimeoutError, match="ran past the node's timeout"):
        engine.run(["sleep", "30"], step="s", deadline=time.monotonic() + 0.2)


def test_missing_tool_is_named() -> None:
    with pytest.raises(ToolMissingError, match=r"^no-such-tool-xyz not found on PATH"):
        engine.run(["no-such-tool-xyz"], step="s")


def test_credentials_are_masked_in_logs(tmp_path: Path) -> None:
    log_path = tmp_path / "n.log"
    with log_path.open("w") as log:
        engine.run(["echo", "http://bob:hunter2@proxy:3128"], step="s", log=log)
    assert "hunter2" not in log_path.read_text()
    assert redaction.redact("https://u:p@h/x and ftp://a@b") == "https://***@h/x and ftp://***@b"


def test_capture_returns_stdout() -> None:
    assert engine.capture(["printf", "a b"]) == "a b"
    with pytest.raises(StepFailedError):
        engine.capture(["false"])


def test_background_steps_run_niced(tmp_path: Path) -> None:
    log_path = tmp_path / "n.log"
    with log_path.open("w") as log:
        engine.run(["sh", "-c", "echo nice=$(nice)"], step="s", log=log, niceness=7)
    base = int(subprocess.run(["nice"], capture_output=True, text=True, check=True).stdout)
    assert f"nice={base + 7}" in log_path.read_text()


def test_transient_buildah_start_failures_are_recognised() -> None:
    busy = "Close_Fd sealing memfd copy: Device or resource busy\nsubprocess exited with status 1"
    assert buildah.is_transient(StepFailedError("s", 1, busy, ""))
    assert not buildah.is_transient(StepFailedError("s", 1, "E: Unable to locate package x", ""))


def test_commands_die_with_a_killed_orchestrate(tmp_path: Path) -> None:
    """A SIGKILLed orchestrate leaves no command running (the kernel sends it SIGTERM)."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import sys; from orchestrator.engine import runner as engine; "
        f"engine.run(['sh', '-c', 'echo $$ > {pid_file}; exec sleep 60'], step='s')"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":  # dead, waiting for init to reap it
            return
        time.sleep(0.05)
    os.kill(child, 9)
    pytest.fail("the command outlived its killed orchestrate")


class _FullDisk:
    """A log file on a full disk: every write fails."""

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        return None


def test_output_is_drained_when_the_log_cannot_be_written() -> None:
    started = time.monotonic()
    with pytest.raises(LogWriteError, match="step 'noisy'") as failed:
        engine.run(
            ["sh", "-c", "yes orchestrate | head -c 2000000; echo done"],
            step="noisy",
            log=_FullDisk(),  # type: ignore[arg-type]
            deadline=time.monotonic() + 60,
        )
    assert "cannot write the node's log (No space left on device)" in str(failed.value)
    assert time.monotonic() - started < 30  # drained, not blocked until the deadline


def test_a_failure_names_its_cause_even_far_above_the_tail() -> None:
    script = (
        "echo 'Err:1 http://deb.debian.org/debian bookworm InRelease'; "
        "echo '  Could not connect to deb.debian.org:80 (151.101.2.132)'; "
        "for i in $(seq 80); do echo reading package lists $i; done; "
        "echo 'E: Unable to locate package libfoo'; exit 100"
    )
    with pytest.raises(StepFailedError) as failed:
        engine.run(["sh", "-c", script], step="install-packages")
    lines = failed.value.tail.splitlines()
    assert lines[0] == "(earlier)   Could not connect to deb.debian.org:80 (151.101.2.132)"
    assert lines[-1] == "E: Unable to locate package libfoo"


def test_a_failure_names_a_full_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # buildah says "read/write on closed pipe" when TMPDIR is full; the tail says which disk.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(engine, "LOW_SPACE_BYTES", 2**62)  # every disk counts as full
    with pytest.raises(StepFailedError) as failed:
        engine.run(["sh", "-c", "echo 'read/write on closed pipe'; exit 125"], step="commit")
    lines = failed.value.tail.splitlines()
    assert lines[0].startswith(f"(host) no space left on device: TMPDIR {tmp_path} has ")
    assert lines[-1] == "read/write on closed pipe"


def test_the_terminal_shows_every_cause_line_and_the_last_ones() -> None:
    tail = "\n".join(
        ["(host) no space left on device: TMPDIR /t has 0 MiB free", "(earlier) Could not connect"]
        + [f"line {i}" for i in range(40)]
    )
    shown = shown_tail(tail)
    assert shown[:2] == tail.splitlines()[:2]
    assert shown[2:] == [f"line {i}" for i in range(40 - TAIL_SHOWN, 40)]


def test_a_build_does_not_start_where_buildah_has_no_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(engine, "LOW_SPACE_BYTES", 2**62)
    with pytest.raises(HostError) as refused:
        engine.check_space(str(tmp_path / "state" / "not-made-yet"))
    assert refused.value.exit_code == EXIT_USAGE
    assert str(refused.value).startswith(f"no space left on device: TMPDIR {tmp_path} has ")
    assert "point TMPDIR or --state-dir elsewhere" in str(refused.value)


def test_a_failed_query_says_its_cause_in_the_message() -> None:
    with pytest.raises(StepFailedError) as failed:
        engine.capture(["sh", "-c", "echo 'Error: read/write on closed pipe' >&2; exit 125"])
    assert str(failed.value).endswith(" exited 125: Error: read/write on closed pipe")
