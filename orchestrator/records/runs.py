"""Run bookkeeping on disk: which runs are alive, and what dead ones left in storage.

A run writes its pid to ``<state>/runs/<run id>/pid`` while it lives. Working containers and
candidate images carry their run's id in their names (:mod:`orchestrator.engine.naming`
makes and reads those names). One whose run is not alive (killed with SIGKILL, machine
rebooted) is an orphan, and the next run with the same state directory removes it. Names of
runs this state directory does not know are never touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from orchestrator.engine.naming import run_of


def mark_running(run_dir: Path) -> Path:
    """Record this process as the owner of ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    pid_file = run_dir / "pid"
    pid_file.write_text(f"{os.getpid()}\n")
    return pid_file


def is_alive(state_dir: Path, run_id: str) -> bool:
    """True if the run's recorded process still exists and is an orchestrate process."""
    pid_file = state_dir / "runs" / run_id / "pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"orchestrat" in cmdline


def is_ours_and_dead(state_dir: Path, run_id: str) -> bool:
    """True if ``run_id`` ran with this state directory and its process is gone.

    A run of another state directory (another checkout, a test suite, a second operator) is
    never ours to clean up, dead or alive.
    """
    return (state_dir / "runs" / run_id).is_dir() and not is_alive(state_dir, run_id)


def of_dead_runs(state_dir: Path, names: Iterable[str]) -> list[str]:
    """The container or image names, among ``names``, of this state dir's dead runs."""
    out = []
    for name in names:
        run_id = run_of(name)
        if run_id is not None and is_ours_and_dead(state_dir, run_id):
            out.append(name)
    return out
