"""Build slots: at most so many build steps run at once across the nodes of a run.

``--parallel`` bounds the nodes in flight; the slots bound the work. On a host of few cores,
nine nodes that each run a command at once do not finish sooner than three: they share the
cores and pay for the contention (the full stack cold on 2 cores, ``--parallel 9``, one
build after the other: 568 CPU-seconds and 331 s unbounded, 522 and 313 s with three
slots). A step that waits for its parents' images holds no slot. When a slot frees, the
waiting step that goes first is a foreground one before a ``background`` one (work done
ahead of a parent, at low priority), then the one whose node more nodes wait for (a shared
node gating three services before a service that gates none), then the one that asked first.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from orchestrator.errors import CancelledError, StepTimeoutError

# The name of the time a node spends waiting for a slot (``orchestrate show``, the report).
SLOT_WAIT = "waiting for a build slot"


class BuildSlots:
    """A counting semaphore whose waiters are served in order (foreground first, then the
    node more nodes wait for, then first come), and which gives up when the run is
    cancelled or the node's deadline passes."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"build slots: {size} is not a positive number")
        self.size = size
        self._busy = 0
        # One ticket per waiting step: (background, -priority, arrival); the least goes first.
        self._waiting: set[tuple[bool, int, int]] = set()
        self._arrivals = itertools.count()
        self._cond = threading.Condition()

    @property
    def busy(self) -> int:
        with self._cond:
            return self._busy

    def acquire(
        self,
        *,
        background: bool,
        cancel: threading.Event,
        deadline: float | None = None,
        on_wait: Callable[[], None] = lambda: None,
        priority: int = 0,
    ) -> None:
        """Take a slot, waiting if none is free (``on_wait`` is called once, then).
        ``priority``: how many nodes wait for this step's node (more goes first).

        Raises:
            CancelledError: the run was cancelled while waiting.
            StepTimeoutError: the node's deadline passed while waiting.
        """
        with self._cond:
            ticket = (background, -priority, next(self._arrivals))
            self._waiting.add(ticket)
            try:
                waited = False
                while self._busy >= self.size or min(self._waiting) != ticket:
                    if not waited:
                        waited = True
                        on_wait()
                    if cancel.is_set():
                        raise CancelledError("cancelled while waiting for a build slot")
                    if deadline is not None and time.monotonic() > deadline:
                        raise StepTimeoutError("timed out waiting for a build slot")
                    self._cond.wait(0.1)
                self._busy += 1
            finally:
                self._waiting.discard(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @contextmanager
    def held(
        self,
        *,
        background: bool,
        cancel: threading.Event,
        deadline: float | None = None,
        on_wait: Callable[[], None] = lambda: None,
        priority: int = 0,
    ) -> Iterator[None]:
        self.acquire(
            background=background,
            cancel=cancel,
            deadline=deadline,
            on_wait=on_wait,
            priority=priority,
        )
        try:
            yield
        finally:
            self.release()
