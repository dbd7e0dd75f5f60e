"""Retention of dated release tags in the registry (``orchestrate registry prune``): a
nightly's ``master-{date}`` tags would pile up forever.

For each node of the pipeline, the tags of its repository that one of its dated templates
(a tag template with ``{date}``) makes are sorted by date; the ``keep`` newest stay. An older
one goes by deleting its manifest (a registry deletes manifests, not tags), with the SBOM
artifact beside it (``sha256-<hex>.sbom``) and its signatures in the local lookaside. A
manifest that a kept tag still needs is never deleted: one a release tag points to
(``master``, ``2026.1``: the templates without ``{date}``), or one a kept dated tag shares
(an image unchanged for days carries several dates). Such a tag is *held* and said why.
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
    values = {"release": release, "node": node}
    out = []
    for template in templates:
        if "{" + DATE_FIELD + "}" in template:
            continue
        try:
            out.append(template.format(**values))
        except (KeyError, IndexError, ValueError):
            out.append(template)
    return out


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
    one held when a release tag (``released``: digest -> tag) or a kept tag shares its
    digest, deleted otherwise. Newest first."""
    newest = sorted(dated, key=lambda item: (item[1], item[0]), reverse=True)
    kept = newest[:keep]
    needed = {
        digest: f"release tag {tag!r} points to its image" for digest, tag in released.items()
    }
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


def prune_node(
    registry: Registry,
    *,
    node: str,
    repository: str,
    templates: Sequence[str],
    release: str,
    keep: int,
    dry_run: bool,
    lookaside: Path | None,
) -> NodePrune:
    """Prune one node's repository (nothing deleted with ``dry_run``).

    Raises:
        StepFailedError: the registry could not be asked, or refused a deletion.
    """
    result = NodePrune(node=node, repository=repository)
    pattern = dated_pattern(templates, release=release, node=node)
    if pattern is None:
        return result
    tags = registry.tags(repository)
    dated = []
    for tag in tags:
        date = date_of(pattern, tag)
        manifest = registry.manifest(f"{repository}:{tag}") if date else None
        if date and manifest is not None:
            dated.append((tag, date, manifest.digest))
    released = {}
    for tag in undated_tags(templates, release=release, node=node):
        manifest = registry.manifest(f"{repository}:{tag}") if tag in tags else None
        if manifest is not None:
            released[manifest.digest] = tag
    result.verdicts = decide(dated, released, keep)
    deleted: set[str] = set()
    for verdict in result.verdicts:
        if verdict.action is not Action.DELETE or verdict.digest in deleted:
            continue
        deleted.add(verdict.digest)
        sbom = sbom_tag(verdict.digest)
        sbom_manifest = registry.manifest(f"{repository}:{sbom}") if sbom in tags else None
        signatures = (
            signature_dir(lookaside, f"{repository}:{verdict.tag}", verdict.digest)
            if lookaside
            else None
        )
        if sbom_manifest is not None:
            result.sboms.append(sbom)
        if signatures is not None and signatures.is_dir():
            result.signatures.append(str(signatures))
        if dry_run:
            continue
        registry.delete(repository, verdict.digest)
        if sbom_manifest is not None:
            registry.delete(repository, sbom_manifest.digest)
        if signatures is not None and signatures.is_dir():
            shutil.rmtree(signatures)
    return result


def report(results: Sequence[NodePrune], *, dry_run: bool) -> list[str]:
    """What was (or, with ``dry_run``, would be) removed and what was held, node by node."""
    verb = "would delete" if dry_run else "deleted"
    lines = []
    total = 0
    for result in results:
        for verdict in result.verdicts:
            if verdict.action is Action.DELETE:
                total += 1
                lines.append(f"{verb} {result.repository}:{verdict.tag} ({verdict.digest[:19]})")
            elif verdict.action is Action.HOLD:
                lines.append(f"held {result.repository}:{verdict.tag}: {verdict.why}")
        lines += [f"{verb} {result.repository}:{sbom} (its SBOM)" for sbom in result.sboms]
        lines += [f"{verb} signatures {folder}" for folder in result.signatures]
    kept = sum(v.action is Action.KEEP for r in results for v in r.verdicts)
    done = "would be deleted" if dry_run else "deleted"
    lines.append(f"{total} dated tags {done}, {kept} kept")
    return lines
