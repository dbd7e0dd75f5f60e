"""Tidying after dead runs, and finding runs and their logs: what the commands that read or
write the state directory share."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import structlog

from orchestrator.engine.storage import Storage
from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.model.pipeline import REQUIREMENTS_NODE
from orchestrator.records import runs
from orchestrator.records.history import History, RunRecord


def clean_up_dead_runs(history: History, storage: Storage) -> None:
    """Mark runs whose process died as killed; remove their working containers and
    unverified (candidate) images. Only runs of this state directory are touched."""
    log = structlog.get_logger()
    state_dir = history.state_dir
    dead = [r.id for r in history.running() if not runs.is_alive(state_dir, r.id)]
    if dead:
        history.mark_killed(dead)
        log.warning("runs ended without finishing (killed)", runs=dead)
    # A killed run's work folders hold its network files (0600, proxy credentials) and
    # scratch files (a base rootfs): gone with the run, its logs kept.
    for run_id in dead:
        shutil.rmtree(state_dir / "runs" / run_id / "work", ignore_errors=True)
    # Working containers, and steps a killed ``buildah run`` left running without one.
    containers = sorted({*storage.containers(), *storage.step_containers()})
    stale = runs.of_dead_runs(state_dir, containers)
    if stale:
        with contextlib.suppress(OrchestrateError):
            storage.remove_containers(stale)
        log.warning("removed working containers of dead runs", containers=stale)
    candidates = runs.of_dead_runs(state_dir, storage.image_names())
    if candidates:
        with contextlib.suppress(OrchestrateError):
            storage.remove_images(candidates)
        log.warning("removed unverified images of dead runs", images=candidates)


def find_record(history: History, run_id: str) -> RunRecord:
    """A run by id, or the newest for ``latest``.

    Raises:
        ConfigError: there is no such run.
    """
    if run_id == "latest":
        newest = history.runs(limit=1)
        if not newest:
            raise ConfigError("RUN", "", f"no runs yet in {history.path}")
        return newest[0]
    record = history.run(run_id)
    if record is None:
        raise ConfigError("RUN", "", f"no run {run_id!r} in {history.path}")
    return record


def log_of(history: History, record: RunRecord, node: str) -> Path:
    """The path of ``node``'s log in ``record``.

    Raises:
        ConfigError: the run has no such node, or no log of it (never started, pruned).
    """
    recorded = {n.node: n.log_path for n in history.nodes(record.id)}
    if node not in record.nodes:
        raise ConfigError(
            "NODE", "", f"run {record.id} has no node {node!r}: {', '.join(record.nodes)}"
        )
    path = Path(recorded.get(node) or Path(record.log_dir) / f"{node}.log")
    if not path.is_file():
        why = "it never started" if node not in recorded else "its logs were pruned"
        raise ConfigError("NODE", "", f"no log of {node} in run {record.id} ({why}): {path}")
    return path


def wheels_image_of(history: History, run_id: str, platform_suffix: str) -> str:
    """The wheels image (requirements) run ``run_id`` (or ``latest``) built: of a run of
    several platforms, the one of ``platform_suffix`` (this host's), else the plain node.

    Raises:
        ConfigError: no such run, or the run has no wheels image.
    """
    record = find_record(history, run_id)
    nodes = {n.node: n for n in history.nodes(record.id)}
    node = nodes.get(f"{REQUIREMENTS_NODE}{platform_suffix}") or nodes.get(REQUIREMENTS_NODE)
    if node is None or not node.image:
        raise ConfigError("RUN", "", f"run {record.id} has no wheels image (requirements)")
    return node.image
