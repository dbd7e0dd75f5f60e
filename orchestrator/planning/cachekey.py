"""Content-addressed cache keys: a sha256 over everything that decides an image's content.

A node's inputs are named values (settings rendered as text, file digests, parent keys). The
key is the sha256 of their canonical JSON; the named inputs stay in the plan beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

KEY_SCHEMA = "orchestrate-key-v1"


def combined_digest(digests: Mapping[str, str]) -> str:
    """One digest over several named digests (e.g. files by name), in name order."""
    digest = hashlib.sha256()
    for name in sorted(digests):
        digest.update(f"{name}\0{digests[name]}\0".encode())
    return "sha256:" + digest.hexdigest()


def cache_key(inputs: Mapping[str, str]) -> str:
    """The node's key: sha256 over its named inputs in canonical form."""
    canonical = json.dumps({"schema": KEY_SCHEMA, "inputs": dict(inputs)}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
