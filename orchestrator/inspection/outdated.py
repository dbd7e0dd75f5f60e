"""``orchestrate outdated``: what in an image has a newer version now, from the image's own
SBOM and apt sources and the archive's current indexes; and which of its Python
distributions differ from the pipeline's current upper-constraints.

Reading an image (:func:`read_image`) and comparing (:func:`compare`) are apart: the
comparison is a pure function of the image's inventory, the archive's offers and the pins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packageurl import PackageURL
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from orchestrator.errors import ConfigError
from orchestrator.inspection.image_files import SBOM_PATH
from orchestrator.loading.archive import AptSource, Offer, best_offer, newer, parse_sources
from orchestrator.reporting.tables import columns

SOURCES_LIST = "etc/apt/sources.list"
SOURCES_DIR = "etc/apt/sources.list.d"


@dataclass(frozen=True)
class DebInstalled:
    name: str
    version: str
    arch: str


@dataclass(frozen=True)
class Inventory:
    """What an image says it holds: its Debian packages and Python distributions (from its
    SBOM), the apt sources it was built from and its architecture."""

    debs: tuple[DebInstalled, ...]
    distributions: Mapping[str, str]
    sources: tuple[AptSource, ...]
    arch: str


@dataclass(frozen=True)
class OutdatedPackage:
    name: str
    installed: str
    available: str
    suite: str
    security: bool


@dataclass(frozen=True)
class OutdatedDistribution:
    name: str
    installed: str
    pinned: str


@dataclass(frozen=True)
class ImageReport:
    """One image: its outdated packages and the distributions its pins no longer match."""

    name: str
    image: str
    packages: tuple[OutdatedPackage, ...] = ()
    distributions: tuple[OutdatedDistribution, ...] = ()
    suites: tuple[str, ...] = field(default=())
    pinned: bool = False  # its distributions were compared with pins

    @property
    def outdated(self) -> bool:
        return bool(self.packages or self.distributions)


def read_image(root: Path, image: str) -> Inventory:
    """The inventory of the image mounted at ``root``.

    Raises:
        ConfigError: the image has no SBOM (not built by orchestrate) or no apt sources.
    """
    sbom_file = root / SBOM_PATH.lstrip("/")
    if not sbom_file.is_file():
        raise ConfigError(image, "", f"has no {SBOM_PATH}: not an image orchestrate built")
    document = json.loads(sbom_file.read_text())
    debs, distributions, arches = [], {}, set()
    for component in document.get("components", []):
        purl_text = component.get("purl")
        if not purl_text:
            continue
        purl = PackageURL.from_string(purl_text)
        if purl.type == "deb" and purl.version:
            arch = str((purl.qualifiers or {}).get("arch", ""))
            debs.append(DebInstalled(name=purl.name, version=purl.version, arch=arch))
            if arch and arch != "all":
                arches.add(arch)
        elif purl.type == "pypi" and purl.version and not _from_debian(component):
            distributions[str(canonicalize_name(purl.name))] = purl.version
    sources = _apt_sources(root)
    if not sources:
        raise ConfigError(image, "", "has no apt sources (/etc/apt/sources.list): which suite?")
    arch = "amd64" if not arches or "amd64" in arches else sorted(arches)[0]
    return Inventory(
        debs=tuple(debs), distributions=distributions, sources=tuple(sources), arch=arch
    )


def _from_debian(component: Mapping[str, Any]) -> bool:
    """A Python distribution a Debian package installed (in a ``dist-packages`` folder): the
    archive's versions decide it, not upper-constraints."""
    for prop in component.get("properties", []):
        if prop.get("name") == "orchestrate:site":
            return str(prop.get("value", "")).endswith("/dist-packages")
    return False


def _apt_sources(root: Path) -> list[AptSource]:
    files = [root / SOURCES_LIST]
    folder = root / SOURCES_DIR
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    found: list[AptSource] = []
    for path in files:
        if path.is_file():
            found += parse_sources(path.read_text(), name=path.name)
    return found


def compare(
    name: str,
    image: str,
    inventory: Inventory,
    offers: Mapping[str, Sequence[Offer]],
    pins: Mapping[str, str] | None,
) -> ImageReport:
    """What ``inventory`` holds that ``offers`` (the archive now) has newer, and which of its
    distributions differ from ``pins`` (upper-constraints, canonical names; None: not
    compared). A distribution the pins do not name (the project itself) is not reported."""
    packages = []
    for deb in sorted(inventory.debs, key=lambda d: d.name):
        best = best_offer(offers.get(deb.name, ()))
        if best is not None and newer(best.version, deb.version):
            packages.append(
                OutdatedPackage(
                    name=deb.name,
                    installed=deb.version,
                    available=best.version,
                    suite=best.suite,
                    security=best.security,
                )
            )
    distributions = []
    for dist, version in sorted(((pins is not None and inventory.distributions) or {}).items()):
        pinned = (pins or {}).get(dist)
        if pinned is not None and not _same_version(pinned, version):
            distributions.append(OutdatedDistribution(name=dist, installed=version, pinned=pinned))
    return ImageReport(
        name=name,
        image=image,
        packages=tuple(packages),
        distributions=tuple(distributions),
        suites=tuple(s.suite for s in inventory.sources),
        pinned=pins is not None,
    )


def _same_version(a: str, b: str) -> bool:
    """Equal as PEP 440 versions (``1.0`` is ``1.0.0``), else as text."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def render(reports: Sequence[ImageReport]) -> str:
    """A table of every outdated package and distribution, then one line per image."""
    rows: list[tuple[str, ...]] = [("IMAGE", "KIND", "NAME", "INSTALLED", "AVAILABLE", "FROM")]
    for report in reports:
        for p in report.packages:
            where = p.suite + (" (security)" if p.security else "")
            rows.append((report.name, "deb", p.name, p.installed, p.available, where))
        for d in report.distributions:
            rows.append((report.name, "python", d.name, d.installed, d.pinned, "upper-constraints"))
    lines = columns(rows) if len(rows) > 1 else []
    if lines:
        lines.append("")
    for report in reports:
        security = sum(p.security for p in report.packages)
        if report.outdated:
            pins = f", {len(report.distributions)} distributions differ from the pins"
            lines.append(
                f"{report.name}: {len(report.packages)} packages outdated ({security} security)"
                + (pins if report.pinned else "")
            )
        else:
            lines.append(f"{report.name}: up to date ({', '.join(report.suites)})")
    return "\n".join(lines)


def as_json(reports: Sequence[ImageReport]) -> dict[str, object]:
    """The reports as a JSON-serialisable document."""
    return {
        "outdated": any(r.outdated for r in reports),
        "images": [
            {
                "name": r.name,
                "image": r.image,
                "suites": list(r.suites),
                "packages": [asdict(p) for p in r.packages],
                "distributions": [asdict(d) for d in r.distributions],
            }
            for r in reports
        ],
    }
