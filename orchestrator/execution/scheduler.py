"""Run the image DAG: each node starts as soon as all its parents succeeded, at most N at once.

Modelled on nox's ``_parallel``: a thread pool, ``wait(FIRST_COMPLETED)``, no level barriers.
An edge marked ``late`` (requirements → service) is needed by a later step, not to start: the
child may start once that parent is running, and its executor calls ``wait_for`` before the
step that needs it. Late parents are always running before their children start, so a child
waiting in a worker slot can never starve the parent it waits for.
A node's children may start as soon as its image is ready (built and verified, or reused),
while the node itself still pushes: a failed push fails that node only, not the children
built on its image.
A failed node's descendants end as ``skipped (parent failed)`` while independent nodes go on;
``fail_fast`` starts nothing new after a failure; Ctrl-C sets the cancel event that every
running executor watches, waits for them to clean up, and marks the rest cancelled.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import structlog

from orchestrator.errors import (
    CancelledError,
    OrchestrateError,
    ParentFailedError,
    StepFailedError,
    StepTimeoutError,
)
from orchestrator.execution.executor import Executor, NodeContext
from orchestrator.model.results import Attempt, NodeResult, RunResult, StepTime
from orchestrator.model.states import Status
from orchestrator.planning.graph import dependents_of, order
from orchestrator.planning.nodeplan import NodePlan

EventHook = Callable[[str, str, Mapping[str, object]], None]
ResultHook = Callable[[NodeResult], None]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Scheduling knobs: concurrency, retries per node, timeout per attempt, fail-fast."""

    parallel: int = 2
    retries: int = 0
    timeout: float | None = None
    fail_fast: bool = False


INTERNAL = "internal error (a bug in orchestrate)"
# How often the scheduling thread looks for images that became ready while their node
# still runs (pushing), between node ends.
_READY_POLL = 0.2


def _append_traceback(log_path: Path, exc: BaseException) -> None:
    """Keep a bug's traceback in the node's log (the summary keeps one line)."""
    with contextlib.suppress(OSError), log_path.open("a", encoding="utf-8") as out:
        out.write("!!! internal error (a bug in orchestrate); traceback:\n")
        out.write("".join(traceback.format_exception(exc)))


def _no_event(node: str, event: str, info: Mapping[str, object]) -> None:
    return None


def _no_result(result: NodeResult) -> None:
    return None


class Scheduler:
    """Runs one graph of plans through an executor; use :meth:`run` once."""

    def __init__(
        self,
        graph: nx.DiGraph,
        plans: Mapping[str, NodePlan],
        executor: Executor,
        *,
        run_id: str,
        log_dir: Path,
        limits: Limits,
        cancel: threading.Event | None = None,
        on_event: EventHook = _no_event,
        on_result: ResultHook = _no_result,
    ) -> None:
        """``on_event`` hears every start, step and end; ``on_result`` gets each node's end
        state as it is known (in the scheduling thread, one at a time)."""
        if limits.parallel < 1:
            raise ValueError("parallel must be >= 1")
        self.graph = graph
        self.plans = plans
        self.executor = executor
        self.run_id = run_id
        self.log_dir = log_dir
        self.limits = limits
        self.cancel = cancel or threading.Event()
        self.on_event = on_event
        self.on_result = on_result
        self.result = RunResult(run_id=run_id, started=time.time())
        self._order = order(graph)
        self._started: set[str] = set()
        self._done = {node: threading.Event() for node in graph}
        # Nodes whose image is ready for their children (maybe still pushing), and the
        # readiness a worker reported that the scheduling thread has not seen yet.
        self._ready = {node: threading.Event() for node in graph}
        self._newly_ready: queue.SimpleQueue[str] = queue.SimpleQueue()
        # Ready nodes start in this order: the most work waiting on them first (an emulated
        # chain before a native one), then the stable topological order.
        self._topo = {node: index for index, node in enumerate(self._order)}
        self._work = dependents_of(graph)
        ranked = sorted(enumerate(self._order), key=lambda item: (-self._work[item[1]], item[0]))
        self._rank = {node: rank for rank, (_, node) in enumerate(ranked)}
        # Nodes whose readiness may have changed: checking only these keeps a 1,000-node
        # run linear instead of rescanning every pending node at each start.
        self._candidates = {node for node in graph if graph.in_degree(node) == 0}

    # -- one node ----------------------------------------------------------------------------
    def _run_node(self, node: str) -> NodeResult:
        """Run one node in a worker thread, with retries; never raises."""
        log = structlog.get_logger()
        plan = self.plans[node]
        log_path = self.log_dir / f"{node}.log"
        attempts: list[Attempt] = []
        with structlog.contextvars.bound_contextvars(node=node, run=self.run_id):
            for number in range(1, self.limits.retries + 2):
                started = time.time()
                timeout = self.limits.timeout
                deadline = time.monotonic() + timeout if timeout else None
                marks: list[tuple[str, float]] = []

                def on_step(step: str, marks: list[tuple[str, float]] = marks) -> None:
                    marks.append((step, time.time()))
                    self.on_event(node, "step", {"step": step})

                ctx = NodeContext(
                    run_id=self.run_id,
                    attempt=number,
                    cancel=self.cancel,
                    deadline=deadline,
                    log_path=log_path,
                    on_step=on_step,
                    wait_for=functools.partial(self._wait_for, deadline=deadline),
                    image_ready=functools.partial(self._image_ready, node),
                    priority=self._work[node],
                )
                self.on_event(node, "started", {"attempt": number})
                log.info("node started", attempt=number)
                try:
                    outcome = self.executor.execute(plan, ctx)
                except Exception as exc:
                    internal = not isinstance(exc, OrchestrateError)
                    message = f"{INTERNAL}: {exc!r}" if internal else str(exc)
                    if internal:
                        _append_traceback(log_path, exc)
                    attempts.append(
                        Attempt(number=number, started=started, finished=time.time(), error=message)
                    )
                    status, reason = self._classify(exc)
                    if status is Status.FAILED:
                        log.error("node attempt failed", attempt=number, error=message)
                        if number <= self.limits.retries and not internal:
                            continue
                    return NodeResult(
                        node=node,
                        status=status,
                        attempts=tuple(attempts),
                        steps=step_times(marks, attempts[-1].finished),
                        reason=reason,
                        image=plan.image,
                        log_path=str(log_path),
                        error=message if status is Status.FAILED else "",
                        error_tail=exc.tail if isinstance(exc, StepFailedError) else "",
                        internal=internal and status is Status.FAILED,
                    )
                attempts.append(Attempt(number=number, started=started, finished=time.time()))
                log.info(
                    "node finished",
                    status=outcome.status.value,
                    seconds=round(attempts[-1].duration, 1),
                )
                return NodeResult(
                    node=node,
                    status=outcome.status,
                    attempts=tuple(attempts),
                    steps=step_times(marks, attempts[-1].finished),
                    reason=outcome.detail,
                    image=plan.image,
                    image_id=outcome.image_id,
                    size=outcome.size,
                    log_path=str(log_path),
                    absent=outcome.absent,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _classify(self, exc: Exception) -> tuple[Status, str]:
        """How a failed attempt ends the node: skipped, cancelled, or failed (retryable)."""
        if isinstance(exc, ParentFailedError):
            why = "parent failed" if exc.status == Status.FAILED.value else f"parent {exc.status}"
            return Status.SKIPPED, f"{why}: {exc.parent}"
        if isinstance(exc, CancelledError) or self.cancel.is_set():
            return Status.CANCELLED, "interrupted"
        return Status.FAILED, ""

    def _image_ready(self, node: str) -> None:
        """Called by a worker: ``node``'s image may be used by its children."""
        if not self._ready[node].is_set():
            self._ready[node].set()
            self._newly_ready.put(node)

    def _usable(self, parent: str) -> bool:
        """True if ``parent`` ended well, or failed after its image was ready (a push)."""
        done = self.result.results
        return self._ready[parent].is_set() or (parent in done and done[parent].status.ok)

    def _record(self, result: NodeResult) -> None:
        if result.status.ok:
            self._ready[result.node].set()
        self.result.results[result.node] = result
        self._done[result.node].set()
        self._candidates.update(self.graph.successors(result.node))
        self.on_result(result)
        self.on_event(result.node, result.status.value, {"reason": result.reason})

    def _wait_for(self, parents: tuple[str, ...], deadline: float | None) -> None:
        """Block a worker until the images of ``parents`` are ready; raise if one never
        will be."""
        for parent in parents:
            while not self._ready[parent].wait(0.1):
                if self._done[parent].is_set():
                    raise ParentFailedError(parent, self.result.results[parent].status.value)
                if self.cancel.is_set():
                    raise CancelledError(f"cancelled while waiting for {parent}")
                if deadline is not None and time.monotonic() > deadline:
                    raise StepTimeoutError(f"timed out waiting for {parent}")

    def _late(self, parent: str, child: str) -> bool:
        return bool(self.graph.edges[parent, child].get("late"))

    def _settle_blocked(self, pending: set[str]) -> None:
        """Mark pending nodes whose parent did not succeed as skipped, in topological order."""
        done = self.result.results
        changed = True
        while changed:
            changed = False
            for node in sorted(self._candidates & pending, key=self._topo.__getitem__):
                bad = sorted(
                    p for p in self.graph.predecessors(node) if p in done and not self._usable(p)
                )
                if bad:
                    why = done[bad[0]].status
                    reason = "parent failed" if why is Status.FAILED else f"parent {why.value}"
                    pending.discard(node)
                    self._record(
                        NodeResult(node=node, status=Status.SKIPPED, reason=f"{reason}: {bad[0]}")
                    )
                    changed = True

    def _next_ready(self, pending: set[str]) -> str | None:
        """The first pending node whose parents succeeded (late parents may still run)."""
        done = self.result.results

        def parent_ok(parent: str, child: str) -> bool:
            if self._usable(parent):
                return True
            return parent not in done and self._late(parent, child) and parent in self._started

        for node in sorted(self._candidates & pending, key=self._rank.__getitem__):
            if all(parent_ok(p, node) for p in self.graph.predecessors(node)):
                return str(node)
            # Not ready: it becomes a candidate again when one of its parents starts or ends.
            self._candidates.discard(node)
        return None

    def run(self) -> RunResult:
        """Run every node; returns when all have ended (or were skipped or cancelled)."""
        pending = set(self.graph.nodes)
        running: dict[Future[NodeResult], str] = {}
        failed: list[str] = []
        pool = ThreadPoolExecutor(
            max_workers=self.limits.parallel, thread_name_prefix="orchestrate"
        )
        try:
            while pending or running:
                if not self.cancel.is_set():
                    self._settle_blocked(pending)
                stop_starting = self.cancel.is_set() or (self.limits.fail_fast and failed)
                while not stop_starting and len(running) < self.limits.parallel:
                    # Re-evaluated after each start: starting a node can make its late
                    # children ready.
                    node = self._next_ready(pending)
                    if node is None:
                        break
                    pending.discard(node)
                    self._started.add(node)
                    self._candidates.discard(node)
                    self._candidates.update(
                        c for c in self.graph.successors(node) if self._late(node, c)
                    )
                    running[pool.submit(self._run_node, node)] = node
                if not running:
                    break
                try:
                    done, _ = wait(running, timeout=_READY_POLL, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    self._interrupt()
                    continue
                self._take_ready()
                for future in done:
                    node = running.pop(future)
                    result = future.result()
                    self._record(result)
                    if result.status is Status.FAILED:
                        failed.append(node)
        except KeyboardInterrupt:
            self._interrupt()
            self._drain(running)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for node in self._order:
            if node in pending:
                if self.cancel.is_set():
                    self._record(
                        NodeResult(
                            node=node,
                            status=Status.CANCELLED,
                            reason="run cancelled before it started",
                        )
                    )
                else:
                    self._record(
                        NodeResult(
                            node=node,
                            status=Status.SKIPPED,
                            reason=f"fail-fast: {failed[0]} failed",
                        )
                    )
        self.result.finished = time.time()
        return self.result

    def _take_ready(self) -> None:
        """Make the children of nodes whose image became ready candidates to start."""
        while True:
            try:
                node = self._newly_ready.get_nowait()
            except queue.Empty:
                return
            self._candidates.update(self.graph.successors(node))

    def _interrupt(self) -> None:
        # Cancel first, then say so: whatever saying it does, the running nodes are told.
        first = not self.cancel.is_set()
        self.cancel.set()
        self.result.interrupted = True
        if first:
            structlog.get_logger().warning(
                "interrupted: stopping running nodes and removing their containers"
            )

    def _drain(self, running: dict[Future[NodeResult], str]) -> None:
        """Wait for running nodes to stop after a cancel; a second Ctrl-C does not abandon
        their cleanup."""
        while running:
            try:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                continue
            for future in done:
                running.pop(future)
                self._record(future.result())


def step_times(marks: Sequence[tuple[str, float]], finished: float) -> tuple[StepTime, ...]:
    """Each step from its start mark to the next one (the last to the attempt's end)."""
    ends = [t for _, t in marks[1:]] + ([finished] if marks else [])
    return tuple(
        StepTime(name, started, end) for (name, started), end in zip(marks, ends, strict=True)
    )
