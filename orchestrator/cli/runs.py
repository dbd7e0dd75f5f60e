"""Commands about recorded runs: ``history``, ``show``, ``logs``, ``report`` and ``prune``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import local_storage, options, state_dir_of
from orchestrator.cli.group import cli
from orchestrator.engine.emulation import host_platform
from orchestrator.engine.runner import require_tool
from orchestrator.errors import (
    ConfigError,
)
from orchestrator.loading.load import check_output
from orchestrator.provenance import collect as provenance
from orchestrator.records.history import History
from orchestrator.records.housekeeping import find_record, log_of
from orchestrator.records.prune import Policy, apply_prune, plan_prune
from orchestrator.reporting.history_view import run_detail, runs_table
from orchestrator.reporting.html import write_report


@cli.command("history")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many runs to list.",
)
@click.option(
    "--pipeline",
    "pipeline",
    type=click.Path(path_type=Path),
    default=None,
    help="Only runs of this pipeline file.",
)
@options("state_dir")
@click.pass_context
def history_cmd(ctx: click.Context, /, limit: int, pipeline: Path | None, **values: Any) -> int:
    """List recent runs, newest first, with their result and node counts."""
    with History(state_dir_of(ctx, values)) as history:
        key = str(pipeline.resolve()) if pipeline is not None else None
        records = history.runs(limit=limit, pipeline=key)
        counts = history.status_counts([r.id for r in records])
    click.echo(runs_table(records, counts))
    return 0


@cli.command("show")
@click.argument("run_id", metavar="RUN")
@options("state_dir")
@click.pass_context
def show_cmd(ctx: click.Context, /, run_id: str, **values: Any) -> int:
    """Show one run node by node: status, key, image, time, log and error, and its gate
    checks (`latest` for the newest run)."""
    with History(state_dir_of(ctx, values)) as history:
        record = find_record(history, run_id)
        nodes = history.nodes(record.id)
        gate = history.gate_checks(record.id)
    click.echo(run_detail(record, nodes, gate))
    return 0


@cli.command("logs")
@click.argument("run_id", metavar="RUN")
@click.argument("node")
@click.option(
    "-n",
    "--tail",
    type=click.IntRange(min=1),
    default=None,
    metavar="LINES",
    help="Only the last LINES lines.",
)
@options("state_dir")
@click.pass_context
def logs_cmd(ctx: click.Context, /, run_id: str, node: str, tail: int | None, **values: Any) -> int:
    """Print NODE's build log from RUN (`latest` for the newest run)."""
    with History(state_dir_of(ctx, values)) as history:
        path = log_of(history, find_record(history, run_id), node)
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    click.echo("".join(lines[-tail:] if tail else lines), nl=False)
    return 0


@cli.command("report")
@click.argument("run_id", metavar="RUN")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@options("state_dir")
@click.pass_context
def report_cmd(ctx: click.Context, /, run_id: str, output: Path, **values: Any) -> int:
    """Write one self-contained HTML page about RUN (`latest` for the newest): its DAG, a
    timeline with the critical path and idle workers, and every node with a link to its log."""
    check_output("--output", output)
    with History(state_dir_of(ctx, values)) as history:
        record = find_record(history, run_id)
        nodes = history.nodes(record.id)
        gate = history.gate_checks(record.id)
    try:
        write_report(record, nodes, output, gate)
    except OSError as exc:
        raise ConfigError("--output", "", f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}")
    return 0


@cli.command("prune")
@click.option(
    "--keep-runs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Keep the images of this many latest successful runs of each pipeline.",
)
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0),
    default=None,
    metavar="DAYS",
    help="Only remove images built more than DAYS ago.",
)
@click.option(
    "--keep-logs",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Keep the run folders (logs, summaries) of this many latest runs.",
)
@click.option(
    "--logs-older-than",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="DAYS",
    help="Also remove run folders older than DAYS.",
)
@click.option("--dry-run", "dry_run", is_flag=True, help="Only list what would be removed.")
@options("state_dir")
@click.pass_context
def prune_cmd(
    ctx: click.Context,
    /,
    keep_runs: int,
    older_than: float | None,
    keep_logs: int,
    logs_older_than: float,
    dry_run: bool,
    **values: Any,
) -> int:
    """Remove superseded images and old run folders.

    An image goes when a newer build of its repository exists, it is not from the latest
    successful run of any pipeline, and (with --older-than) it is old enough. Only images
    orchestrate built are touched, and none while a run is in progress.
    """
    policy = Policy(
        keep_runs=keep_runs,
        older_than_days=older_than,
        keep_logs=keep_logs,
        logs_older_than_days=logs_older_than,
    )
    storage = local_storage()
    with History(state_dir_of(ctx, values)) as history:
        plan = plan_prune(
            history,
            policy,
            now=time.time(),
            image_key=storage.key_of,
            host=host_platform().name,
        )
        if plan.live_runs:
            click.echo(f"run in progress ({', '.join(plan.live_runs)}): images are kept")
        if dry_run:
            lines = [
                f"would remove image {b.image} ({b.node}, run {b.run_id})" for b in plan.images
            ]
            lines += [f"would remove run folder {p}" for p in plan.run_dirs]
        else:
            require_tool("buildah")
            state_dir = history.state_dir

            def remove_image(ref: str) -> None:
                """The image, and this host's record of its provenance."""
                digest = storage.manifest_digest(ref)
                storage.remove_images([ref])
                if digest:
                    provenance.forget(state_dir, digest)

            lines = apply_prune(plan, history, remove_image=remove_image)
    click.echo("\n".join(lines) if lines else "nothing to prune")
    return 0
