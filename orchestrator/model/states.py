"""The kinds and states shared by planning, the scheduler, the history and the reports."""

from __future__ import annotations

from enum import StrEnum


class NodeKind(StrEnum):
    """What a node of the image graph builds."""

    BASE = "base"
    BUILDER = "builder"
    REQUIREMENTS = "requirements"
    SHARED = "shared"
    SERVICE = "service"
    CHILD = "child"
    # A manifest list joining one image's platforms under its name (several platforms).
    MANIFEST = "manifest"


class Status(StrEnum):
    """How a node ended."""

    BUILT = "built"
    REUSED = "reused"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self in (Status.BUILT, Status.REUSED)


class RunState(StrEnum):
    """How a run ended (``running`` while it goes; ``killed`` when its process died)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    KILLED = "killed"
