"""Masking credentials in text that leaves the process (logs, errors, stored options).

A URL's user information is masked whatever its password contains (``/``, ``:``), with or
without a scheme: ``http://bob:S3cret/PW@proxy:3128`` and ``alice:PW@127.0.0.1:9`` both
become ``...***@host``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

# scheme://user[:password]@ : the user has no "/" or ":" (so "https://host/path@ref" and
# "file:///path@ref" are not credentials), the password anything but white space and "@".
_WITH_SCHEME = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s@/:]+(?::[^\s@]*)?@")
# user:password@host without a scheme (as proxies are often written); a password holding
# "://" is a URL after a prefix ("git:https://host/repo@ref"), not a password.
_WITHOUT_SCHEME = re.compile(r"(?<![\w/:.@-])[\w.%+-]+:(?!//)(?:(?!://)[^\s@])+@(?=[\w\[])")


def redact(text: str) -> str:
    """Mask user:password in any URL of ``text`` (proxy URLs must never reach a log)."""
    masked = _WITH_SCHEME.sub(lambda m: f"{m.group('scheme')}***@", text)
    return _WITHOUT_SCHEME.sub("***@", masked)


def has_credentials(text: str) -> bool:
    """True if ``text`` carries a URL with a user or password."""
    return redact(text) != text


def format_argv(argv: Sequence[str]) -> str:
    """Quote an argv for display, credentials masked."""
    return redact(shlex.join(argv))
