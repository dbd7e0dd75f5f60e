"""The SBOM every image carries: CycloneDX 1.6 JSON, written with CycloneDX's own library from
what the image holds, never typed by hand.

Components: every installed dpkg package (``pkg:deb/debian/...``, its DEP-5 licences), every
installed Python distribution (``pkg:pypi/...``, its licence, and the sha256 of the wheel it
was installed from when the image records it), the wheels a wheels image holds, and the
project the image serves (its source and revision). Properties name the node, its cache key
and the constraints' digest. Nothing depends on when or where it was written (no timestamp,
a serial number derived from the content), so two builds of the same content give the same
document.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from cyclonedx.contrib.license.exceptions import InvalidSpdxLicenseException
from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import License
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from orchestrator.files import sha256_file
from orchestrator.inspection.image_contents import (
    deb_licenses,
    deb_packages,
    distributions,
    python_license,
)
from orchestrator.inspection.image_files import WHEEL_HASHES, WHEELS_DIR, sums

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sbom_json(root: Path, *, name: str, version: str, properties: Mapping[str, str]) -> str:
    """The CycloneDX 1.6 JSON document of the image whose root is ``root``."""
    licenses = LicenseFactory()
    image = Component(
        name=name,
        version=version,
        type=ComponentType.CONTAINER,
        bom_ref="image",
        properties=[
            Property(name=f"orchestrate:{k}", value=v) for k, v in sorted(properties.items())
        ],
    )
    components: list[Component] = []
    distro = _distro(root)
    for package in deb_packages(root):
        qualifiers = {"distro": distro} if distro else {}
        if package.architecture:
            qualifiers["arch"] = package.architecture
        purl = PackageURL(
            type="deb", namespace="debian", name=package.name, version=package.version,
            qualifiers=qualifiers,
        )  # fmt: skip
        components.append(
            Component(
                name=package.name,
                version=package.version,
                type=ComponentType.LIBRARY,
                purl=purl,
                bom_ref=purl.to_string(),
                licenses=_licenses(licenses, deb_licenses(root, package.name)),
                properties=[Property(name="orchestrate:deb-source", value=package.source)],
            )
        )
    wheel_hashes = _wheel_hashes(root)
    for dist in distributions(root):
        purl = PackageURL(type="pypi", name=dist.name, version=dist.version)
        found = python_license(dist.metadata)
        digest = wheel_hashes.get((dist.name, dist.version))
        components.append(
            Component(
                name=dist.name,
                version=dist.version,
                type=ComponentType.LIBRARY,
                purl=purl,
                bom_ref=f"{purl.to_string()}#{dist.site}",
                licenses=_licenses(licenses, [found] if found else []),
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if digest else [],
                properties=[Property(name="orchestrate:site", value=dist.site)],
            )
        )
    components += _wheels(root)
    project = _project(root)
    if project is not None:
        components.append(project)
    bom = Bom()
    bom.metadata.timestamp = None  # type: ignore[assignment]  # what was built, not when
    bom.metadata.component = image
    for component in components:
        bom.components.add(component)
    bom.register_dependency(image, components)
    content = hashlib.sha256(
        json.dumps([c.bom_ref.value for c in components], sort_keys=True).encode()
        + json.dumps(sorted(properties.items())).encode()
    ).hexdigest()
    bom.serial_number = uuid.uuid5(uuid.NAMESPACE_URL, f"orchestrate:{name}:{content}")
    text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    return text + "\n"


def _licenses(factory: LicenseFactory, names: Sequence[str]) -> list[License]:
    """One licence: an SPDX id or expression where it is one, else its name. Several (the
    parts of a Debian package): each an id or a name, as CycloneDX allows no expression
    beside others."""
    if len(names) == 1:
        return [factory.make_from_string(names[0])]
    out: list[License] = []
    for name in names:
        try:
            out.append(factory.make_with_id(name))
        except InvalidSpdxLicenseException:
            out.append(factory.make_with_name(name))
    return out


def _distro(root: Path) -> str:
    """``debian-12`` from the image's /etc/os-release ("" when it has none)."""
    fields = {}
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        path = root / candidate
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                key, _, value = line.partition("=")
                fields[key] = value.strip().strip('"')
            break
    if not fields.get("ID"):
        return ""
    return f"{fields['ID']}-{fields['VERSION_ID']}" if fields.get("VERSION_ID") else fields["ID"]


def _wheel_hashes(root: Path) -> dict[tuple[str, str], str]:
    """(name, version) -> sha256 of the wheel each was installed from, as the image records."""
    found = {}
    for filename, digest in sums(root / WHEEL_HASHES).items():
        parsed = _parse_wheel(filename)
        if parsed:
            found[parsed] = digest
    return found


def _parse_wheel(filename: str) -> tuple[str, str] | None:
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return str(canonicalize_name(name)), str(version)


def _wheels(root: Path) -> list[Component]:
    """The wheels a wheels image holds under /wheels, each with its sha256."""
    out = []
    for wheel in sorted((root / WHEELS_DIR).glob("*.whl")):
        parsed = _parse_wheel(wheel.name)
        if parsed is None or not wheel.is_file():
            continue
        name, version = parsed
        purl = PackageURL(
            type="pypi", name=name, version=version, qualifiers={"file_name": wheel.name}
        )
        digest = sha256_file(wheel)
        out.append(
            Component(
                name=name,
                version=version,
                type=ComponentType.FILE,
                purl=purl,
                bom_ref=f"wheel:{wheel.name}",
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)],
            )
        )
    return out


def _project(root: Path) -> Component | None:
    """The project the image serves, from /etc/image_info/project.txt: its source (where it
    came from) and revision (the sdist's sha256, or the git commit)."""
    info = root / "etc/image_info/project.txt"
    if not info.is_file():
        return None
    fields = dict(line.partition("=")[::2] for line in info.read_text().splitlines() if "=" in line)
    name, version = fields.get("name", ""), fields.get("version", "")
    if not name:
        return None
    source, revision = fields.get("source", ""), fields.get("revision", "")
    purl = PackageURL(type="pypi", name=str(canonicalize_name(name)), version=version or None)
    refs = []
    if source.startswith(("http://", "https://", "file://", "git+")):
        refs.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(source)))
    hashes = []
    properties = [Property(name="orchestrate:source", value=source)] if source else []
    if _HEX64.match(revision):
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=revision))
    elif revision:
        properties.append(Property(name="orchestrate:revision", value=revision))
    return Component(
        name=name,
        version=version,
        type=ComponentType.APPLICATION,
        purl=purl,
        bom_ref="project",
        hashes=hashes,
        external_references=refs,
        properties=properties,
    )
