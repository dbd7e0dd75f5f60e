"""What a release changes, from two images' SBOMs (``orchestrate diff NEW --against REF``, and
promotion's check before a release tag moves): the Debian packages and Python distributions
added, removed, upgraded and downgraded.

A downgrade is what this is for: a nightly that resolved an older ``oslo.config`` or was
built from a snapshot with an older ``libssl3`` than the release tag points at now. So
versions are compared in their own order, not as text: Debian's (epochs, ``~`` before
anything) with python-debian, Python's (PEP 440) with ``packaging``. A version that does not
parse is only "changed": neither up nor down can be said of it.

Pure: two CycloneDX documents (dicts) in, a :class:`SbomDiff` out; where the documents come
from is :mod:`.published_sbom`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from debian.debian_support import Version as DebVersion
from packageurl import PackageURL
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version as PyVersion

from orchestrator.model.pipeline import AllowedDowngrades
from orchestrator.reporting.tables import columns

Kind = Literal["deb", "pypi"]
Verdict = Literal["added", "removed", "upgraded", "downgraded", "changed"]

# The folder of the wheels a wheels image holds (their FILE components have no site).
WHEELS_SITE = "/wheels"
_ORDER: dict[str, int] = {"downgraded": 0, "changed": 1, "upgraded": 2, "added": 3, "removed": 4}
_TITLES: dict[Kind, str] = {"deb": "Debian packages", "pypi": "Python distributions"}


@dataclass(frozen=True)
class Change:
    """One package (``deb``: keyed by name and architecture) or distribution (``pypi``: by
    canonical name and site folder) that differs; ``old`` is "" when added, ``new`` when
    removed."""

    kind: Kind
    name: str
    where: str  # the architecture of a package, the site folder of a distribution
    old: str
    new: str
    verdict: Verdict

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "where": self.where,
            "old": self.old,
            "new": self.new,
            "change": self.verdict,
        }


NO_DOWNGRADE = AllowedDowngrades()


@dataclass(frozen=True)
class SbomDiff:
    """The differences from ``old`` (the published image) to ``new``, downgrades first."""

    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        return not self.changes

    @property
    def downgrades(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.verdict == "downgraded")

    def refused(self, allowance: AllowedDowngrades = NO_DOWNGRADE) -> tuple[Change, ...]:
        """The downgrades ``allowance`` does not allow."""
        return tuple(c for c in self.downgrades if not allowance.allows(c.name))

    def of_kind(self, kind: Kind) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    def as_dict(self, allowance: AllowedDowngrades = NO_DOWNGRADE) -> dict[str, Any]:
        refused = set(self.refused(allowance))
        out: dict[str, Any] = {
            "old": self.old,
            "new": self.new,
            "identical": self.identical,
            "refused_downgrades": len(refused),
        }
        for kind in _TITLES:
            changes = self.of_kind(kind)
            out["packages" if kind == "deb" else "python"] = {
                verdict: [
                    {
                        **c.as_dict(),
                        **({"allowed": c not in refused} if c in self.downgrades else {}),
                    }
                    for c in changes
                    if c.verdict == verdict
                ]
                for verdict in _ORDER
            }
        return out


def inventory(document: Mapping[str, Any]) -> dict[tuple[Kind, str, str], str]:
    """``(kind, name, where) -> version`` of every package and distribution an SBOM lists.

    Debian packages by name and architecture; installed distributions by canonical name and
    site folder (``orchestrate:site``); the wheels of a wheels image as the site
    :data:`WHEELS_SITE` (the highest version when it holds several of one project). The
    project component and anything without a version are left out: the project is also an
    installed distribution.
    """
    found: dict[tuple[Kind, str, str], str] = {}
    for component in document.get("components") or []:
        purl_text = component.get("purl")
        version = str(component.get("version") or "")
        if not purl_text or not version:
            continue
        try:
            purl = PackageURL.from_string(purl_text)
        except ValueError:
            continue
        qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
        if purl.type == "deb":
            found["deb", purl.name, str(qualifiers.get("arch", ""))] = version
        elif purl.type == "pypi":
            site = _site(component)
            if not site and str(component.get("bom-ref", "")).startswith("wheel:"):
                site = WHEELS_SITE
            if not site:
                continue
            key: tuple[Kind, str, str] = ("pypi", str(canonicalize_name(purl.name)), site)
            held = found.get(key)
            if held is None or _compare("pypi", held, version) == "upgraded":
                found[key] = version
    return found


def _site(component: Mapping[str, Any]) -> str:
    for prop in component.get("properties") or []:
        if prop.get("name") == "orchestrate:site":
            return str(prop.get("value", ""))
    return ""


def diff_sboms(
    old: Mapping[str, Any], new: Mapping[str, Any], *, names: tuple[str, str] = ("old", "new")
) -> SbomDiff:
    """What ``new`` adds, removes, upgrades and downgrades against ``old``."""
    before, after = inventory(old), inventory(new)
    changes: list[Change] = []
    for key in before.keys() | after.keys():
        kind, name, where = key
        a, b = before.get(key, ""), after.get(key, "")
        verdict: Verdict | None
        if not a:
            verdict = "added"
        elif not b:
            verdict = "removed"
        else:
            verdict = _compare(kind, a, b)
        if verdict is not None:
            changes.append(Change(kind=kind, name=name, where=where, old=a, new=b, verdict=verdict))
    changes.sort(key=lambda c: (c.kind, _ORDER[c.verdict], c.name, c.where))
    return SbomDiff(old=names[0], new=names[1], changes=tuple(changes))


def _compare(kind: Kind, old: str, new: str) -> Verdict | None:
    """``upgraded``/``downgraded`` in the kind's version order; None when equal (``1.0`` is
    ``1.0.0`` to PEP 440); ``changed`` when a version does not parse and the texts differ."""
    try:
        if kind == "deb":
            a: DebVersion | PyVersion = DebVersion(old)
            b: DebVersion | PyVersion = DebVersion(new)
        else:
            a, b = PyVersion(old), PyVersion(new)
    except (ValueError, InvalidVersion):  # InvalidVersion is a ValueError; said for clarity
        return None if old == new else "changed"
    if a == b:
        return None
    return "upgraded" if a < b else "downgraded"


def render(diff: SbomDiff, *, allowance: AllowedDowngrades = NO_DOWNGRADE, limit: int = 0) -> str:
    """One section per kind, each with a count line then its changes, downgrades first and
    marked ``DOWNGRADED`` (``downgraded (allowed)`` when ``allowance`` allows it); at most
    ``limit`` lines of the others per kind (0: all). Downgrades are never cut."""
    if diff.identical:
        return f"same packages and distributions: {diff.old} and {diff.new}"
    refused = set(diff.refused(allowance))
    lines = [f"--- {diff.old}", f"+++ {diff.new}"]
    for kind, title in _TITLES.items():
        changes = diff.of_kind(kind)
        counts = {v: sum(1 for c in changes if c.verdict == v) for v in _ORDER}
        said = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        lines.append(f"{title}: {said or 'no change'}")
        shown = [c for c in changes if c.verdict == "downgraded"]
        others = [c for c in changes if c.verdict != "downgraded"]
        shown += others[:limit] if limit else others
        if shown:
            rows: list[tuple[str, ...]] = [("", "NAME", _WHERE[kind], "OLD", "NEW")]
            rows += [(_mark(c, refused), c.name, c.where, c.old, c.new) for c in shown]
            lines += [f"  {line}" for line in columns(rows)]
        if len(shown) < len(changes):
            lines.append(f"  ... {len(changes) - len(shown)} more (--limit 0 shows all)")
    if refused:
        lines.append(f"{len(refused)} downgrade(s) not allowed: {_names(refused)}")
    return "\n".join(lines)


_WHERE: dict[Kind, str] = {"deb": "ARCH", "pypi": "SITE"}


def _mark(change: Change, refused: set[Change]) -> str:
    if change.verdict != "downgraded":
        return change.verdict
    return "DOWNGRADED" if change in refused else "downgraded (allowed)"


def _names(changes: Iterable[Change]) -> str:
    return ", ".join(sorted({c.name for c in changes}))
