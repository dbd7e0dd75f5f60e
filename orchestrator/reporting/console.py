"""The end of a build run: the summary table, the JSON summary and JUnit files, and for each
failed node its error, log tail and log path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from orchestrator.errors import CAUSE_PREFIXES
from orchestrator.model.request import Outputs
from orchestrator.model.results import RunResult
from orchestrator.reporting import summary
from orchestrator.reporting.junit import to_junit, write_junit

TAIL_SHOWN = 15


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
    summary.write_json(run_dir / "summary.json", document)
    if outputs.summary_json is not None:
        summary.write_json(outputs.summary_json, document)
    if outputs.junit is not None:
        write_junit(outputs.junit, to_junit(result, order, suite=f"orchestrate.{pipeline_name}"))
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
