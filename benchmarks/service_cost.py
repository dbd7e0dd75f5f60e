"""Benchmark: what one service costs on cached parents, step by step.

For each service named (default: keystone; ``--all``: the nine of the full stack), one after
the other: ``orchestrate build pipelines/full-stack.yaml --only SERVICE --no-cache-for
SERVICE`` (its parents reused from local storage: build the full stack once first). While it
runs, the machine's busy CPU time is sampled from ``/proc/stat`` every 20 ms; each step's
share is the busy time between its start and the next step's (the build of one node runs
its steps one after the other). Run it on an otherwise idle machine: the figures are the
machine's, not the build's alone (the build's own processes are also counted through
rusage, the ``rusage`` column).

Then the same command without ``--no-cache-for`` (every node reused: what any run of that
selection costs, orchestrate's start, plan, lock and records included). A service's marginal
cost is the difference: the work its build adds to a run, not the run's fixed cost.

Prints each step's wall and CPU-seconds, each service's totals, its no-op run and its
marginal cost, and the means over the services against the goal (issue: marginal cost of a
service <= 12 CPU-s).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from measure import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "full-stack.yaml"
NINE = ("cinder", "glance", "heat", "horizon", "ironic", "keystone", "neutron", "nova", "octavia")
GOAL_CPU = 12.0
TICK = os.sysconf("SC_CLK_TCK")
EVENT = re.compile(
    r"^(\S+Z) \[\w+\s*\] (node step|node finished)\s+.*?node=(\S+).*?(?:step=(\S+))?$"
)


def busy_seconds() -> float:
    """Busy CPU time of the whole machine so far (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / TICK


class Sampler(threading.Thread):
    """(monotonic-free wall clock, busy CPU-seconds) every 20 ms until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.time(), busy_seconds()))
            time.sleep(0.02)

    def busy_between(self, start: float, end: float) -> float:
        inside = [busy for when, busy in self.samples if start <= when <= end]
        return inside[-1] - inside[0] if len(inside) > 1 else 0.0


def noop(service: str) -> float:
    """Busy CPU-s of the same selection with every node reused (the run's fixed cost)."""
    argv = [
        sys.executable, "-m", "orchestrator", "--progress", "plain", "build", str(PIPELINE),
        "--only", service,
    ]  # fmt: skip
    busy0 = busy_seconds()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    busy = busy_seconds() - busy0
    if proc.returncode != 0 or re.search(r"\b[1-9][0-9]* built\b", proc.stderr + proc.stdout):
        sys.exit(f"{service}: the no-op run failed or built (exit {proc.returncode})")
    return busy


def measure(service: str) -> tuple[float, float, float, list[tuple[str, float, float]]]:
    """One service rebuilt on its cached parents: wall, busy CPU-s, rusage CPU-s, and each
    step's (name, wall, busy CPU-s)."""
    argv = [
        sys.executable, "-m", "orchestrator", "--progress", "plain", "build", str(PIPELINE),
        "--only", service, "--no-cache-for", service,
    ]  # fmt: skip
    sampler = Sampler()
    sampler.start()
    started, usage, busy0 = time.time(), cpu_seconds(), busy_seconds()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    ended, usage, busy = time.time(), cpu_seconds() - usage, busy_seconds() - busy0
    sampler.done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{service}: build failed (exit {proc.returncode})\n{proc.stderr[-3000:]}")
    marks: list[tuple[str, float]] = []
    for line in (proc.stdout + proc.stderr).splitlines():
        found = EVENT.match(line)
        if found and found.group(3) == service:
            when = datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp()
            marks.append((found.group(4) or "(end)", when))
    steps = [
        (name, end - start, sampler.busy_between(start, end))
        for (name, start), (_, end) in itertools.pairwise(marks)
    ]
    return ended - started, busy, usage, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("services", nargs="*", default=["keystone"])
    parser.add_argument("--all", action="store_true", help="the nine services, in turn")
    args = parser.parse_args()
    services = list(NINE) if args.all else args.services
    totals, marginals = [], []
    for service in services:
        wall, busy, usage, steps = measure(service)
        fixed = noop(service)
        totals.append(busy)
        marginals.append(busy - fixed)
        print(f"\n{service}: {wall:.1f} s wall, {busy:.1f} busy CPU-s, {usage:.1f} rusage CPU-s")
        for name, step_wall, step_cpu in steps:
            print(f"  {name:<32}{step_wall:>7.1f} s{step_cpu:>7.1f} CPU-s")
        print(f"  the same run, nothing built: {fixed:.1f} CPU-s; marginal: {busy - fixed:.1f}")
    mean = sum(totals) / len(totals)
    marginal = sum(marginals) / len(marginals)
    print(f"\nmean over {len(totals)}: {mean:.1f} busy CPU-s per service run")
    print(
        f"mean marginal cost (the run minus the same run with nothing built): {marginal:.1f}"
        f" CPU-s (goal <= {GOAL_CPU:.0f}: {'met' if marginal <= GOAL_CPU else 'not met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
