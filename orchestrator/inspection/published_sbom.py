"""Where the SBOMs of a release diff come from: an image's own (``/etc/image_info``), the one
pushed beside an image in the registry, or a file.

A pushing build writes each image's SBOM beside it as an OCI artifact under cosign's tag
(``<repository>:sha256-<hex>.sbom``, :mod:`orchestrator.engine.attachments`), so the
published side of a diff needs no image pull: a manifest lookup for the digest, then a copy
of the small artifact into a scratch OCI layout, whose one layer is the document.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.engine import attachments, naming
from orchestrator.engine.buildah import Argv, RegistryAccess
from orchestrator.engine.naming import new_run_id
from orchestrator.engine.registry import Registry
from orchestrator.engine.storage import Storage
from orchestrator.errors import ConfigError, StepFailedError
from orchestrator.inspection.sbom import SBOM_PATH

Document = dict[str, Any]


def repository_of(ref: str) -> str:
    """``registry/repo`` of ``registry/repo:tag`` or ``registry/repo@sha256:...``."""
    if "@" in ref:
        return ref.split("@", 1)[0]
    head, _, last = ref.rpartition("/")
    name = last.split(":", 1)[0]
    return f"{head}/{name}" if head else name


def fetch_artifact(ref: str, folder: Path, access: RegistryAccess) -> Argv:
    """``skopeo copy`` of the artifact ``ref`` into the OCI layout ``folder``, as it is."""
    return (
        "skopeo", "copy", "--quiet", "--preserve-digests", "--retry-times", "2",
        *access.options(prefix="src-"), f"docker://{ref}", f"oci:{folder}",
    )  # fmt: skip


def sbom_beside(registry: Registry, repository: str, digest: str) -> Document | None:
    """The SBOM pushed beside ``repository@digest``, or None when the registry has none.

    Raises:
        StepFailedError: the registry could not be asked, or the copy failed.
        ConfigError: the artifact is there but holds no CycloneDX JSON document.
    """
    ref = f"{repository}:{attachments.sbom_tag(digest)}"
    if registry.manifest(ref) is None:
        return None
    with tempfile.TemporaryDirectory(prefix="orchestrate-sbom-") as scratch:
        folder = Path(scratch) / "layout"
        registry.runner.capture(fetch_artifact(ref, folder, registry.access))
        return _parse(ref, _layer(folder, ref))


def _layer(folder: Path, ref: str) -> bytes:
    """The CycloneDX layer (else the only layer) of the one manifest of an OCI layout."""
    blobs = folder / "blobs"

    def blob(digest: str) -> bytes:
        algorithm, _, hexdigest = digest.partition(":")
        return (blobs / algorithm / hexdigest).read_bytes()

    try:
        index = json.loads((folder / "index.json").read_text())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        layers = manifest.get("layers") or []
        cyclonedx = [x for x in layers if x.get("mediaType") == attachments.CYCLONEDX_JSON]
        chosen = cyclonedx or (layers if len(layers) == 1 else [])
        if not chosen:
            raise ConfigError(ref, "", "the artifact holds no CycloneDX layer")
        return blob(chosen[0]["digest"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ConfigError(ref, "", f"unreadable SBOM artifact: {exc}") from None


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
    downloaded with ``cosign download sbom``), a local image (its own
    /etc/image_info/sbom.cdx.json), or an image in the registry (``REG/repo:tag`` or
    ``REG/repo@sha256:...``: the SBOM pushed beside it). ``storage`` None: no local images
    (buildah is not installed).

    Raises:
        ConfigError: naming ``argument`` and ``ref``, when none of them has an SBOM.
        StepFailedError: buildah or the registry failed.
    """
    path = Path(ref)
    if ref.endswith(".json") or path.is_file():
        try:
            return _parse(ref, path.read_bytes())
        except OSError as exc:
            raise ConfigError(argument, "", f"cannot read {ref}: {exc.strerror}") from None
    if storage is not None and storage.image_id(ref) is not None:
        return _local(storage, ref, argument)
    try:
        manifest = registry.manifest(ref)
    except StepFailedError as exc:
        raise ConfigError(argument, "", f"{ref}: registry: {exc.last_line}") from None
    if manifest is None:
        raise ConfigError(argument, "", f"{ref}: neither a local image nor in the registry")
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
    with storage.mounted(image, container) as root:
        document = root / SBOM_PATH.lstrip("/")
        if not document.is_file():
            raise ConfigError(
                argument, "", f"{image} carries no {SBOM_PATH}: not an image orchestrate built"
            )
        content = document.read_bytes()
    return _parse(image, content)
