"""Build slots: at most so many build steps run at once across the nodes of a run.

``--parallel`` bounds the nodes in flight; the slots bound the work. On a host of few cores,
nine nodes that each run a command at once do not finish sooner than three: they share the
cores and pay for the contention (the full stack cold on 2 cores, ``--parallel 9``, one
build after the other: 568 CPU-seconds and 331 s unbounded, 522 and 313 s with three
slots). A step that waits for its parents' images holds no slot, and a waiting step of the
critical path goes before a waiting ``background`` step (work done ahead of a parent, at
low priority).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from orchestrator.errors import CancelledError, StepTimeoutError

# The name of the time a node spends waiting for a slot (``orchestrate show``, the report).
SLOT_WAIT = "waiting for a build slot"


class BuildSlots:
    """A counting semaphore whose foreground waiters go first, and which gives up when the
    run is cancelled or the node's deadline passes."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"build slots: {size} is not a positive number")
        self.size = size
        self._busy = 0
        self._waiting_foreground = 0
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
    ) -> None:
        """Take a slot, waiting if none is free (``on_wait`` is called once, then).

        Raises:
            CancelledError: the run was cancelled while waiting.
            StepTimeoutError: the node's deadline passed while waiting.
        """
        with self._cond:
            if not background:
                self._waiting_foreground += 1
            try:
                waited = False
                while self._busy >= self.size or (background and self._waiting_foreground):
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
                if not background:
                    self._waiting_foreground -= 1
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
    ) -> Iterator[None]:
        self.acquire(background=background, cancel=cancel, deadline=deadline, on_wait=on_wait)
        try:
            yield
        finally:
            self.release()
