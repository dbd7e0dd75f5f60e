"""The gate: a pipeline's checks (``gate:``), run on a run's images before any release tag
moves.

Each check is a shell command run in the pipeline's folder, in its own process group, its
output in ``<run>/gate/<check>.log``. It is told, through its environment:

- ``ORCHESTRATE_GATE_IMAGES``: a JSON file ``{node: image}`` of the run's images (key tags,
  in the run's image storage);
- ``ORCHESTRATE_GATE_LOGS``: a folder for the logs of the services it runs
  (``<run>/gate/<check>/``), one ``<service>.log`` each; a check that fails lists the logs
  of the services to blame in its ``failed-services`` file;
- ``ORCHESTRATE_GATE_CHECK`` and ``ORCHESTRATE_GATE_RUN``: the check's name and the run id;
- ``CONTAINERS_STORAGE_CONF`` when the run has its own image storage.

Its ``PATH`` starts with the ``bin`` folder of orchestrate's own Python environment, so a
check finds the ``nox`` and ``pytest`` installed beside orchestrate (``./setup-host`` puts
nox in ``.venv``) however orchestrate was started.

Checks run in order and the first failure ends the gate: its result names the check, the
line that says why (pytest's ``FAILED``/``ERROR`` line, else the last line of its output) and
the last lines of the blamed services' logs. A check past its timeout, or a run interrupted,
is stopped as Ctrl-C would stop it (SIGINT to its group, so a test tears its services down),
then SIGTERM, then SIGKILL; whatever a check leaves running in its group when it ends gets
SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.engine.runner import child_setup
from orchestrator.files import write_atomically
from orchestrator.model.pipeline import GateCheck
from orchestrator.model.results import CheckResult, CheckState, GateResult
from orchestrator.redaction import redact

# After SIGINT, how long a check has to tear its services down; then SIGTERM, then SIGKILL.
INTERRUPT_GRACE_SECONDS = 60.0
TERM_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2
# What a failed check's summary shows of each service to blame.
SERVICE_LINES = 10
SERVICES_SHOWN = 3
BLAME_FILE = "failed-services"
IMAGES_FILE = "images.json"


def run_gate(
    checks: Sequence[GateCheck],
    *,
    images: Mapping[str, str],
    folder: Path,
    gate_dir: Path,
    run_id: str,
    env: Mapping[str, str] | None = None,
) -> GateResult:
    """Run ``checks`` in order in ``folder`` on ``images`` ({node: image}), writing under
    ``gate_dir``; stop at the first that does not pass. A Ctrl-C (KeyboardInterrupt) stops
    the running check and ends the gate as interrupted."""
    gate_dir.mkdir(parents=True, exist_ok=True)
    images_file = gate_dir / IMAGES_FILE
    write_atomically(images_file, json.dumps(dict(images), indent=2, sort_keys=True) + "\n")
    result = GateResult()
    for check in checks:
        if result.failed is not None:
            result.checks.append(CheckResult(name=check.name, state=CheckState.NOT_RUN))
            continue
        logs_dir = gate_dir / check.name
        logs_dir.mkdir(parents=True, exist_ok=True)
        check_env = {
            **os.environ,
            **(env or {}),
            "PATH": _path_with_our_bin((env or {}).get("PATH", os.environ.get("PATH", ""))),
            "ORCHESTRATE_GATE_IMAGES": str(images_file),
            "ORCHESTRATE_GATE_LOGS": str(logs_dir),
            "ORCHESTRATE_GATE_CHECK": check.name,
            "ORCHESTRATE_GATE_RUN": run_id,
        }
        result.checks.append(
            _run_check(check, folder, gate_dir / f"{check.name}.log", logs_dir, check_env)
        )
    return result


def _path_with_our_bin(path: str) -> str:
    """``path`` with the bin folder of the interpreter running orchestrate first."""
    ours = str(Path(sys.executable).parent)
    return os.pathsep.join([ours, *(p for p in path.split(os.pathsep) if p and p != ours)])


def _run_check(
    check: GateCheck, folder: Path, log: Path, logs_dir: Path, env: dict[str, str]
) -> CheckResult:
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        out.write(f"+ {redact(check.run)}\n")
        out.flush()
        proc = subprocess.Popen(  # the pipeline's own command
            ["bash", "-c", check.run],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=child_setup(0),  # prctl and nice only
        )
        state = None
        try:
            proc.wait(timeout=check.timeout)
        except subprocess.TimeoutExpired:
            state = CheckState.TIMED_OUT
            _stop(proc)
        except KeyboardInterrupt:
            state = CheckState.INTERRUPTED
            _stop(proc)
        _end_group(proc.pid)
    seconds = time.monotonic() - started
    code = proc.returncode
    if state is None:
        state = CheckState.PASSED if code == 0 else CheckState.FAILED
    why = ""
    services: tuple[tuple[str, str], ...] = ()
    if state is not CheckState.PASSED:
        why = {
            CheckState.TIMED_OUT: f"ran past its timeout of {check.timeout} s and was stopped",
            CheckState.INTERRUPTED: "interrupted",
        }.get(state) or f"exit code {code}: {failure_line(log)}"
        services = blamed_services(logs_dir)
    return CheckResult(
        name=check.name,
        state=state,
        exit_code=code,
        seconds=seconds,
        log=str(log),
        logs_dir=str(logs_dir),
        why=why,
        services=services,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT the check's group (its tests tear down), then SIGTERM, then SIGKILL."""
    for sig, grace in (
        (signal.SIGINT, INTERRUPT_GRACE_SECONDS),
        (signal.SIGTERM, TERM_GRACE_SECONDS),
        (signal.SIGKILL, None),
    ):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:  # a second Ctrl-C: on to the next signal at once
            continue
    proc.wait()


def _end_group(pgid: int) -> None:
    """What the check left running in its process group (a daemon it started, a child its
    shell did not wait for): SIGTERM, then after a grace SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + TERM_GRACE_SECONDS
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def failure_line(log: Path) -> str:
    """Why a check failed, in one line: the last line that starts with ``FAILED`` or
    ``ERROR`` (pytest's short summary), else the last non-empty line of its output."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError as exc:
        return f"its log cannot be read ({exc.strerror})"
    lines = [line for line in lines[1:] if line]  # not the command line itself
    if not lines:
        return "no output"
    marked = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return redact((marked or lines)[-1])[:300]


def blamed_services(logs_dir: Path) -> tuple[tuple[str, str], ...]:
    """The logs a failed check blames (its ``failed-services`` file, else its newest
    service log), each with its last lines."""
    try:
        named = (logs_dir / BLAME_FILE).read_text().split()
    except OSError:
        named = []
    logs = [logs_dir / name for name in named if (logs_dir / name).is_file()]
    if not logs:
        found = sorted(logs_dir.glob("*.log"), key=lambda p: p.stat().st_mtime)
        logs = found[-1:]
    out: list[tuple[str, str]] = []
    for path in logs[:SERVICES_SHOWN]:
        lines = path.read_text(errors="replace").splitlines()
        out.append((str(path), redact("\n".join(lines[-SERVICE_LINES:]))))
    return tuple(out)
