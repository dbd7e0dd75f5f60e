"""The end of a build run: the summary table, the JSON summary and JUnit files, and for each
failed node its error, log tail and log path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click

from orchestrator.errors import CAUSE_PREFIXES
from orchestrator.model.request import Outputs
from orchestrator.model.results import RunResult
from orchestrator.reporting import summary
from orchestrator.reporting.junit import to_junit, write_junit

TAIL_SHOWN = 15


def _write(what: str, path: Path, write: Callable[[Path], None]) -> None:
    try:
        write(path)
    except OSError as exc:
        click.echo(f"orchestrate: cannot write the {what} {path}: {exc.strerror or exc}", err=True)


def shown_tail(tail: str) -> list[str]:
    """The lines of a failure tail the terminal shows: every cause line, then the last ones."""
    lines = tail.splitlines()
    causes = [line for line in lines if line.startswith(CAUSE_PREFIXES)]
    rest = [line for line in lines if not line.startswith(CAUSE_PREFIXES)]
    return [*causes, *rest[-TAIL_SHOWN:]]


def report_run(
    result: RunResult,
    nodes: Sequence[str],
    *,
    pipeline: Path,
    pipeline_name: str,
    run_dir: Path,
    outputs: Outputs,
) -> None:
    """Print the summary and write the run's summary.json (and the requested outputs)."""
    order = list(nodes)
    log_dir = run_dir / "logs"
    click.echo(summary.table(result, order))
    document = summary.to_json(result, order, pipeline=str(pipeline), log_dir=log_dir)
    # A full disk must not lose the terminal's account of the run: each file is tried and a
    # failure said in one line (the table above already went out).
    _write("summary", run_dir / "summary.json", lambda p: summary.write_json(p, document))
    if outputs.summary_json is not None:
        _write("--summary-json", outputs.summary_json, lambda p: summary.write_json(p, document))
    if outputs.junit is not None:
        junit = to_junit(result, order, suite=f"orchestrate.{pipeline_name}")
        _write("--junit", outputs.junit, lambda p: write_junit(p, junit))
    click.echo(f"logs: {log_dir}")
    for node in order:
        r = result.results.get(node)
        if r is not None and r.error:
            click.echo(f"\n{node} failed: {r.error}", err=True)
            if r.error_tail:
                click.echo("\n".join("    " + line for line in shown_tail(r.error_tail)), err=True)
            click.echo(f"    full log: {r.log_path}", err=True)
    if result.exit_code != 0:
        click.echo(f"\ncontinue this run with: orchestrate resume {result.run_id}", err=True)
