"""Where the SBOMs of a release diff come from: an image's own (``/etc/image_info``), the one
pushed beside an image in the registry, or a file.

A pushing build writes each image's SBOM beside it as an OCI artifact under cosign's tag
(``<repository>:sha256-<hex>.sbom``, :mod:`orchestrator.engine.attachments`), so the
published side of a diff needs no image pull: a manifest lookup for the digest, then a copy
of the small artifact into a scratch OCI layout, whose one layer is the document.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.engine import attachments, naming
from orchestrator.engine.naming import new_run_id, repository_of
from orchestrator.engine.registry import Registry
from orchestrator.engine.storage import Storage
from orchestrator.errors import ConfigError, FetchError, StepFailedError
from orchestrator.inspection.image_files import SBOM_PATH, read_image

Document = dict[str, Any]


def sbom_beside(registry: Registry, repository: str, digest: str) -> Document | None:
    """The SBOM pushed beside ``repository@digest``, or None when the registry has none.

    Raises:
        StepFailedError: the registry could not be asked, or the copy failed.
        ConfigError: the artifact is there but holds no CycloneDX JSON document.
    """
    ref = f"{repository}:{attachments.sbom_tag(digest)}"
    try:
        content = attachments.read_artifact(
            registry, ref, attachments.CYCLONEDX_JSON, only_layer=True
        )
    except ValueError as exc:
        raise ConfigError(ref, "", f"unreadable SBOM artifact: {exc}") from None
    if content is None:
        return None
    return _parse(ref, content)


def _parse(where: str, content: bytes) -> Document:
    try:
        document = json.loads(content)
    except ValueError as exc:
        raise ConfigError(where, "", f"not a JSON SBOM: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("components", []), list):
        raise ConfigError(where, "", "not a CycloneDX SBOM (no list of components)")
    return document


def read_sbom(ref: str, *, registry: Registry, storage: Storage | None, argument: str) -> Document:
    """The SBOM of ``ref``: a file (``*.json``, e.g. one ``orchestrate sbom -o`` wrote or one
    downloaded with ``cosign download sbom``), an image in a registry (``REG/repo:tag`` or
    ``REG/repo@sha256:...``, :func:`orchestrator.engine.naming.in_a_registry`: the SBOM pushed
    beside it, even where a pulled copy is in local storage), or a local image (its own
    /etc/image_info/sbom.cdx.json). ``storage`` None: no local images (buildah is not
    installed).

    Raises:
        ConfigError: naming ``argument`` and ``ref``, when none of them has an SBOM.
        FetchError: the registry could not be asked.
        StepFailedError: buildah failed.
    """
    path = Path(ref)
    if ref.endswith(".json") or path.is_file():
        try:
            return _parse(ref, path.read_bytes())
        except OSError as exc:
            raise ConfigError(argument, "", f"cannot read {ref}: {exc.strerror}") from None
    if not naming.in_a_registry(ref):
        if storage is not None and storage.image_id(ref) is not None:
            return _local(storage, ref, argument)
        raise ConfigError(
            argument, "", f"{ref}: no such local image (one in a registry is REG/ns/name:tag)"
        )
    try:
        manifest = registry.manifest(ref)
    except StepFailedError as exc:
        raise FetchError(f"{argument}: {ref}: registry: {exc.last_line}") from None
    if manifest is None:
        raise ConfigError(argument, "", f"{ref}: no such manifest in the registry")
    digest = manifest.digest  # that of its bytes: the same as a ref by digest names
    repository = repository_of(ref)
    document = sbom_beside(registry, repository, digest)
    if document is None:
        raise ConfigError(
            argument,
            "",
            f"{ref}: no SBOM beside it in the registry "
            f"({repository}:{attachments.sbom_tag(digest)} not found; pushed before SBOMs were?)",
        )
    return document


def _local(storage: Storage, image: str, argument: str) -> Document:
    container = naming.container_name(new_run_id(datetime.now(UTC)), "sbom-diff")
    content = read_image(storage, image, container).sbom
    if content is None:
        raise ConfigError(
            argument, "", f"{image} carries no {SBOM_PATH}: not an image orchestrate built"
        )
    return _parse(image, content)
