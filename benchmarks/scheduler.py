"""Benchmark: schedule a synthetic 1,000-node DAG through a no-op executor; print timings.

The DAG is layered like a large image tree: each node depends on up to three nodes of the
previous layer. Target: under 1 s for 1,000 nodes (scheduler overhead only).
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from pathlib import Path

import networkx as nx
import structlog

from orchestrator.execution.executor import NodeContext
from orchestrator.execution.scheduler import Limits, Scheduler
from orchestrator.model.results import Outcome
from orchestrator.model.states import NodeKind, Status
from orchestrator.planning.nodeplan import NodePlan, empty_plan


class NoOpExecutor:
    """Returns 'built' at once."""

    def execute(self, plan: NodePlan, ctx: NodeContext) -> Outcome:
        return Outcome(status=Status.BUILT)


def synthetic_dag(nodes: int, width: int, seed: int) -> nx.DiGraph:
    rng = random.Random(seed)
    graph = nx.DiGraph()
    layers: list[list[str]] = []
    for index in range(nodes):
        name = f"n{index:05d}"
        graph.add_node(name, kind=NodeKind.SERVICE)
        if not layers or len(layers[-1]) >= width:
            layers.append([])
        layers[-1].append(name)
        if len(layers) > 1:
            for parent in rng.sample(layers[-2], k=min(3, len(layers[-2]))):
                graph.add_edge(parent, name)
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=9)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    # Measure scheduling, not log rendering: only warnings and errors are printed.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    graph = synthetic_dag(args.nodes, args.width, seed=1)
    plans = {n: empty_plan(n) for n in graph}
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            result = Scheduler(
                graph,
                plans,
                NoOpExecutor(),
                run_id="bench",
                log_dir=Path(tmp),
                limits=Limits(parallel=args.parallel),
            ).run()
            times.append(time.perf_counter() - started)
        assert result.count(Status.BUILT) == args.nodes
    print(
        f"scheduler: {args.nodes} nodes, {graph.number_of_edges()} edges, "
        f"--parallel {args.parallel}"
    )
    print(
        f"  best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s, "
        f"worst {max(times):.3f} s over {args.repeat} runs (target < 1 s)"
    )


if __name__ == "__main__":
    main()
