"""A run in the history: recorded as started (its request, credentials withheld), each node
as it ends, the run's end state, and a run that failed before its first node."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import networkx as nx
import structlog

from orchestrator.errors import (
    FetchError,
    StateError,
)
from orchestrator.model.request import Request
from orchestrator.model.results import GateResult, NodeResult, RunResult
from orchestrator.model.settings import Settings
from orchestrator.model.states import RunState, Status
from orchestrator.planning.graph import order
from orchestrator.planning.nodeplan import NodePlan
from orchestrator.records.history import History
from orchestrator.redaction import format_argv


def start_run(
    history: History,
    request: Request,
    path: Path,
    graph: nx.DiGraph,
    *,
    run_id: str,
    started: datetime,
    resumed_from: str | None = None,
) -> None:
    """Record a run as started: its request (credentials withheld), command line and graph."""
    stored, withheld = request.stored()
    stored["pipeline"] = str(path.resolve())
    history.start_run(
        run_id=run_id,
        pipeline=str(path.resolve()),
        command=format_argv(["orchestrate", *sys.argv[1:]]),
        options=stored,
        withheld=withheld,
        nodes=order(graph),
        edges=sorted(graph.edges),
        log_dir=history.state_dir / "runs" / run_id / "logs",
        pid=os.getpid(),
        resumed_from=resumed_from,
        started=started.timestamp(),
    )


def record_unstarted(
    request: Request,
    path: Path,
    settings: Settings,
    graph: nx.DiGraph,
    run_id: str,
    started: datetime,
    error: FetchError,
) -> bool:
    """Record a run that failed before its first node: a source could not be fetched. The
    history then shows it as failed (exit 3) with the reason, and it can be resumed."""
    log_dir = settings.state_dir / "runs" / run_id / "logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        with History(settings.state_dir) as history:
            start_run(history, request, path, graph, run_id=run_id, started=started)
            history.finish_run(
                run_id,
                result=RunState.FAILED,
                exit_code=error.exit_code,
                finished=time.time(),
                error=str(error),
            )
    except (StateError, OSError) as exc:
        structlog.get_logger().error("could not record the run in the history", error=str(exc))
        return False
    return True


def record_node(
    history: History, run_id: str, plans: Mapping[str, NodePlan], result: NodeResult
) -> None:
    """Record a node as it ends (and, if built, its build for later reuse); a failed write
    is logged, never stops the builds."""
    plan = plans[result.node]
    try:
        history.record_node(run_id, result, plan.key)
        if result.status is Status.BUILT:
            history.record_build(
                key=plan.key,
                node=result.node,
                image=plan.image,
                image_id=result.image_id,
                inputs=plan.inputs,
                run_id=run_id,
                built=result.finished or time.time(),
            )
    except StateError as exc:  # a history write must not stop the builds
        structlog.get_logger().error(
            "could not record the node in the history", node=result.node, error=str(exc)
        )


def record_gate(history: History, run_id: str, gate: GateResult) -> None:
    """Record a run's gate checks; a failed write is logged (the summary still says it)."""
    try:
        history.record_gate(run_id, gate)
    except StateError as exc:
        structlog.get_logger().error("could not record the gate in the history", error=str(exc))


def run_state(result: RunResult) -> RunState:
    """The run's end state in the history."""
    if result.interrupted:
        return RunState.INTERRUPTED
    return RunState.SUCCEEDED if result.exit_code == 0 else RunState.FAILED
