"""What a ``buildah run`` killed outright leaves behind, found by container name and removed.

Under OCI isolation buildah hands the step to the runtime (runc, crun) and waits for it. A
SIGTERM reaches the step through buildah, but a buildah killed with SIGKILL (orchestrate's
last resort when a step ignores SIGTERM, or the OOM killer) leaves the runtime's container
running with nobody waiting for it: a ``pip wheel`` went on for 17 s, overlapping the retry,
and a ``sleep`` outlived orchestrate. Under either isolation the step's bundle folder
(``buildah<random>`` in buildah's temporary directory, with the step's config) stays too.

Both are found by the working container's name, which buildah writes into the bundle's
``run/.containerenv``; only names the caller passes are touched, so other builds on the host
keep theirs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.runner import Runner, temporary_dir
from orchestrator.errors import StepFailedError, ToolMissingError

RUNTIMES = ("runc", "crun")
BUNDLE_PREFIX = "buildah"


@dataclass(frozen=True)
class Payload:
    """A runtime container a step was run in."""

    runtime: str
    id: str
    bundle: Path


def owner(bundle: Path) -> str | None:
    """The working container a bundle was made for, from its ``run/.containerenv``."""
    try:
        text = (bundle / "run" / ".containerenv").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "name":
            return value.strip().strip('"')
    return None


def payloads(runner: Runner) -> Iterator[tuple[str, Payload]]:
    """(container name, payload) for every runtime container a buildah step bundle names."""
    for runtime in RUNTIMES:
        try:
            listed = runner.capture((runtime, "list", "--format", "json"))
        except (ToolMissingError, StepFailedError):
            continue
        try:
            entries = json.loads(listed or "[]") or []
        except ValueError:
            continue
        for entry in entries:
            bundle = Path(str(entry.get("bundle", "")))
            name = owner(bundle) if bundle.name.startswith(BUNDLE_PREFIX) else None
            if name is not None:
                yield name, Payload(runtime=runtime, id=str(entry.get("id", "")), bundle=bundle)


def stop(runner: Runner, names: Collection[str]) -> list[str]:
    """Kill and delete the runtime containers of the working containers ``names``, and
    remove their bundles. Returns the names whose step was still there."""
    stopped = []
    for name, payload in payloads(runner):
        if name not in names or not payload.id:
            continue
        try:
            runner.capture((payload.runtime, "delete", "--force", payload.id))
        except StepFailedError:
            continue
        _remove_bundle(payload.bundle)
        stopped.append(name)
    remove_bundles(names)
    return stopped


def remove_bundles(names: Collection[str], where: Path | None = None) -> list[Path]:
    """Remove the step bundles left for the working containers ``names``."""
    removed = []
    try:
        candidates = list((where or temporary_dir()).glob(f"{BUNDLE_PREFIX}*"))
    except OSError:
        return []
    for bundle in candidates:
        ours = bundle.is_dir() and not bundle.is_symlink() and owner(bundle) in names
        if ours and _remove_bundle(bundle):
            removed.append(bundle)
    return removed


def _remove_bundle(bundle: Path) -> bool:
    """Remove a bundle unless something is still mounted in it (a live step's root)."""
    rootfs = bundle / "mnt" / "rootfs"
    if os.path.ismount(rootfs):
        return False
    shutil.rmtree(bundle, ignore_errors=True)
    return not bundle.exists()
