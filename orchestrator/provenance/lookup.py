"""What ``provenance verify`` checks, found for an image: its manifest digest, its signed
envelope and its SBOM.

A reference the registry has (``REG/ns/node:tag`` or ``@sha256:...``) is read there: the
manifest digest, then the ``sha256-<hex>.att`` and ``.sbom`` artifacts beside it, nothing
pulled. A local image is read here: its manifest digest, the envelope this host wrote under
``<state>/provenance/`` (or a file given), the SBOM inside the image.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.engine import attachments, naming
from orchestrator.engine.registry import Registry
from orchestrator.engine.storage import Storage
from orchestrator.errors import FetchError, StepFailedError
from orchestrator.inspection.sbom import SBOM_PATH
from orchestrator.provenance.collect import envelope_path


@dataclass(frozen=True)
class Found:
    """An image's digest, its envelope (None: none found, and where it was looked for) and
    its SBOM (None: it carries none)."""

    target: str
    digest: str
    envelope: bytes | None
    looked_in: str
    sbom: dict[str, Any] | None


def local(storage: Storage, image: str, state_dir: Path, run_id: str) -> Found | None:
    """The facts of local image ``image``, or None when local storage has no such image.

    Raises:
        StepFailedError: the image could not be mounted.
    """
    digest = storage.manifest_digest(image)
    if digest is None:
        return None
    path = envelope_path(state_dir, digest)
    envelope = path.read_bytes() if path.is_file() else None
    with storage.mounted(image, naming.container_name(run_id, "provenance-verify")) as root:
        document = root / SBOM_PATH.lstrip("/")
        sbom = json.loads(document.read_bytes()) if document.is_file() else None
    return Found(image, digest, envelope, str(path), sbom)


def remote(registry: Registry, ref: str) -> Found | None:
    """The facts of ``ref`` in the registry, or None when it has no such manifest.

    Raises:
        FetchError: the registry could not be asked.
    """
    try:
        manifest = registry.manifest(ref)
        if manifest is None:
            return None
        repository = ref.split("@", 1)[0]
        if ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        att = f"{repository}:{attachments.attestation_tag(manifest.digest)}"
        envelope = _artifact(registry, att, attachments.DSSE_JSON)
        sbom_ref = f"{repository}:{attachments.sbom_tag(manifest.digest)}"
        sbom = _artifact(registry, sbom_ref, attachments.CYCLONEDX_JSON)
    except StepFailedError as exc:
        raise FetchError(f"registry: cannot read {ref}: {exc.last_line}") from None
    return Found(ref, manifest.digest, envelope, att, json.loads(sbom) if sbom else None)


def _artifact(registry: Registry, ref: str, media_type: str) -> bytes | None:
    """The document of media type ``media_type`` in the artifact ``ref``, or None."""
    if registry.manifest(ref) is None:
        return None
    with tempfile.TemporaryDirectory(prefix="orchestrate-artifact-") as folder:
        registry.runner.capture(attachments.pull_layout(ref, Path(folder), registry.access))
        return attachments.read_layout(Path(folder), media_type)
