"""Resume: run a failed, interrupted or killed run again, building only what it did not finish.

A run's options are stored with it (credentials never: an option whose value carries them is
*withheld* and must be given again). Resuming replans the same pipeline with the same options;
nodes the run finished are found by their key and reused, and ``--no-cache`` of the first run
applies only to the nodes it had not finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from orchestrator.engine import process as engine
from orchestrator.errors import ConfigError
from orchestrator.loading.workflow import no_cache_for
from orchestrator.records import runs
from orchestrator.records.history import RUNNING, SUCCEEDED, History, RunRecord

# Options that are paths (restored as Path) and options a resume must not repeat.
_PATH_OPTIONS = ("profiles_dir", "summary_json", "junit")
_NOT_REPEATED = ("dry_run", "log_format", "verbose", "progress")


def stored_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The options as JSON-ready values, and the names of those withheld for credentials."""
    stored: dict[str, Any] = {}
    withheld: list[str] = []
    for name, value in sorted(options.items()):
        if name in _NOT_REPEATED or value is None or value == ():
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple | list):
            value = [str(v) for v in value]
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and engine.redact(t) != t for t in texts):
            withheld.append(name)
            continue
        stored[name] = value
    return stored, tuple(withheld)


def restored_options(record: RunRecord, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The run's options, with the ones given now (not None, not empty) taking precedence."""
    options: dict[str, Any] = {}
    for name, value in record.options.items():
        if name in _PATH_OPTIONS:
            options[name] = Path(value)
        elif isinstance(value, list):
            options[name] = tuple(value)
        else:
            options[name] = value
    for name, value in overrides.items():
        if value not in (None, ()):
            options[name] = value
    missing = [name for name in record.withheld if options.get(name) in (None, ())]
    if missing:
        flags = ", ".join("--" + name.replace("_", "-") for name in missing)
        structlog.get_logger().warning(
            "options with credentials are never stored: give them again if still needed",
            run=record.id,
            options=flags,
        )
    return options


def find_run(
    history: History, state_dir: Path, run_id: str | None, pipeline: Path | None
) -> RunRecord:
    """The run to resume: ``run_id``, else the latest run (of ``pipeline``, if given).

    Raises:
        ConfigError: no such run, it succeeded, or it is still running.
    """
    if run_id is not None:
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
    if record.result == RUNNING and runs.is_alive(state_dir, record.id):
        raise ConfigError("RUN", "", f"run {record.id} is still running (pid {record.pid})")
    if record.result == SUCCEEDED:
        raise ConfigError("RUN", "", f"run {record.id} succeeded: there is nothing to resume")
    return record


def finished_nodes(history: History, record: RunRecord) -> dict[str, str]:
    """Keys of the nodes ``record`` built or reused, mapped to its run id."""
    return {n.key: record.id for n in history.nodes(record.id) if n.status in ("built", "reused")}


def limit_no_cache(history: History, record: RunRecord, options: dict[str, Any]) -> None:
    """Keep the first run's ``--no-cache``/``--no-cache-for`` only for its unfinished nodes."""
    forced = set(record.nodes) if options.pop("no_cache", None) else set()
    forced |= no_cache_for(options)
    done = {n.node for n in history.nodes(record.id) if n.status in ("built", "reused")}
    todo = [node for node in record.nodes if node in forced and node not in done]
    options["no_cache_for"] = (",".join(todo),) if todo else ()
