"""Configure structlog once, at the entry point: console on a TTY, JSON on request."""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["auto", "console", "json"]


def configure_logging(
    fmt: LogFormat = "auto",
    *,
    verbose: bool = False,
    file: TextIO | None = None,
    quiet: bool = False,
) -> None:
    """Send structured events to stderr (or ``file``).

    ``auto`` renders for humans (with colours on a TTY, none otherwise); ``json`` emits one
    JSON object per event. ``node=`` and ``run=`` come from context variables, which each
    worker thread binds for itself. ``quiet`` keeps only warnings and errors (a live display
    shows the rest); ``verbose`` adds every command.
    """
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    out = file if file is not None else sys.stderr
    tty = out.isatty()
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=tty)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
