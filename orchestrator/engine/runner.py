"""The seam between orchestrate and the processes it starts: the :class:`Runner` protocol.

:class:`orchestrator.engine.process.ShRunner` implements it with ``sh``; tests use fakes. It
lives in a module of its own, importing nothing of the engine, so every engine module (and
``leftovers``, which ``process`` uses) can name it without an import circle.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import IO, Protocol


class Runner(Protocol):
    """Runs commands: :class:`orchestrator.engine.process.ShRunner`, or a fake in tests."""

    def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        log: IO[str] | None = None,
        log_path: str = "",
        env: dict[str, str] | None = None,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
        niceness: int = 0,
    ) -> None:
        """Run a step to completion, streaming its output into ``log``.

        Raises StepFailedError, StepTimeoutError or CancelledError."""
        ...

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        """Run a short query and return its stdout. Raises StepFailedError."""
        ...
