"""``orchestrate prune``: remove superseded images and old run folders (logs, summaries).

Only images orchestrate recorded building are candidates, named by their key tag. An image
is kept if it is the newest build of its repository for its platform (a repository holds
one image per platform and, of several platforms, their manifest list: each has its newest),
or a node of one of the latest
successful runs of any pipeline (``keep_runs``, default 1), or younger than ``older_than``.
Run folders go when they are beyond the newest ``keep_logs`` or older than
``logs_older_than``, except a live run's and the latest successful run's of each pipeline.
Images are left alone while a run is in progress: it may be building FROM one of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.naming import repository_of
from orchestrator.errors import OrchestrateError
from orchestrator.model.states import NodeKind, RunState
from orchestrator.records import runs
from orchestrator.records.history import BuildRecord, History, RunRecord

DAY = 86400.0


@dataclass(frozen=True, kw_only=True)
class Policy:
    """What to keep."""

    keep_runs: int = 1
    older_than_days: float | None = None
    keep_logs: int = 20
    logs_older_than_days: float | None = 30.0


@dataclass(kw_only=True)
class PrunePlan:
    """What a prune removes, and what it leaves because a run is alive."""

    images: list[BuildRecord] = field(default_factory=list)
    run_dirs: list[Path] = field(default_factory=list)
    live_runs: list[str] = field(default_factory=list)


def _latest_successful(records: list[RunRecord], keep: int) -> list[RunRecord]:
    """The newest ``keep`` successful runs of each pipeline."""
    per_pipeline: dict[str, list[RunRecord]] = {}
    for r in records:  # newest first
        if r.result == RunState.SUCCEEDED and len(per_pipeline.setdefault(r.pipeline, [])) < keep:
            per_pipeline[r.pipeline].append(r)
    return [r for kept in per_pipeline.values() for r in kept]


def plan_prune(
    history: History,
    policy: Policy,
    *,
    now: float,
    image_key: Callable[[str], str | None],
    host: str = "linux/amd64",
) -> PrunePlan:
    """Decide what to remove; changes nothing. ``image_key`` gives the key a local image or
    manifest list is of; ``host`` is the platform of builds recorded before keys named one."""
    out = PrunePlan()
    state_dir = history.state_dir
    records = history.runs()
    out.live_runs = [r.id for r in history.running() if runs.is_alive(state_dir, r.id)]
    kept_runs = _latest_successful(records, max(policy.keep_runs, 1))
    kept = {
        (repository_of(n.image), n.key)
        for r in kept_runs
        for n in history.nodes(r.id)
        if n.status.ok
    }
    if not out.live_runs:
        builds = list(history.builds())  # oldest first
        newest = {_slot(b, host): b.key for b in builds}
        for b in builds:
            if (b.repository, b.key) in kept or newest[_slot(b, host)] == b.key:
                continue
            if policy.older_than_days is not None and b.built > now - policy.older_than_days * DAY:
                continue
            found = image_key(b.image)  # a list's: its key tag, the key's first digits
            if found and b.key.startswith(found):
                out.images.append(b)
    protected = set(out.live_runs) | {r.id for r in kept_runs}
    run_root = state_dir / "runs"
    folders = (
        sorted((p for p in run_root.iterdir() if p.is_dir()), reverse=True)
        if run_root.is_dir()
        else []
    )
    started = {r.id: r.started for r in records}
    for rank, folder in enumerate(folders):
        if folder.name in protected or runs.is_alive(state_dir, folder.name):
            continue
        when = started.get(folder.name, folder.stat().st_mtime)
        too_old = (
            policy.logs_older_than_days is not None
            and when < now - policy.logs_older_than_days * DAY
        )
        if rank >= policy.keep_logs or too_old:
            out.run_dirs.append(folder)
    return out


def _slot(build: BuildRecord, host: str) -> tuple[str, str]:
    """What a newer build supersedes: the same repository's image of the same platform, or
    its manifest list."""
    if build.inputs.get("kind") == NodeKind.MANIFEST:
        return build.repository, NodeKind.MANIFEST.value
    return build.repository, build.inputs.get("platform", host)


def apply_prune(
    plan: PrunePlan,
    history: History,
    *,
    remove_image: Callable[[str], object],
) -> list[str]:
    """Remove what ``plan`` lists; returns one line per removal (or failure to remove)."""
    lines = []
    gone = []
    for b in plan.images:
        try:
            remove_image(b.image)
        except OrchestrateError as exc:  # one image in use must not stop the rest
            lines.append(f"kept image {b.image}: {exc}")
            continue
        gone.append(b)
        lines.append(f"removed image {b.image} ({b.node}, built in run {b.run_id})")
    history.forget_builds(gone)
    for folder in plan.run_dirs:
        shutil.rmtree(folder, ignore_errors=True)
        lines.append(f"removed run folder {folder}")
    return lines
