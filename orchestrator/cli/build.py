"""``build``, ``plan``, ``gate``, ``promote`` and ``resume``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import BUILD, SELECTION, options, request_of
from orchestrator.cli.group import cli
from orchestrator.cli.running import resume_from, run_request
from orchestrator.engine.runner import ShRunner, require_tool
from orchestrator.execution import release, run
from orchestrator.model.options import SETTINGS
from orchestrator.reporting.summary import gate_report


@cli.command("build")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options(*BUILD)
@click.option(
    "--resume",
    "resume_run",
    is_flag=True,
    help="Continue the last run (of PIPELINE, if given) that failed, was interrupted or "
    "killed: only its unfinished nodes are built.",
)
@click.pass_context
def build_cmd(ctx: click.Context, /, pipeline: Path | None, resume_run: bool, **values: Any) -> int:
    """Build PIPELINE (default: pipelines/full-stack.yaml)."""
    if resume_run:
        return resume_from(ctx, values, None, pipeline)
    return run_request(request_of(ctx, values, pipeline))


@cli.command("plan")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options(*SELECTION, "profiles_dir", "no_cache", "no_cache_for", *(o.name for o in SETTINGS))
@click.pass_context
def plan_cmd(ctx: click.Context, /, pipeline: Path | None, **values: Any) -> int:
    """Print each node's key, image and every buildah command it would run, then whether
    each will be built or reused, and why: which of its inputs changed since its last build."""
    return run_request(request_of(ctx, {**values, "dry_run": True}, pipeline))


@cli.command("promote")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options(*SELECTION, "profiles_dir", *(o.name for o in SETTINGS))
@click.pass_context
def promote_cmd(ctx: click.Context, /, pipeline: Path | None, **values: Any) -> int:
    """Point the release tags of PIPELINE's selected nodes at their key tags in the registry,
    only if every one of those key tags is there (nothing moves otherwise): the last job of
    a pipeline that built one node per job (see `orchestrate export`). Nothing moves either
    when a new image holds an older version of a package or distribution than the image its
    release tag points at now (by their SBOMs in the registry) and the pipeline's
    allow_downgrades does not name it: exit 8. Then the pipeline's retention, if it has one:
    the older dated tags deleted (see `orchestrate registry prune`)."""
    request = request_of(ctx, values, pipeline)
    prepared = run.prepare(request, check_tools=False)
    require_tool("skopeo")
    done, registry = run.promote_release_tags(prepared, ShRunner(prepared.storage_conf))
    for tag in done.promoted:
        click.echo(f"promoted: {tag}")
    for tag in done.unchanged:
        click.echo(f"promoted: {tag} (unchanged)")
    for note in done.notes:  # no SBOM to compare, a downgrade the pipeline allows
        click.echo(f"note: {note}")
    lines, error = run.apply_retention(prepared, registry)
    for line in lines:
        click.echo(f"retention: {line}")
    if error:
        click.echo(f"orchestrate: warning: {error}", err=True)
    return 0


@cli.command("gate")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options(*SELECTION, "profiles_dir", *(o.name for o in SETTINGS))
@click.pass_context
def gate_cmd(ctx: click.Context, /, pipeline: Path | None, **values: Any) -> int:
    """Run PIPELINE's gate checks on the selected nodes' images (local, else pulled from the
    registry by key tag) and exit 0 if every check passed, 5 if one failed: the job between a
    CI engine's build jobs and its promote job (see `orchestrate export`). Moves no tag."""
    request = request_of(ctx, values, pipeline)
    prepared = run.prepare(request, check_tools=False)
    require_tool("buildah")
    result = run.gate_only(prepared, ShRunner(prepared.storage_conf))
    for line in gate_report(result):
        click.echo(line)
    return release.gate_exit_code(result)


@cli.command("resume")
@click.argument("run_id", metavar="RUN")
@options(*(o.name for o in SETTINGS), "dry_run")
@click.pass_context
def resume_cmd(ctx: click.Context, /, run_id: str, **values: Any) -> int:
    """Continue RUN (see `orchestrate history`; `latest` for the newest): build what it did
    not finish.

    The run's pipeline and options are used again; settings given here take precedence
    (credentials are never stored: give a proxy with credentials again).
    """
    return resume_from(ctx, values, run_id, None)
