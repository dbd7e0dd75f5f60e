"""Documents pushed beside an image: its SBOM as an OCI artifact under cosign's tag convention.

``<repository>:sha256-<hex of the image's manifest digest>.sbom`` holds an OCI image manifest
whose one layer is the SBOM (``application/vnd.cyclonedx+json``) with an empty config, so
``cosign download sbom``, ``oras pull`` and plain ``skopeo`` find it from the image's digest
alone. It is written as an OCI layout on the host and copied with skopeo, digests preserved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from orchestrator.engine.buildah import Argv, RegistryAccess

CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def sbom_tag(image_digest: str) -> str:
    """The tag of an image's SBOM: ``sha256-<hex>.sbom`` (cosign's convention)."""
    algorithm, hexdigest = image_digest.split(":", 1)
    return f"{algorithm}-{hexdigest}.sbom"


def write_layout(folder: Path, document: bytes, *, media_type: str = CYCLONEDX_JSON) -> str:
    """An OCI image layout in ``folder`` (new or empty) holding ``document`` as the one layer
    of an artifact; returns the artifact's manifest digest."""
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def blob(data: bytes, kind: str) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": kind, "digest": f"sha256:{digest}", "size": len(data)}

    layer = blob(document, media_type)
    layer["annotations"] = {"org.opencontainers.image.title": "sbom.cdx.json"}
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": blob(b"{}", OCI_CONFIG),
        "layers": [layer],
    }
    described = blob(json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST)
    (folder / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [described]}))
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return str(described["digest"])


def push_layout(folder: Path, destination: str, access: RegistryAccess) -> Argv:
    """``skopeo copy`` of an OCI layout to ``docker://destination``, digests unchanged."""
    return (
        "skopeo", "copy", "--quiet", "--preserve-digests", "--retry-times", "2",
        *access.options(prefix="dest-"), f"oci:{folder}", f"docker://{destination}",
    )  # fmt: skip
