"""Content-addressed cache keys: a sha256 over everything that decides an image's content.

A node's inputs are named values (settings rendered as text, file digests, parent keys). The
key is the sha256 of their canonical JSON; the named inputs stay in the plan beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

KEY_SCHEMA = "orchestrate-key-v1"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, prefixed ``sha256:``."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def files_digest(paths: Iterable[Path]) -> str:
    """One digest over several files, each named by its file name."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(f"{path.name}\0{file_digest(path)}\0".encode())
    return "sha256:" + digest.hexdigest()


def cache_key(inputs: Mapping[str, str]) -> str:
    """The node's key: sha256 over its named inputs in canonical form."""
    canonical = json.dumps({"schema": KEY_SCHEMA, "inputs": dict(inputs)}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
