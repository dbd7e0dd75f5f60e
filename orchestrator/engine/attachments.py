"""Documents pushed beside an image, as OCI artifacts under cosign's tag conventions.

``<repository>:sha256-<hex of the image's manifest digest>.sbom`` holds an OCI image manifest
whose one layer is the SBOM (``application/vnd.cyclonedx+json``) with an empty config, so
``cosign download sbom``, ``oras pull`` and plain ``skopeo`` find it from the image's digest
alone; ``...att`` holds the image's signed provenance the same way (a DSSE envelope,
``application/vnd.dsse.envelope.v1+json``). Each is written as an OCI layout on the host and
copied with skopeo, digests preserved; read back the same way.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from orchestrator.engine.buildah import Argv, RegistryAccess
from orchestrator.engine.registry import Registry

CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


DSSE_JSON = "application/vnd.dsse.envelope.v1+json"
TITLES = {CYCLONEDX_JSON: "sbom.cdx.json", DSSE_JSON: "provenance.intoto.json"}


def sbom_tag(image_digest: str) -> str:
    """The tag of an image's SBOM: ``sha256-<hex>.sbom`` (cosign's convention)."""
    return _beside(image_digest, "sbom")


def attestation_tag(image_digest: str) -> str:
    """The tag of an image's provenance: ``sha256-<hex>.att`` (cosign's convention)."""
    return _beside(image_digest, "att")


def _beside(image_digest: str, kind: str) -> str:
    algorithm, hexdigest = image_digest.split(":", 1)
    return f"{algorithm}-{hexdigest}.{kind}"


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
    layer["annotations"] = {"org.opencontainers.image.title": TITLES.get(media_type, "document")}
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


def pull_layout(source: str, folder: Path, access: RegistryAccess) -> Argv:
    """``skopeo copy`` of the artifact ``docker://source`` into an OCI layout in ``folder``."""
    return (
        "skopeo", "copy", "--quiet", "--retry-times", "2", *access.options(prefix="src-"),
        f"docker://{source}", f"oci:{folder}",
    )  # fmt: skip


def read_layout(folder: Path, media_type: str, *, only_layer: bool = False) -> bytes | None:
    """The first layer of ``media_type`` of the one artifact in the OCI layout ``folder``
    (with ``only_layer``, else its only layer, whatever its type), checked against its
    digest; None when it has none.

    Raises:
        ValueError: the layout is not one (no index, a blob missing or not its digest).
    """
    blobs = folder / "blobs"
    try:
        index = json.loads((folder / "index.json").read_text())
        for described in index.get("manifests", []):
            manifest = json.loads(_blob(blobs, described["digest"]))
            layers = manifest.get("layers") or []
            for layer in layers:
                if layer.get("mediaType") == media_type:
                    return _blob(blobs, layer["digest"])
            if only_layer and len(layers) == 1:
                return _blob(blobs, layers[0]["digest"])
    except (OSError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an OCI layout of one artifact: {exc}") from None
    return None


def read_artifact(
    registry: Registry, ref: str, media_type: str, *, only_layer: bool = False
) -> bytes | None:
    """The document of ``media_type`` in the artifact ``ref`` (see :func:`read_layout`), or
    None when the registry has no such artifact or it holds none.

    Raises:
        StepFailedError: the registry failed.
        ValueError: the artifact is not a readable OCI artifact.
    """
    if registry.manifest(ref) is None:
        return None
    with tempfile.TemporaryDirectory(prefix="orchestrate-artifact-") as scratch:
        folder = Path(scratch) / "layout"
        registry.runner.capture(pull_layout(ref, folder, registry.access))
        return read_layout(folder, media_type, only_layer=only_layer)


def _blob(blobs: Path, digest: str) -> bytes:
    algorithm, hexdigest = digest.split(":", 1)
    data = (blobs / algorithm / hexdigest).read_bytes()
    if hashlib.new(algorithm, data).hexdigest() != hexdigest:
        raise ValueError(f"blob {digest} does not match its digest")
    return data
