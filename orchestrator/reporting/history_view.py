"""``orchestrate history`` and ``orchestrate show RUN``: the history database as text."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from orchestrator.model.results import CheckResult, GateResult
from orchestrator.records.history import NodeRecord, RunRecord
from orchestrator.reporting.summary import gate_report
from orchestrator.reporting.tables import columns, human_size


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _took(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "-"
    return f"{end - start:.1f}s"


def runs_table(records: Sequence[RunRecord], counts: dict[str, dict[str, int]]) -> str:
    """One line per run, newest first: id, start, time, result, node counts, pipeline."""
    if not records:
        return "no runs yet"
    rows: list[tuple[str, ...]] = [("RUN", "STARTED", "TIME", "RESULT", "NODES", "PIPELINE")]
    for r in records:
        tally = counts.get(r.id, {})
        nodes = ", ".join(f"{n} {status}" for status, n in sorted(tally.items())) or "-"
        result = r.result + (f" (resumes {r.resumed_from})" if r.resumed_from else "")
        rows.append(
            (r.id, _when(r.started), _took(r.started, r.finished), result, nodes, r.pipeline)
        )
    return "\n".join(columns(rows))


def run_detail(
    record: RunRecord, nodes: Sequence[NodeRecord], gate: Sequence[CheckResult] = ()
) -> str:
    """One run: its header, then node by node status, key, image, time, log and error, then
    its gate checks (if it ran any) with their logs."""
    lines = [
        f"run:       {record.id}",
        f"pipeline:  {record.pipeline}",
        f"command:   {record.command}",
        f"started:   {_when(record.started)}",
        f"finished:  {_when(record.finished)} ({_took(record.started, record.finished)})",
        f"result:    {record.result}"
        + (f" (exit {record.exit_code})" if record.exit_code is not None else ""),
    ]
    if record.error:
        lines.append(f"error:     {record.error}")
    if record.resumed_from:
        lines.append(f"resumes:   {record.resumed_from}")
    if record.withheld:
        lines.append(f"withheld:  {', '.join(record.withheld)} (credentials are never stored)")
    lines.append(
        f"logs:      {record.log_dir}" + ("" if Path(record.log_dir).is_dir() else " (pruned)")
    )
    lines.append("")
    rows: list[tuple[str, ...]] = [("NODE", "STATUS", "TRIES", "TIME", "KEY", "IMAGE ID", "SIZE")]
    seen = set()
    for n in nodes:
        seen.add(n.node)
        status = n.status + (f" ({n.reason})" if n.reason else "")
        rows.append(
            (
                n.node,
                status,
                str(n.attempts) if n.attempts else "-",
                f"{n.duration:.1f}s" if n.attempts else "-",
                n.key[:12] or "-",
                n.image_id[:12] or "-",
                human_size(n.size) if n.size else "-",
            )
        )
    for node in record.nodes:
        if node not in seen:
            rows.append((node, "not finished", "-", "-", "-", "-", "-"))
    lines.extend(columns(rows))
    lines += step_lines(nodes)
    for n in nodes:
        if n.error:
            lines += ["", f"{n.node}: {n.error}", f"    log: {n.log_path}"]
    if gate:
        lines += ["", "Gate:", *gate_report(GateResult(checks=list(gate)))]
        lines += [f"  {c.name} log: {c.log}" for c in gate if c.log]
    return "\n".join(lines)


def step_lines(nodes: Sequence[NodeRecord]) -> list[str]:
    """Where each node's time went: its steps (last attempt) and their durations."""
    timed = [n for n in nodes if n.steps]
    if not timed:
        return []
    lines = ["", "Steps (seconds, last attempt):"]
    for n in timed:
        parts = [f"{name} {finished - started:.1f}" for name, started, finished in n.steps]
        lines.append(f"  {n.node}: " + ", ".join(parts))
    return lines
