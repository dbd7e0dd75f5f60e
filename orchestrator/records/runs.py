"""Run bookkeeping on disk: which runs are alive, and the working containers of dead ones.

Every working container is named ``orch-<run id>-<node>``, every image awaiting its checks
``<repository>:candidate-<run id>``; a run writes its pid to
``<state>/runs/<run id>/pid`` while it lives. A container whose run is not alive (killed with
SIGKILL, machine rebooted) is an orphan, and the next run with the same state directory
removes it, as it removes candidate tags of dead runs. Containers and images not named this
way, or of runs this state directory does not know, are never touched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

CONTAINER_RE = re.compile(r"^orch-(?P<run>\d{8}-\d{6}-[0-9a-f]{4})-")
CANDIDATE_RE = re.compile(r":candidate-(?P<run>\d{8}-\d{6}-[0-9a-f]{4})$")


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


def _of_dead_runs(state_dir: Path, names: list[str], pattern: re.Pattern[str]) -> list[str]:
    out = []
    for name in names:
        match = pattern.search(name)
        if match and is_ours_and_dead(state_dir, match.group("run")):
            out.append(name)
    return out


def orphans(state_dir: Path, containers: list[str]) -> list[str]:
    """The working containers, among ``containers``, of this state dir's dead runs."""
    return _of_dead_runs(state_dir, containers, CONTAINER_RE)


def orphan_candidates(state_dir: Path, images: list[str]) -> list[str]:
    """The candidate image names, among ``images``, of this state dir's dead runs."""
    return _of_dead_runs(state_dir, images, CANDIDATE_RE)
