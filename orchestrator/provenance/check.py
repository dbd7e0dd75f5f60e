"""Whether a verified provenance statement is the one of an image, and agrees with its SBOM.

Pure: the statement (its signature already checked), the image's manifest digest and its SBOM
in, the first disagreement out. What is compared:

- **subject**: one of the statement's subjects has the image's manifest digest;
- **sbom**: the SBOM is the one the statement names as its byproduct (its sha256), so an SBOM
  replaced or cut beside the image fails here, whatever it says;
- **key**: the SBOM's ``orchestrate:key`` property is the statement's cache key;
- **constraints**: the SBOM's ``orchestrate:constraints`` digest is the ``constraints``
  material's;
- **source**: the SBOM's project (its sdist sha256, or its git revision) is the ``source``
  material;
- **wheels**: every Python distribution the SBOM gives a wheel sha256 for is a ``wheel:``
  material of that name, version and sha256 (a service's venv), and every wheel a wheels image
  holds is a ``wheel:`` byproduct of that sha256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Mismatch:
    """The first thing that does not match: what, and how."""

    what: str
    detail: str

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}"


def first_mismatch(
    statement: Mapping[str, Any], image_digest: str, sbom_bytes: bytes | None
) -> Mismatch | None:
    """The first way ``statement`` is not the provenance of the image of ``image_digest``
    (``sha256:<hex>``) whose SBOM is ``sbom_bytes`` (None: none was found), or None when it
    is. A statement that names no SBOM (an image built without one) is checked by its
    subject alone."""
    for found in _mismatches(statement, image_digest, sbom_bytes):
        return found
    return None


def _mismatches(
    statement: Mapping[str, Any], image_digest: str, sbom_bytes: bytes | None
) -> Iterator[Mismatch]:
    subjects = statement.get("subject", [])
    algorithm, _, value = image_digest.partition(":")
    if not any(s.get("digest", {}).get(algorithm) == value for s in subjects):
        named = ", ".join(
            f"{s.get('name', '?')}@{algorithm}:{s.get('digest', {}).get(algorithm, '?')[:12]}"
            for s in subjects
        )
        yield Mismatch("subject", f"the provenance is of {named}, not of {image_digest}")
        return
    predicate = statement["predicate"]
    materials = predicate["buildDefinition"].get("resolvedDependencies", [])
    byproducts = predicate.get("runDetails", {}).get("byproducts", [])
    named_sbom = (_named(byproducts, "sbom") or {}).get("digest", {}).get("sha256")
    if named_sbom is None:
        return
    if sbom_bytes is None:
        yield Mismatch("sbom", f"the provenance names SBOM sha256:{named_sbom}; none was found")
        return
    have = hashlib.sha256(sbom_bytes).hexdigest()
    if have != named_sbom:
        yield Mismatch(
            "sbom", f"the SBOM found is sha256:{have}, the provenance names sha256:{named_sbom}"
        )
        return
    try:
        sbom = json.loads(sbom_bytes)
    except ValueError:
        yield Mismatch("sbom", "the SBOM the provenance names is not JSON")
        return
    properties = {
        p.get("name"): p.get("value")
        for p in sbom.get("metadata", {}).get("component", {}).get("properties", [])
    }
    key = predicate["buildDefinition"].get("internalParameters", {}).get("key", "")
    if properties.get("orchestrate:key") != key:
        yield Mismatch(
            "key", f"the SBOM says {properties.get('orchestrate:key')}, the provenance {key}"
        )
    yield from _constraints(properties, _named(materials, "constraints"))
    components = sbom.get("components", [])
    project = next((c for c in components if c.get("bom-ref") == "project"), None)
    if project is not None:
        yield from _source(project, _named(materials, "source"))
    yield from _wheels(components, materials, byproducts)


def _named(descriptors: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    return next((d for d in descriptors if d.get("name") == name), None)


def _constraints(
    properties: Mapping[str, Any], material: Mapping[str, Any] | None
) -> Iterator[Mismatch]:
    said = properties.get("orchestrate:constraints")
    if not said:
        return
    have = material.get("digest", {}).get("sha256") if material else None
    if said != f"sha256:{have}":
        yield Mismatch(
            "material constraints", f"the SBOM says {said}, the provenance sha256:{have}"
        )


def _source(project: Mapping[str, Any], material: Mapping[str, Any] | None) -> Iterator[Mismatch]:
    hashes = {h.get("alg"): h.get("content") for h in project.get("hashes", [])}
    revision = next(
        (
            p.get("value")
            for p in project.get("properties", [])
            if p.get("name") == "orchestrate:revision"
        ),
        None,
    )
    digest = material.get("digest", {}) if material else {}
    name = f"{project.get('name')} {project.get('version', '')}".strip()
    if "SHA-256" in hashes and digest.get("sha256") != hashes["SHA-256"]:
        yield Mismatch(
            "material source",
            f"{name}: the SBOM says sha256:{hashes['SHA-256']}, "
            f"the provenance {_digest_text(digest)}",
        )
    elif revision and revision not in digest.values():
        yield Mismatch(
            "material source",
            f"{name}: the SBOM says revision {revision}, the provenance {_digest_text(digest)}",
        )


def _wheels(
    components: Sequence[Mapping[str, Any]],
    materials: Sequence[Mapping[str, Any]],
    byproducts: Sequence[Mapping[str, Any]],
) -> Iterator[Mismatch]:
    installed = {
        (str(canonicalize_name(m.get("annotations", {}).get("name", ""))),
         m.get("annotations", {}).get("version", "")): m.get("digest", {}).get("sha256")
        for m in materials
        if str(m.get("name", "")).startswith("wheel:")
    }  # fmt: skip
    held = {
        str(b.get("name", "")): b.get("digest", {}).get("sha256")
        for b in byproducts
        if str(b.get("name", "")).startswith("wheel:")
    }
    for component in components:
        hashes = {h.get("alg"): h.get("content") for h in component.get("hashes", [])}
        sha = hashes.get("SHA-256")
        if not sha:
            continue
        ref = str(component.get("bom-ref", ""))
        if ref.startswith("wheel:"):  # a wheel a wheels image holds
            if held.get(ref) != sha:
                yield Mismatch(
                    "byproduct wheel",
                    f"{ref[6:]}: the SBOM says sha256:{sha}, "
                    f"the provenance {_sha_text(held.get(ref))}",
                )
        elif ref.startswith("pkg:pypi/"):
            name = str(canonicalize_name(str(component.get("name", ""))))
            version = str(component.get("version", ""))
            have = installed.get((name, version))
            if have != sha:
                yield Mismatch(
                    "material wheel",
                    f"{name}=={version}: the SBOM says sha256:{sha}, "
                    f"the provenance {_sha_text(have)}",
                )


def _digest_text(digest: Mapping[str, str]) -> str:
    if not digest:
        return "names none"
    return ", ".join(f"{k}:{v}" for k, v in sorted(digest.items()))


def _sha_text(sha: str | None) -> str:
    return f"sha256:{sha}" if sha else "names none"
