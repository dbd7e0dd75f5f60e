"""Configure structlog once, at the entry point: console on a TTY, JSON on request.

A live progress display needs log events printed through its own console and only warnings
while it draws; rather than configuring structlog again, it points the one configured sink
elsewhere for its duration (:func:`redirected`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["auto", "console", "json"]


class _Sink:
    """Where rendered events go, and the lowest level that gets there; switchable."""

    def __init__(self) -> None:
        self.file: TextIO | None = None
        self.level = logging.INFO
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        """Write an event; one that cannot be written (the output's reader gone: a broken
        pipe, a full disk) is dropped, never raised into the code that logged it (a run's
        Ctrl-C among them, which must go on to stop its nodes)."""
        with self.lock:
            target = self.file if self.file is not None else sys.stderr
            try:
                written = target.write(text)
                target.flush()
            except OSError:
                return 0
            return written

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        target = self.file if self.file is not None else sys.stderr
        return target.isatty()


_SINK = _Sink()
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}


def _filter(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if _LEVELS.get(method, 20) < _SINK.level:
        raise structlog.DropEvent
    return event


def configure_logging(
    fmt: LogFormat | str = "auto", *, verbose: bool = False, file: TextIO | None = None
) -> None:
    """Send structured events to stderr (or ``file``).

    ``auto`` renders for humans (with colours on a TTY, none otherwise); ``json`` emits one
    JSON object per event. ``node=`` and ``run=`` come from context variables, which each
    worker thread binds for itself. ``verbose`` adds every command.
    """
    _SINK.file = file
    _SINK.level = logging.DEBUG if verbose else logging.INFO
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_SINK.isatty())
    structlog.configure(
        processors=[
            _filter,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.BoundLogger,
        logger_factory=structlog.PrintLoggerFactory(file=_SINK),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


@contextlib.contextmanager
def redirected(file: TextIO, *, quiet: bool) -> Iterator[None]:
    """Print events to ``file`` meanwhile (``quiet``: warnings and errors only)."""
    previous = (_SINK.file, _SINK.level)
    _SINK.file = file
    if quiet and _SINK.level > logging.DEBUG:  # --verbose still shows every command
        _SINK.level = logging.WARNING
    try:
        yield
    finally:
        _SINK.file, _SINK.level = previous
