"""Release tags in the registry, all or nothing: moved only when every node of the run
succeeded and every node's key tag is in the registry.

A nightly that fails halfway moves no release tag; a run that succeeds points each release
tag (``2026.1``, ``master-20261127``) at the digest of its node's key tag, by a tag copy
inside the registry (skopeo: only the manifest is written, no layer moves). A tag that
already points there is left alone, so running it again (``orchestrate promote``) finishes
an interrupted promotion.

Nor does a release go backwards unnoticed: before any tag moves, the SBOM beside each new
image is compared with the SBOM beside the image its release tag points at now, and a
package or distribution in an older version refuses the whole promotion unless the
pipeline's ``allow_downgrades`` names it (a rebuilt nightly that resolved an older pin, a
base from an older snapshot).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from orchestrator.engine.registry import Manifest, Registry
from orchestrator.engine.signing import Signer
from orchestrator.errors import (
    EXIT_DOWNGRADE,
    EXIT_NODE_FAILED,
    ConfigError,
    OrchestrateError,
    StepFailedError,
)
from orchestrator.inspection.published_sbom import Document, sbom_beside
from orchestrator.inspection.sbom_diff import NO_DOWNGRADE, diff_sboms
from orchestrator.model.pipeline import AllowedDowngrades
from orchestrator.planning.nodeplan import NodePlan

COPY_TRIES = 3
COPY_BACKOFF_SECONDS = 2.0


class PromotionError(OrchestrateError):
    """Release tags could not be promoted: a key tag missing, or the registry failing."""

    exit_code = EXIT_NODE_FAILED


class DowngradeError(PromotionError):
    """A new image holds an older version of a package or distribution than the image its
    release tag points at now, and the pipeline does not allow it: no tag moved."""

    exit_code = EXIT_DOWNGRADE


@dataclass
class Promotion:
    """What a promotion did: tags moved, tags that pointed at the right image already, and
    what it could not check (a node with no SBOM to compare) or let through (an allowed
    downgrade), one line each."""

    promoted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def promote(
    plans: Mapping[str, NodePlan],
    registry: Registry,
    *,
    parallel: int,
    signer: Signer | None = None,
    allowed: AllowedDowngrades = NO_DOWNGRADE,
    pipeline: str = "the pipeline",
) -> Promotion:
    """Point every node's release tags at its key tag's digest, ``parallel`` at a time; with a
    ``signer``, sign each release tag's identity for that digest (once). Nothing moves when a
    new image downgrades what ``allowed`` (the ``pipeline`` file's ``allow_downgrades``)
    does not name.

    Raises:
        DowngradeError: a release tag would move onto a downgrade (nothing is moved).
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
    done.notes = _refuse_downgrades(
        plans, found, registry, parallel=parallel, allowed=allowed, pipeline=pipeline
    )
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


def _refuse_downgrades(
    plans: Mapping[str, NodePlan],
    found: Mapping[str, Manifest],
    registry: Registry,
    *,
    parallel: int,
    allowed: AllowedDowngrades,
    pipeline: str,
) -> list[str]:
    """Compare the SBOM beside each node's new image with the SBOM beside the image each of
    its release tags points at now (when that is another one). Returns what was not checked
    (no SBOM on a side) or let through (allowed downgrades), one line each.

    Raises:
        DowngradeError: a downgrade ``allowed`` does not name; it names the node, the first
            package, both versions and how to allow it.
        PromotionError: the registry failed.
    """
    refs = [
        (node, f"{plan.remote}:{tag}") for node, plan in plans.items() for tag in plan.release_tags
    ]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        currents = list(pool.map(lambda item: _lookup(registry, item[1]), refs))
    pairs = [
        (node, ref, current)
        for (node, ref), current in zip(refs, currents, strict=True)
        if current is not None and current.digest != found[node].digest
    ]
    wanted = {(plans[n].remote, found[n].digest) for n, _, _ in pairs}
    wanted |= {(plans[n].remote, current.digest) for n, _, current in pairs}
    ordered = sorted(wanted)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        documents = dict(
            zip(ordered, pool.map(lambda w: _sbom(registry, *w), ordered), strict=True)
        )
    notes: list[str] = []
    refused: list[str] = []
    for node, ref, current in pairs:
        remote, new = plans[node].remote, found[node]
        old_sbom, new_sbom = documents[remote, current.digest], documents[remote, new.digest]
        if old_sbom is None or new_sbom is None:
            side = ref if old_sbom is None else plans[node].remote_key
            notes.append(
                f"{node}: no SBOM to compare ({side} has no readable SBOM beside it): not checked"
            )
            continue
        changes = diff_sboms(old_sbom, new_sbom, names=(ref, f"{remote}@{new.digest}"))
        blocking = changes.refused(allowed)
        let_through = [c for c in changes.downgrades if c not in blocking]
        if let_through:
            names = ", ".join(f"{c.name} {c.old} -> {c.new}" for c in let_through)
            notes.append(f"{node}: {ref} downgrades, as allow_downgrades allows: {names}")
        if blocking:
            first, more = blocking[0], len(blocking) - 1
            refused.append(
                f"{node}: {ref} would downgrade {first.name} {first.old} -> {first.new}"
                + (f" and {more} more" if more else "")
                + f" (orchestrate diff {remote}@{new.digest} --against {ref})"
                + f"; allow it with 'allow_downgrades: [{first.name}]' (or true) in {pipeline}"
            )
    if refused:
        raise DowngradeError(
            f"{refused[0]}"
            + (f"; {len(refused) - 1} more node(s) too" if len(refused) > 1 else "")
            + "; no release tag moved"
        )
    return sorted(notes)


def _sbom(registry: Registry, repository: str, digest: str) -> Document | None:
    """The SBOM beside ``repository@digest``; None when there is none or it is unreadable
    (not checked, said so, but no reason to hold a release back)."""
    try:
        return sbom_beside(registry, repository, digest)
    except StepFailedError as exc:
        raise PromotionError(
            f"registry: cannot read the SBOM beside {repository}@{digest}: {exc.last_line}"
        ) from None
    except ConfigError:
        return None
