"""Build and resume: a request prepared, executed and reported (``build``, ``plan``, ``resume``
and ``orchestrate`` without a command all end here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import given_with_group, local_storage, state_dir_of
from orchestrator.engine.runner import ShRunner
from orchestrator.errors import (
    ConfigError,
)
from orchestrator.execution import run
from orchestrator.model.request import Request
from orchestrator.records import resume
from orchestrator.records.history import History
from orchestrator.records.housekeeping import clean_up_dead_runs
from orchestrator.reporting.console import report_run


def run_request(request: Request, **resumed: Any) -> int:
    prepared = run.prepare(request, check_tools=not request.dry_run)
    if request.dry_run:
        click.echo("\n".join(run.explain(prepared, local_storage(prepared.storage_conf))))
        return 0
    result = run.execute(prepared, ShRunner(prepared.storage_conf), **resumed)
    report_run(
        result,
        prepared.nodes,
        pipeline=prepared.path,
        pipeline_name=prepared.resolved.pipeline.name,
        run_dir=prepared.run_dir,
        outputs=request.outputs,
    )
    return result.exit_code


def resume_from(
    ctx: click.Context, values: dict[str, Any], run_id: str | None, pipeline: Path | None
) -> int:
    given = given_with_group(ctx, values)
    state_dir = state_dir_of(ctx, values, pipeline)
    dry_run = bool(given.get("dry_run"))
    history = History.existing(state_dir) if dry_run else History(state_dir)
    if history is None:
        raise ConfigError("--resume", "", f"no runs yet in {state_dir}: nothing to resume")
    with history:
        if not dry_run:  # a dry run changes nothing, dead runs' leftovers included
            clean_up_dead_runs(history, local_storage())
        record = resume.find_run(history, run_id, pipeline)
        request = resume.resumed_request(history, record, given, os.environ)
        done_before = resume.finished_nodes(history, record)
    if request.dry_run:
        click.echo(f"would resume run {record.id} ({record.result}) of {request.pipeline}")
        return run_request(request)
    click.echo(f"resuming run {record.id} ({record.result}) of {request.pipeline}")
    return run_request(request, resumed_from=record.id, done_before=done_before)
