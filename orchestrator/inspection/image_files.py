"""The documents orchestrate writes into an image, read in one mount: its SBOM, the record of
the wheels a service was installed from, and a wheels image's ``SHA256SUMS``.

Pushing an image's SBOM beside it, writing its provenance, ``provenance verify`` and
``diff --against`` each need some of them; one mount (``buildah from``, ``mount``,
``umount``, ``rm``) serves what one caller needs of an image. For an image it has just built,
a run reads the copies its ``sbom`` step kept (:func:`read_root` of the node's documents
folder, laid out as in the image): no mount at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from orchestrator.engine.storage import Storage
from orchestrator.inspection.image_contents import distributions

SBOM_PATH = "/etc/image_info/sbom.cdx.json"
# sha256 and file name of every wheel a service was installed from (install-project.sh).
WHEEL_HASHES = "etc/image_info/wheels.sha256"
WHEELS_DIR = "wheels"
# A wheels image's own list of its wheels (build-wheels.sh, fetch-wheels.sh).
WHEEL_SUMS = f"{WHEELS_DIR}/SHA256SUMS"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageFiles:
    """What an image holds of orchestrate's documents: the SBOM's bytes (None: none),
    {wheel file name: sha256} of the wheels it was installed from and of those it holds, and
    the (name, version) of its Python distributions where it records installed wheels."""

    sbom: bytes | None
    wheels_record: dict[str, str]
    wheel_sums: dict[str, str]
    installed: frozenset[tuple[str, str]]


def read_root(root: Path) -> ImageFiles:
    """The documents under an image's mounted ``root``."""
    path = root / SBOM_PATH.lstrip("/")
    sbom = path.read_bytes() if path.is_file() else None
    record = sums(root / WHEEL_HASHES)
    return ImageFiles(
        sbom=sbom,
        wheels_record=record,
        wheel_sums=sums(root / WHEEL_SUMS),
        installed=_installed(root, sbom) if record else frozenset(),
    )


def read_image(storage: Storage, image: str, container: str) -> ImageFiles:
    """The documents of local ``image``, through a throwaway working container.

    Raises:
        StepFailedError: buildah could not open or mount the image.
    """
    with storage.mounted(image, container) as root:
        return read_root(root)


def sums(path: Path) -> dict[str, str]:
    """``sha256sum`` output in ``path`` -> {file name: sha256}; {} when there is none."""
    out = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        sha, _, name = line.partition("  ")
        if _HEX64.match(sha) and name:
            out[Path(name.strip().lstrip("*")).name] = sha
    return out


def _installed(root: Path, sbom: bytes | None) -> frozenset[tuple[str, str]]:
    """(name, version) of every Python distribution installed: from the image's SBOM, read
    already, else from the dist-info folders (a walk of the whole tree: 0.15 CPU-s more for
    keystone)."""
    if sbom:
        components = json.loads(sbom).get("components", [])
        return frozenset(
            (str(canonicalize_name(c["name"])), str(c["version"]))
            for c in components
            if str(c.get("purl", "")).startswith("pkg:pypi/")
            and "version" in c
            and not str(c.get("bom-ref", "")).startswith("wheel:")
        )
    return frozenset((d.name, d.version) for d in distributions(root))
