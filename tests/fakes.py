"""A fake executor for scheduler tests: records calls, order and peak concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import networkx as nx

from orchestrator.errors import CancelledError, StepFailedError, StepTimeoutError
from orchestrator.execution.executor import NodeContext
from orchestrator.model.results import Outcome
from orchestrator.model.states import NodeKind, Status
from orchestrator.planning.nodeplan import NodePlan, empty_plan


def dag(edges: Iterable[tuple[str, str]], nodes: Iterable[str] = ()) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    for node in graph:
        graph.nodes[node]["kind"] = NodeKind.SERVICE
    return graph


@dataclass
class FakeExecutor:
    """Sleeps ``duration`` per node (watching cancel and deadline), fails as told."""

    duration: float = 0.0
    fail: dict[str, int] = field(default_factory=dict)  # node -> attempts that fail
    hang: set[str] = field(default_factory=set)
    bug: set[str] = field(default_factory=set)  # nodes whose executor raises a non-OrchestrateError
    # nodes whose image is ready after ``duration`` but whose push then fails (after
    # ``push_duration`` more)
    push_fails: set[str] = field(default_factory=set)
    push_duration: float = 0.0
    on_start: Callable[[str], None] | None = None
    calls: list[tuple[str, int]] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    running: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def execute(self, plan: NodePlan, ctx: NodeContext) -> Outcome:
        with self.lock:
            self.calls.append((plan.node, ctx.attempt))
            self.started.setdefault(plan.node, time.monotonic())
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if self.on_start is not None:
                self.on_start(plan.node)
            end = time.monotonic() + (3600 if plan.node in self.hang else self.duration)
            while time.monotonic() < end:
                if ctx.cancel.is_set():
                    raise CancelledError(f"{plan.node} cancelled")
                if ctx.deadline is not None and time.monotonic() > ctx.deadline:
                    raise StepTimeoutError(f"{plan.node} timed out")
                time.sleep(0.002)
            if plan.node in self.bug:
                raise KeyError(f"{plan.node}: a bug")
            if plan.node in self.push_fails:
                ctx.image_ready()
                time.sleep(self.push_duration)
                raise StepFailedError("push", 125, "connection refused", "/dev/null")
            if self.fail.get(plan.node, 0) >= ctx.attempt:
                raise StepFailedError("build", 1, f"{plan.node} broke", "/dev/null")
            return Outcome(status=Status.BUILT, image_id="sha256:" + plan.node)
        finally:
            with self.lock:
                self.running -= 1
                self.finished[plan.node] = time.monotonic()


def plans_for(graph: nx.DiGraph) -> dict[str, NodePlan]:
    return {node: empty_plan(node) for node in graph}
