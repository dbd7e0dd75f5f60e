"""Masking credentials in text that leaves the process (logs, errors, stored options)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(:[^/@\s]*)?@")


def redact(text: str) -> str:
    """Mask user:password in any URL of ``text`` (proxy URLs must never reach a log)."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('scheme')}***@", text)


def has_credentials(text: str) -> bool:
    """True if ``text`` carries a URL with a user or password."""
    return redact(text) != text


def format_argv(argv: Sequence[str]) -> str:
    """Quote an argv for display, credentials masked."""
    return redact(shlex.join(argv))
