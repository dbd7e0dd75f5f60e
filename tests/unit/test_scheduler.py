"""The scheduler, driven by a fake executor: concurrency, ordering, failures, retries, Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import threading
from pathlib import Path

import networkx as nx
import pytest

from orchestrator.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_NODE_FAILED, EXIT_OK
from orchestrator.execution.scheduler import Limits, Scheduler
from orchestrator.logsetup import configure_logging
from orchestrator.model.states import Status
from tests.conftest import SERVICES
from tests.fakes import FakeExecutor, dag, plans_for


def full_stack() -> object:
    edges = [("base", "requirements")]
    for s in SERVICES:
        edges += [("base", s), ("requirements", s)]
    return dag(edges)


def run(graph, executor, tmp_path: Path, **limits):  # type: ignore[no-untyped-def]
    scheduler = Scheduler(
        graph, plans_for(graph), executor, run_id="t", log_dir=tmp_path, limits=Limits(**limits)
    )
    return scheduler.run()


@pytest.mark.parametrize("parallel", [1, 2, 3, 9])
def test_never_more_than_parallel_nodes_run(tmp_path: Path, parallel: int) -> None:
    executor = FakeExecutor(duration=0.15)  # long enough for all 9 to overlap
    result = run(full_stack(), executor, tmp_path, parallel=parallel)
    assert result.exit_code == EXIT_OK
    assert executor.peak == min(parallel, len(SERVICES))
    assert result.count(Status.BUILT) == 11


def test_no_node_starts_before_its_parents_finish(tmp_path: Path) -> None:
    graph = full_stack()
    executor = FakeExecutor(duration=0.01)
    run(graph, executor, tmp_path, parallel=4)
    for parent, child in graph.edges:
        assert executor.started[child] >= executor.finished[parent], (parent, child)


def test_no_level_barrier_a_ready_node_starts_while_a_slow_sibling_runs(tmp_path: Path) -> None:
    # a -> b (slow), a -> c (fast) -> d: d must start before b ends.
    graph = dag([("a", "b"), ("a", "c"), ("c", "d")])
    executor = FakeExecutor(duration=0.01)
    slow = threading.Event()

    def on_start(node: str) -> None:
        if node == "b":
            slow.wait(2)

    executor.on_start = on_start
    result = run(graph, executor, tmp_path, parallel=2)
    slow.set()
    assert result.exit_code == EXIT_OK
    assert executor.started["d"] < executor.finished["b"]


def test_failure_skips_descendants_and_independent_nodes_go_on(tmp_path: Path) -> None:
    graph = dag(
        [
            ("base", "requirements"),
            ("requirements", "keystone"),
            ("base", "other"),
            ("keystone", "site-keystone"),
        ]
    )
    executor = FakeExecutor(fail={"keystone": 1})
    result = run(graph, executor, tmp_path, parallel=2)
    statuses = {n: r.status for n, r in result.results.items()}
    assert statuses == {
        "base": Status.BUILT,
        "requirements": Status.BUILT,
        "keystone": Status.FAILED,
        "other": Status.BUILT,
        "site-keystone": Status.SKIPPED,
    }
    assert result.results["site-keystone"].reason == "parent failed: keystone"
    assert result.results["keystone"].error_tail == "keystone broke"
    assert result.exit_code == EXIT_NODE_FAILED


def test_a_failed_push_fails_that_node_only_not_the_children_built_on_its_image(
    tmp_path: Path,
) -> None:
    # base's image is ready, then its push fails: its children build on the image (they
    # start while base still pushes); base is the one failed node.
    graph = dag([("base", "requirements"), ("requirements", "keystone"), ("base", "keystone")])
    executor = FakeExecutor(duration=0.01, push_fails={"base"}, push_duration=0.5)
    result = run(graph, executor, tmp_path, parallel=2)
    statuses = {n: r.status for n, r in result.results.items()}
    assert statuses == {
        "base": Status.FAILED,
        "requirements": Status.BUILT,
        "keystone": Status.BUILT,
    }
    assert "push" in result.results["base"].error
    assert executor.started["requirements"] < executor.finished["base"]
    assert result.exit_code == EXIT_NODE_FAILED


def test_cascade_goes_through_the_whole_subtree(tmp_path: Path) -> None:
    result = run(full_stack(), FakeExecutor(fail={"requirements": 1}), tmp_path, parallel=3)
    for service in SERVICES:
        assert result.results[service].status is Status.SKIPPED
        assert result.results[service].reason == "parent failed: requirements"


def test_retries_rerun_a_failed_node(tmp_path: Path) -> None:
    executor = FakeExecutor(fail={"b": 2})
    result = run(dag([("a", "b")]), executor, tmp_path, parallel=1, retries=2)
    assert result.results["b"].status is Status.BUILT
    assert len(result.results["b"].attempts) == 3
    assert [c for c in executor.calls if c[0] == "b"] == [("b", 1), ("b", 2), ("b", 3)]
    assert result.results["b"].attempts[0].error.startswith("step 'build' exited 1")


def test_a_bug_is_an_internal_error_not_a_failed_build(tmp_path: Path) -> None:
    graph = dag([("a", "b"), ("b", "c"), ("a", "d")])
    executor = FakeExecutor(bug={"b"})
    result = run(graph, executor, tmp_path, parallel=2, retries=2)
    b = result.results["b"]
    assert b.status is Status.FAILED and b.internal
    assert b.error.startswith("internal error (a bug in orchestrate): KeyError(")
    assert [c for c in executor.calls if c[0] == "b"] == [("b", 1)]  # a bug is not retried
    assert result.results["c"].status is Status.SKIPPED
    assert result.results["d"].status is Status.BUILT
    assert result.exit_code == EXIT_INTERNAL
    assert "Traceback" in (tmp_path / "b.log").read_text()


def test_retries_exhausted_fail_the_node(tmp_path: Path) -> None:
    result = run(dag([("a", "b")]), FakeExecutor(fail={"b": 5}), tmp_path, parallel=1, retries=1)
    assert result.results["b"].status is Status.FAILED
    assert len(result.results["b"].attempts) == 2


def test_fail_fast_starts_nothing_new(tmp_path: Path) -> None:
    graph = dag([], nodes=["a", "b", "c", "d"])
    executor = FakeExecutor(fail={"a": 1})
    result = run(graph, executor, tmp_path, parallel=1, fail_fast=True)
    assert [c[0] for c in executor.calls] == ["a"]
    assert result.results["a"].status is Status.FAILED
    for node in "bcd":
        assert result.results[node].status is Status.SKIPPED
        assert result.results[node].reason == "fail-fast: a failed"


def test_without_fail_fast_independent_nodes_all_run(tmp_path: Path) -> None:
    executor = FakeExecutor(fail={"a": 1})
    result = run(dag([], nodes=["a", "b", "c"]), executor, tmp_path, parallel=1)
    assert result.count(Status.BUILT) == 2 and result.count(Status.FAILED) == 1


def test_timeout_fails_the_node(tmp_path: Path) -> None:
    executor = FakeExecutor(hang={"b"})
    result = run(dag([("a", "b")]), executor, tmp_path, parallel=1, timeout=0.1)
    assert result.results["b"].status is Status.FAILED
    assert "timed out" in result.results["b"].error


def interrupted_when(
    node: str, graph: nx.DiGraph, executor: FakeExecutor, tmp_path: Path, parallel: int
) -> Scheduler:
    """A scheduler that gets a Ctrl-C just after ``node`` starts."""
    scheduler = Scheduler(
        graph,
        plans_for(graph),
        executor,
        run_id="t",
        log_dir=tmp_path,
        limits=Limits(parallel=parallel),
    )

    def interrupt(started: str) -> None:
        if started == node:
            # What the main thread sees on Ctrl-C: KeyboardInterrupt out of wait().
            threading.Timer(0.05, lambda: scheduler_interrupt(scheduler)).start()

    executor.on_start = interrupt
    return scheduler


def test_ctrl_c_cancels_running_and_pending_nodes(tmp_path: Path) -> None:
    executor = FakeExecutor(hang={"b", "c"})
    graph = dag([("a", "b"), ("a", "c"), ("b", "d")])
    result = interrupted_when("c", graph, executor, tmp_path, parallel=2).run()
    assert result.interrupted and result.exit_code == EXIT_INTERRUPTED
    assert result.results["a"].status is Status.BUILT
    assert result.results["b"].status is Status.CANCELLED
    assert result.results["c"].status is Status.CANCELLED
    assert result.results["d"].status is Status.CANCELLED
    assert executor.running == 0


class _BrokenOutput(io.StringIO):
    """Where the run's log goes when its reader is gone (a closed pipe)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_ctrl_c_stops_the_nodes_when_its_warning_cannot_be_written(tmp_path: Path) -> None:
    executor = FakeExecutor(hang={"b"})
    scheduler = interrupted_when("b", dag([("a", "b")]), executor, tmp_path, parallel=1)
    # Were the nodes left running, the run would wait for b's hour: released here, and said.
    rescued = threading.Event()
    watchdog = threading.Timer(10, lambda: (rescued.set(), scheduler.cancel.set()))
    configure_logging("auto", file=_BrokenOutput())  # the autouse fixture puts it back
    watchdog.start()
    try:
        result = scheduler.run()
    finally:
        watchdog.cancel()
    assert not rescued.is_set(), "the Ctrl-C did not stop the running node"
    assert result.interrupted and result.results["b"].status is Status.CANCELLED
    assert executor.running == 0


def scheduler_interrupt(scheduler: Scheduler) -> None:
    # A real SIGINT, as a terminal's Ctrl-C sends; it wakes the main thread's wait().
    os.kill(os.getpid(), signal.SIGINT)


def test_every_node_gets_exactly_one_result(tmp_path: Path) -> None:
    result = run(full_stack(), FakeExecutor(fail={"nova": 1}), tmp_path, parallel=9)
    assert sorted(result.results) == sorted(["base", "requirements", *SERVICES])


def test_parallel_must_be_positive(tmp_path: Path) -> None:
    graph = dag([("a", "b")])
    with pytest.raises(ValueError, match="parallel must be >= 1"):
        Scheduler(
            graph,
            plans_for(graph),
            FakeExecutor(),
            run_id="t",
            log_dir=tmp_path,
            limits=Limits(parallel=0),
        )


class WaitingExecutor(FakeExecutor):
    """Runs a prefix, then waits for the node's late parents, like a service build does."""

    def __init__(self, late: dict[str, tuple[str, ...]], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.late = late
        self.resumed: dict[str, float] = {}

    def execute(self, plan, ctx):  # type: ignore[no-untyped-def]
        if plan.node in self.late:
            import time as _time

            with self.lock:
                self.started.setdefault(plan.node, _time.monotonic())
            ctx.wait_for(self.late[plan.node])
            self.resumed[plan.node] = _time.monotonic()
        return super().execute(plan, ctx)


def late_stack() -> object:
    graph = dag([("base", "requirements"), ("base", "keystone"), ("base", "nova")])
    graph.add_edge("requirements", "keystone", late=True)
    graph.add_edge("requirements", "nova", late=True)
    return graph


def test_late_children_start_during_their_parent_but_wait_to_use_it(tmp_path: Path) -> None:
    executor = WaitingExecutor(
        {"keystone": ("requirements",), "nova": ("requirements",)}, duration=0.05
    )
    result = run(late_stack(), executor, tmp_path, parallel=3)
    assert result.exit_code == EXIT_OK
    for child in ("keystone", "nova"):
        assert executor.started[child] < executor.finished["requirements"]
        assert executor.resumed[child] >= executor.finished["requirements"]
        assert executor.started[child] >= executor.finished["base"]
    assert executor.peak <= 3


def test_late_parent_failure_skips_waiting_children(tmp_path: Path) -> None:
    executor = WaitingExecutor(
        {"keystone": ("requirements",), "nova": ("requirements",)},
        duration=0.05,
        fail={"requirements": 1},
    )
    result = run(late_stack(), executor, tmp_path, parallel=3)
    assert result.results["requirements"].status is Status.FAILED
    for child in ("keystone", "nova"):
        assert result.results[child].status is Status.SKIPPED
        assert result.results[child].reason == "parent failed: requirements"
    assert result.exit_code == EXIT_NODE_FAILED


@pytest.mark.parametrize("parallel", [1, 2])
def test_late_edges_cannot_deadlock_a_small_pool(tmp_path: Path, parallel: int) -> None:
    executor = WaitingExecutor(
        {"keystone": ("requirements",), "nova": ("requirements",)}, duration=0.01
    )
    result = run(late_stack(), executor, tmp_path, parallel=parallel)
    assert result.exit_code == EXIT_OK
    assert executor.peak <= parallel


def test_step_times_run_from_one_mark_to_the_next() -> None:
    from orchestrator.execution.scheduler import step_times

    got = step_times([("from", 10.0), ("waiting for requirements", 11.0), ("install", 40.0)], 55.0)
    assert [(t.name, t.duration) for t in got] == [
        ("from", 1.0), ("waiting for requirements", 29.0), ("install", 15.0)]  # fmt: skip
    assert step_times([], 5.0) == ()
