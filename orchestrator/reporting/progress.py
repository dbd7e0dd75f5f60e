"""What a person sees while a run goes: a live table on a terminal, plain lines elsewhere.

On a TTY (and not in CI), :class:`LiveProgress` draws one line per node (status, current
step, elapsed time) under a header with the done/total count and an ETA, redrawn by rich four
times a second; a failing node's log tail is printed above it as the failure happens. Log
events go through the same console so they never tear the display.

Everywhere else, :class:`PlainProgress` logs each step as a timestamped structlog event, one
line each, and never redraws: what CI logs and ``--log-format json`` want.

The ETA is the longest remaining path through the graph, each node weighted by its duration
in the history (the last time it was built; about nothing if an image with its key was built
before). Without history for every remaining node there is no ETA.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import networkx as nx
import structlog
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from orchestrator.model.results import NodeResult
from orchestrator.model.states import Status
from orchestrator.planning.graph import order

ProgressMode = Literal["auto", "live", "plain"]
TAIL_LINES = 15
STYLES = {
    "waiting": "dim",
    "running": "bold cyan",
    Status.BUILT.value: "green",
    Status.REUSED.value: "green",
    Status.FAILED.value: "bold red",
    Status.SKIPPED.value: "yellow",
    Status.CANCELLED.value: "yellow",
}


def use_live(mode: ProgressMode, *, log_format: str, stream_is_tty: bool) -> bool:
    """Live display only on a terminal, outside CI, and not with JSON logs."""
    if mode != "auto":
        return mode == "live"
    return stream_is_tty and not os.environ.get("CI") and log_format != "json"


def format_seconds(seconds: float) -> str:
    whole = max(0, round(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass
class _NodeState:
    status: str = "waiting"
    step: str = ""
    started: float | None = None
    ended: float | None = None
    attempt: int = 0


class _Tracker:
    """Node states from scheduler events (any thread), and the ETA over them."""

    def __init__(self, graph: nx.DiGraph, estimates: Mapping[str, float]) -> None:
        self.graph = graph
        self.order = order(graph)
        self.estimates = dict(estimates)
        self.nodes = {node: _NodeState() for node in self.order}
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def on_event(self, node: str, event: str, info: Mapping[str, object]) -> None:
        with self.lock:
            state = self.nodes[node]
            if event == "started":
                state.status = "running"
                state.started = state.started or time.monotonic()
                state.attempt = int(str(info.get("attempt", 1)))
            elif event == "step":
                state.step = str(info.get("step", ""))
            else:
                state.status = event
                state.step = str(info.get("reason", ""))
                state.ended = time.monotonic()

    def done(self) -> int:
        return sum(1 for s in self.nodes.values() if s.ended is not None)

    def eta(self, now: float) -> float | None:
        """Seconds left along the longest remaining path, or None without estimates."""
        remaining: dict[str, float] = {}
        for node in self.order:
            state = self.nodes[node]
            if state.ended is not None:
                remaining[node] = 0.0
                continue
            estimate = self.estimates.get(node)
            if estimate is None:
                return None
            elapsed = now - state.started if state.started is not None else 0.0
            remaining[node] = max(estimate - elapsed, 0.0)
        finish: dict[str, float] = {}
        for node in self.order:
            before = max((finish[p] for p in self.graph.predecessors(node)), default=0.0)
            finish[node] = before + remaining[node]
        return max(finish.values(), default=0.0)


class PlainProgress:
    """Timestamped, line-oriented events through structlog; nothing is redrawn."""

    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def on_event(self, node: str, event: str, info: Mapping[str, object]) -> None:
        if event == "step":
            structlog.get_logger().info("node step", step=info.get("step", ""))

    def on_result(self, result: NodeResult) -> None:
        return None


class LiveProgress:
    """A rich live table of the nodes; failures' log tails printed above it."""

    def __init__(
        self,
        graph: nx.DiGraph,
        *,
        run_id: str,
        estimates: Mapping[str, float],
        console: Console | None = None,
    ) -> None:
        self.run_id = run_id
        self.tracker = _Tracker(graph, estimates)
        self.console = console or Console(stderr=True)
        self.live = Live(
            console=self.console,
            get_renderable=self.render,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def on_event(self, node: str, event: str, info: Mapping[str, object]) -> None:
        self.tracker.on_event(node, event, info)

    def on_result(self, result: NodeResult) -> None:
        if result.status is not Status.FAILED:
            return
        tail = "\n".join((result.error_tail or result.error).splitlines()[-TAIL_LINES:])
        self.console.print(
            Panel(
                Text(tail),
                title=f"{result.node} failed: {result.error}",
                subtitle=f"full log: {result.log_path}",
                border_style="red",
                title_align="left",
            )
        )

    def render(self) -> Group:
        now = time.monotonic()
        tracker = self.tracker
        with tracker.lock:
            total = len(tracker.nodes)
            done = tracker.done()
            running = sum(1 for s in tracker.nodes.values() if s.status == "running")
            eta = tracker.eta(now)
            table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
            for column in ("NODE", "STATUS", "STEP", "TIME"):
                table.add_column(column, no_wrap=True, overflow="ellipsis")
            for node, state in tracker.nodes.items():
                if state.started is None:
                    elapsed = ""
                else:
                    elapsed = format_seconds((state.ended or now) - state.started)
                status = state.status + (f" (try {state.attempt})" if state.attempt > 1 else "")
                table.add_row(
                    node, Text(status, style=STYLES.get(state.status, "")), state.step, elapsed
                )
        header = Text.assemble(
            (f"run {self.run_id}: ", "bold"),
            f"{done}/{total} done, {running} running, {format_seconds(now - tracker.started)}",
            f", ETA {format_seconds(eta)}" if eta is not None else ", ETA unknown (no history)",
        )
        return Group(header, table)


class ConsoleFile:
    """A file for structlog that prints through a rich console, above its live display."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def write(self, text: str) -> int:
        self.console.print(Text(text.rstrip("\n")), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return self.console.is_terminal
