"""Retention of dated release tags in the registry (``orchestrate registry prune``): a
nightly's ``master-{date}`` tags would pile up forever.

For each node of the pipeline, the tags of its repository that one of its dated templates
(a tag template with ``{date}``) makes are sorted by date; the ``keep`` newest stay. An older
one goes by deleting its manifest (a registry deletes manifests, not tags), with the SBOM
artifact beside it (``sha256-<hex>.sbom``, unless a kept image has the same one) and its
signatures in the local lookaside. A manifest another tag still needs is never deleted: one
any tag but a dated one, an SBOM's or a key tag points to (``master``, ``2026.1``, another
pipeline's release tag, a hand-made ``stable``), or one a kept dated tag shares (an image
unchanged for days carries several dates). Such a tag is *held* and said why.

A manifest list deleted this way leaves its platforms' images, which their key tags hold.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from orchestrator.engine.attachments import sbom_tag
from orchestrator.engine.registry import Registry
from orchestrator.engine.signing import signature_dir
from orchestrator.model.references import render_tag
from orchestrator.model.resolve import ResolvedPipeline

DATE_FIELD = "date"


class Action(StrEnum):
    KEEP = "keep"
    HOLD = "hold"
    DELETE = "delete"


@dataclass(frozen=True)
class Verdict:
    """What happens to one dated tag, and why."""

    tag: str
    date: str
    digest: str
    action: Action
    why: str = ""


@dataclass
class NodePrune:
    """One node's repository: its verdicts and what deleting removed beside the images."""

    node: str
    repository: str
    verdicts: list[Verdict] = field(default_factory=list)
    deleted: list[Verdict] = field(default_factory=list)  # (or, dry, would be) so far
    sboms: list[str] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)


def dated_pattern(templates: Iterable[str], *, release: str, node: str) -> re.Pattern[str] | None:
    """The tags the dated templates among ``templates`` make, any date (``(?P<date>\\d{8})``);
    None when no template has ``{date}``."""
    alternatives = []
    for template in templates:
        if "{" + DATE_FIELD + "}" not in template:
            continue
        parts = re.split(r"(\{release\}|\{date\}|\{node\})", template)
        regex = ""
        for part in parts:
            match part:
                case "{release}":
                    regex += re.escape(release)
                case "{node}":
                    regex += re.escape(node)
                case "{date}":
                    regex += r"(\d{8})"
                case _:
                    regex += re.escape(part)
        alternatives.append(regex)
    if not alternatives:
        return None
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


def undated_tags(templates: Iterable[str], *, release: str, node: str) -> list[str]:
    """The release tags the templates without ``{date}`` make (``master``, ``2026.1``)."""
    return [
        render_tag(template, release=release, date="", node=node)
        for template in templates
        if "{" + DATE_FIELD + "}" not in template
    ]


def date_of(pattern: re.Pattern[str], tag: str) -> str | None:
    """The date (YYYYMMDD) of a dated tag, None for any other tag."""
    found = pattern.fullmatch(tag)
    if found is None:
        return None
    return next(group for group in found.groups() if group is not None)


def decide(
    dated: Sequence[tuple[str, str, str]], released: Mapping[str, str], keep: int
) -> list[Verdict]:
    """Verdicts for ``dated`` tags ``(tag, date, digest)``: the ``keep`` newest kept; an older
    one held when another tag (``released``: digest -> a tag that is not dated) or a kept tag
    shares its digest, deleted otherwise. Newest first."""
    newest = sorted(dated, key=lambda item: (item[1], item[0]), reverse=True)
    kept = newest[:keep]
    needed = {digest: f"tag {tag!r} points to its image" for digest, tag in released.items()}
    for tag, _, digest in kept:
        needed.setdefault(digest, f"kept tag {tag!r} shares its image")
    verdicts = [
        Verdict(tag, date, digest, Action.KEEP, "one of the newest") for tag, date, digest in kept
    ]
    for tag, date, digest in newest[keep:]:
        if digest in needed:
            verdicts.append(Verdict(tag, date, digest, Action.HOLD, needed[digest]))
        else:
            verdicts.append(
                Verdict(tag, date, digest, Action.DELETE, f"older than the {keep} newest")
            )
    return verdicts


# A key tag: the first 20 hex digits of a node's cache key.
KEY_TAG = re.compile(r"[0-9a-f]{20}")
SBOM_SUFFIX = ".sbom"


def prune_node(
    registry: Registry,
    result: NodePrune,
    *,
    templates: Sequence[str],
    release: str,
    keep: int,
    dry_run: bool,
    lookaside: Path | None,
) -> None:
    """Prune the repository of ``result`` (nothing deleted with ``dry_run``), recording each
    deletion in ``result`` as it is made, so a failure halfway still tells what was done.

    Raises:
        StepFailedError: the registry could not be asked, or refused a deletion.
    """
    repository, node = result.repository, result.node
    pattern = dated_pattern(templates, release=release, node=node)
    if pattern is None:
        return
    tags = registry.tags(repository)
    dated: list[tuple[str, str, str]] = []
    needed: dict[str, str] = {}
    for tag in tags:
        date = date_of(pattern, tag)
        if date is None and (tag.endswith(SBOM_SUFFIX) or KEY_TAG.fullmatch(tag)):
            continue
        manifest = registry.manifest(f"{repository}:{tag}")
        if manifest is None:
            continue
        if date is not None:
            dated.append((tag, date, manifest.digest))
        else:
            needed.setdefault(manifest.digest, tag)
    result.verdicts = decide(dated, needed, keep)
    staying = {v.digest for v in result.verdicts if v.action is not Action.DELETE} | set(needed)
    kept_sboms = set()
    for digest in staying:
        if sbom_tag(digest) in tags:
            found = registry.manifest(f"{repository}:{sbom_tag(digest)}")
            if found is not None:
                kept_sboms.add(found.digest)
    deleted: set[str] = set()
    for verdict in result.verdicts:
        if verdict.action is not Action.DELETE or verdict.digest in deleted:
            continue
        deleted.add(verdict.digest)
        sbom = sbom_tag(verdict.digest)
        sbom_manifest = registry.manifest(f"{repository}:{sbom}") if sbom in tags else None
        if sbom_manifest is not None and sbom_manifest.digest in kept_sboms:
            sbom_manifest = None  # a kept image has the same SBOM document
        signatures = (
            signature_dir(lookaside, f"{repository}:{verdict.tag}", verdict.digest)
            if lookaside is not None
            else None
        )
        if not dry_run:
            registry.delete(repository, verdict.digest)
        result.deleted.append(verdict)
        if sbom_manifest is not None:
            if not dry_run:
                registry.delete(repository, sbom_manifest.digest)
            result.sboms.append(sbom)
        if signatures is not None and signatures.is_dir():
            if not dry_run:
                shutil.rmtree(signatures)
            result.signatures.append(str(signatures))


def report(results: Sequence[NodePrune], *, dry_run: bool) -> list[str]:
    """What was (or, with ``dry_run``, would be) removed and what was held, node by node."""
    verb = "would delete" if dry_run else "deleted"
    lines = []
    total = 0
    for result in results:
        done = {v.digest for v in result.deleted}
        for verdict in result.verdicts:
            if verdict.action is Action.DELETE and verdict.digest in done:
                total += 1
                lines.append(f"{verb} {result.repository}:{verdict.tag} ({verdict.digest[:19]})")
            elif verdict.action is Action.HOLD:
                lines.append(f"held {result.repository}:{verdict.tag}: {verdict.why}")
        lines += [f"{verb} {result.repository}:{sbom} (its SBOM)" for sbom in result.sboms]
        lines += [f"{verb} signatures {folder}" for folder in result.signatures]
    kept = sum(v.action is Action.KEEP for r in results for v in r.verdicts)
    outcome = "would be deleted" if dry_run else "deleted"
    lines.append(f"{total} dated tags {outcome}, {kept} kept")
    return lines


def prune_pipeline(
    resolved: ResolvedPipeline,
    images: Iterable[str],
    registry: Registry,
    *,
    registry_url: str,
    keep: int,
    dry_run: bool = False,
    lookaside: Path | None = None,
    results: list[NodePrune] | None = None,
) -> list[NodePrune]:
    """:func:`prune_node` for each of ``images`` (image names: a multi-platform graph has
    one repository per image), appended to ``results`` as it goes (what was deleted is known
    also when the registry fails halfway)."""
    out = results if results is not None else []
    for image in sorted(set(images)):
        service = resolved.services.get(image)
        result = NodePrune(node=image, repository=f"{registry_url.rstrip('/')}/{image}")
        out.append(result)
        prune_node(
            registry,
            result,
            templates=(*resolved.pipeline.tags, *(service.tags if service else ())),
            release=resolved.pipeline.release,
            keep=keep,
            dry_run=dry_run,
            lookaside=lookaside,
        )
    return out
