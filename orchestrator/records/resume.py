"""Resume: run a failed, interrupted or killed run again, building only what it did not finish.

A run's request is stored with it (credentials never: an option whose value carries them is
*withheld* and must be given again). Resuming replans the same pipeline with the same request;
nodes the run finished are found by their key and reused, and ``--no-cache`` of the first run
applies only to the nodes it had not finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from orchestrator.errors import ConfigError
from orchestrator.model.request import Request
from orchestrator.model.states import RunState
from orchestrator.records import runs
from orchestrator.records.history import History, RunRecord


def find_run(history: History, run_id: str | None, pipeline: Path | None) -> RunRecord:
    """The run to resume: ``run_id`` (or ``latest``), else the latest run (of ``pipeline``).

    Raises:
        ConfigError: no such run, it succeeded, or it is still running.
    """
    if run_id is not None and run_id != "latest":
        record = history.run(run_id)
        if record is None:
            raise ConfigError("RUN", "", f"no run {run_id!r} in {history.path}")
    else:
        key = str(pipeline.resolve()) if pipeline is not None else None
        latest = history.runs(limit=1, pipeline=key)
        if not latest:
            where = f" of {pipeline}" if pipeline is not None else ""
            raise ConfigError("--resume", "", f"no run{where} in {history.path} to resume")
        record = latest[0]
    if record.result == RunState.RUNNING and runs.is_alive(history.state_dir, record.id):
        raise ConfigError("RUN", "", f"run {record.id} is still running (pid {record.pid})")
    if record.result == RunState.SUCCEEDED:
        raise ConfigError("RUN", "", f"run {record.id} succeeded: there is nothing to resume")
    return record


def finished_nodes(history: History, record: RunRecord) -> dict[str, str]:
    """Keys of the nodes ``record`` built or reused, mapped to its run id."""
    return {n.key: record.id for n in history.nodes(record.id) if n.status.ok}


def resumed_request(
    history: History, record: RunRecord, given: Mapping[str, Any], environ: Mapping[str, str]
) -> Request:
    """The run's stored request, with the options ``given`` now taking precedence, and the
    first run's ``--no-cache``/``--no-cache-for`` kept only for its unfinished nodes."""
    stored = dict(record.options)
    if "pipeline" not in stored:
        stored["pipeline"] = record.pipeline
    request = Request.restored(stored, environ=environ).with_overrides(given)
    missing = [name for name in record.withheld if name not in request.given]
    if missing:
        flags = ", ".join("--" + name.replace("_", "-") for name in missing)
        structlog.get_logger().warning(
            "options with credentials are never stored: give them again if still needed",
            run=record.id,
            options=flags,
        )
    forced = set(record.nodes) if request.no_cache else set()
    forced |= request.no_cache_for
    done = {n.node for n in history.nodes(record.id) if n.status.ok}
    todo = [node for node in record.nodes if node in forced and node not in done]
    request = request.without("no_cache", "no_cache_for")
    return request.with_overrides({"no_cache_for": (",".join(todo),)}) if todo else request
