"""Release tags in the registry, all or nothing: moved only when every node of the run
succeeded and every node's key tag is in the registry.

A nightly that fails halfway moves no release tag; a run that succeeds points each release
tag (``2026.1``, ``master-20261127``) at the digest of its node's key tag, by a tag copy
inside the registry (skopeo: only the manifest is written, no layer moves). A tag that
already points there is left alone, so running it again (``orchestrate promote``) finishes
an interrupted promotion.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from orchestrator.engine.registry import Manifest, Registry
from orchestrator.engine.signing import Signer
from orchestrator.errors import EXIT_NODE_FAILED, OrchestrateError, StepFailedError
from orchestrator.planning.nodeplan import NodePlan

COPY_TRIES = 3
COPY_BACKOFF_SECONDS = 2.0


class PromotionError(OrchestrateError):
    """Release tags could not be promoted: a key tag missing, or the registry failing."""

    exit_code = EXIT_NODE_FAILED


@dataclass
class Promotion:
    """What a promotion did: tags moved, and tags that pointed at the right image already."""

    promoted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def promote(
    plans: Mapping[str, NodePlan],
    registry: Registry,
    *,
    parallel: int,
    signer: Signer | None = None,
) -> Promotion:
    """Point every node's release tags at its key tag's digest, ``parallel`` at a time; with a
    ``signer``, sign each release tag's identity for that digest (once).

    Raises:
        PromotionError: a node's key tag is not in the registry (nothing is moved), or a
            tag copy failed after its tries (the tags listed as promoted moved).
    """
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        keys = dict(
            zip(
                plans,
                pool.map(lambda p: _lookup(registry, p.remote_key), plans.values()),
                strict=True,
            )
        )
    missing = sorted(node for node, manifest in keys.items() if manifest is None)
    if missing:
        raise PromotionError(
            f"key tags not in the registry: {', '.join(plans[n].remote_key for n in missing)}; "
            "no release tag moved"
        )
    found = {node: manifest for node, manifest in keys.items() if manifest is not None}
    moves = [
        (found[node], f"{plan.remote}:{tag}")
        for node, plan in plans.items()
        for tag in plan.release_tags
    ]
    done = Promotion()
    failures: list[str] = []

    def move(item: tuple[Manifest, str]) -> None:
        manifest, destination = item
        current = _lookup(registry, destination)
        if current is not None and current.digest == manifest.digest:
            if _signed(signer, manifest, destination, failures):
                done.unchanged.append(destination)
            return
        source = f"{manifest.ref.rsplit(':', 1)[0]}@{manifest.digest}"
        for attempt in range(1, COPY_TRIES + 1):
            try:
                registry.copy_tag(source, destination)
                if _signed(signer, manifest, destination, failures):
                    done.promoted.append(destination)
                return
            except StepFailedError as exc:
                if attempt == COPY_TRIES:
                    failures.append(f"{destination}: {exc.last_line}")
                    return
                time.sleep(COPY_BACKOFF_SECONDS * attempt)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(move, moves))
    done.promoted.sort()
    done.unchanged.sort()
    if failures:
        raise PromotionError(
            f"release tags not promoted: {'; '.join(sorted(failures))} (promoted: "
            f"{', '.join(done.promoted) or 'none'}); run 'orchestrate promote' again"
        )
    return done


def _signed(
    signer: Signer | None, manifest: Manifest, destination: str, failures: list[str]
) -> bool:
    """Sign ``destination`` as a name of ``manifest`` (nothing without a signer); a failure
    is one of the promotion's failures."""
    if signer is None:
        return True
    try:
        signer.sign(manifest.raw, destination)
    except StepFailedError as exc:
        failures.append(f"{destination}: not signed: {exc.last_line}")
        return False
    return True


def _lookup(registry: Registry, ref: str) -> Manifest | None:
    try:
        return registry.manifest(ref)
    except StepFailedError as exc:
        raise PromotionError(f"registry: cannot look up {ref}: {exc.last_line}") from None
