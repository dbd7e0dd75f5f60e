"""The end-of-run summary: a table for people and a JSON document for machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.files import write_atomically
from orchestrator.model.results import GateResult, RunResult
from orchestrator.model.states import Status
from orchestrator.reporting.tables import columns, human_size

SUMMARY_SCHEMA_VERSION = 1
# The JSON Schema of the document :func:`to_json` returns (public: fields are only added).
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "summary.schema.json"


# Absent commands named per node under the table (all of them are in the JSON summary and in
# the image's /etc/image_info/runtime.json).
ABSENT_SHOWN = 8


def table(result: RunResult, order: list[str]) -> str:
    """A fixed-width table: node, status (with reason), attempts, duration, image id, size."""
    rows = [("NODE", "STATUS", "TRIES", "TIME", "IMAGE ID", "SIZE")]
    for node in order:
        r = result.results.get(node)
        if r is None:
            continue
        status = r.status.value
        if r.status is not Status.FAILED and r.reason:
            status += f" ({r.reason})"
        rows.append(
            (
                node,
                status,
                str(len(r.attempts)) if r.attempts else "-",
                f"{r.duration:.1f}s" if r.attempts else "-",
                r.image_id[:12] or "-",
                human_size(r.size) if r.size else "-",
            )
        )
    lines = columns(rows)
    for node in order:
        r = result.results.get(node)
        if r is not None and r.absent:
            shown = ", ".join(r.absent[:ABSENT_SHOWN])
            more = (
                f" and {len(r.absent) - ABSENT_SHOWN} more" if len(r.absent) > ABSENT_SHOWN else ""
            )
            lines.append(f"{node}: absent, as its catalog entry accepts: {shown}{more}")
    wall = (result.finished or result.started) - result.started
    counts = ", ".join(f"{result.count(s)} {s.value}" for s in Status if result.count(s))
    lines.append(f"run {result.run_id}: {counts} in {wall:.1f}s wall")
    if result.promoted:
        lines.append(f"promoted: {', '.join(result.promoted)}")
    if result.promotion_error:
        lines.append(result.promotion_error)
    lines += [f"retention: {line}" for line in result.retention]
    if result.retention_error:
        lines.append(result.retention_error)
    lines.extend(gate_lines(result))
    return "\n".join(lines)


def gate_lines(result: RunResult) -> list[str]:
    """The gate under the table: each check, and a failed check's reason with the last
    lines of the services it blames."""
    if result.gate_note:
        return [result.gate_note]
    if result.gate is None:
        return []
    lines = gate_report(result.gate)
    lines.append("release tags moved" if result.gate.passed else "no release tag moved")
    return lines


def gate_report(gate: GateResult) -> list[str]:
    """Each check's state, then the gate's verdict; for a failed check, the last lines of
    the services it blames."""
    lines = [
        f"gate {c.name}: {c.state.value}" + (f" in {c.seconds:.0f}s" if c.seconds else "")
        for c in gate.checks
    ]
    lines.append(gate.message())
    failed = gate.failed
    for log, last in failed.services if failed is not None else ():
        lines.append(f"--- last lines of {log}:")
        lines.extend(f"    {line}" for line in last.splitlines())
    return lines


def to_json(result: RunResult, order: list[str], *, pipeline: str, log_dir: Path) -> dict[str, Any]:
    """The run as a JSON-serialisable document (schema version 1)."""
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "run_id": result.run_id,
        "pipeline": pipeline,
        "started": result.started,
        "finished": result.finished,
        "wall_seconds": round((result.finished or result.started) - result.started, 3),
        "exit_code": result.exit_code,
        "log_dir": str(log_dir),
        "promoted": list(result.promoted),
        "promotion_error": result.promotion_error,
        "retention": list(result.retention),
        "retention_error": result.retention_error,
        "gate": _gate_json(result),
        "nodes": [
            {
                "node": node,
                "status": r.status.value,
                "reason": r.reason,
                "attempts": len(r.attempts),
                "duration_seconds": round(r.duration, 3),
                "started": r.started,
                "finished": r.finished,
                "image": r.image,
                "image_id": r.image_id,
                "size_bytes": r.size,
                "log": r.log_path,
                "error": r.error,
                "absent": list(r.absent),
            }
            for node in order
            if (r := result.results.get(node)) is not None
        ],
    }


def _gate_json(result: RunResult) -> dict[str, Any] | None:
    if result.gate is None and not result.gate_note:
        return None
    checks = result.gate.checks if result.gate is not None else []
    return {
        "passed": result.gate is not None and result.gate.passed,
        "note": result.gate_note,
        "checks": [
            {
                "name": c.name,
                "state": c.state.value,
                "exit_code": c.exit_code,
                "seconds": round(c.seconds, 3),
                "log": c.log,
                "logs_dir": c.logs_dir,
                "why": c.why,
                "services": [{"log": log, "last_lines": last} for log, last in c.services],
            }
            for c in checks
        ],
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write a JSON document atomically."""
    write_atomically(path, json.dumps(document, indent=2) + "\n")
