"""The executor seam: the scheduler hands a node's plan to an :class:`Executor`.

The real one (:mod:`.buildah_executor`) runs buildah; unit tests use a fake that
records calls and peak concurrency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestrator.model.results import Outcome
from orchestrator.planning.nodeplan import NodePlan


@dataclass(frozen=True, kw_only=True)
class NodeContext:
    """Per-attempt context: cancellation, deadline, log file and a progress callback."""

    run_id: str
    attempt: int
    cancel: threading.Event
    deadline: float | None
    log_path: Path
    on_step: Callable[[str], None] = field(default=lambda step: None)
    # Blocks until these parents have succeeded (raises ParentFailedError if one did not):
    # called before a step that needs a parent the node was allowed to start without.
    wait_for: Callable[[tuple[str, ...]], None] = field(default=lambda parents: None)
    # Says the node's image is built and verified (or reused): its children may use it while
    # it is pushed, and a failed push does not fail them.
    image_ready: Callable[[], None] = field(default=lambda: None)
    # The work waiting on this node (graph.dependents_of): its steps go first for a build
    # slot over a node with less.
    priority: int = 0


class Executor(Protocol):
    """Builds one node. Raises an :class:`~orchestrator.errors.OrchestrateError` on failure."""

    def execute(self, plan: NodePlan, ctx: NodeContext) -> Outcome:
        """Build (or reuse) ``plan``'s image and report how."""
        ...
