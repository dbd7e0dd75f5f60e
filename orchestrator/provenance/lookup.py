"""What ``provenance verify`` checks, found for an image: its manifest digest, its signed
envelope and its SBOM.

An image in a registry (``REG/ns/node:tag`` or ``@sha256:...``: a first component with a dot
or a port) is read there, even when a pulled copy is in local storage: the manifest digest,
then the ``sha256-<hex>.att`` and ``.sbom`` artifacts beside it, nothing pulled. Any other name
is a local image: its manifest digest, the envelope this host wrote under
``<state>/provenance/``, the SBOM inside the image.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engine import attachments, naming
from orchestrator.engine.registry import Registry
from orchestrator.engine.storage import Storage
from orchestrator.errors import ConfigError, FetchError, StepFailedError
from orchestrator.inspection.image_files import read_image
from orchestrator.provenance.collect import envelope_path

_LISTS = ("manifest.list", "image.index")
_SKOPEO_MSG = re.compile(r'msg="(?P<msg>.*)"')


@dataclass(frozen=True)
class Found:
    """An image's digest, its envelope (None: none found, and where it was looked for) and
    its SBOM's bytes (None: none found)."""

    target: str
    digest: str
    envelope: bytes | None
    looked_in: str
    sbom: bytes | None


def find(target: str, *, storage: Storage, registry: Registry, state_dir: Path) -> Found:
    """The facts of ``target``: in its registry when it names one, else in local storage.

    Raises:
        ConfigError: no such image (local), no such manifest (registry), or a manifest list.
        FetchError: the registry could not be asked.
        StepFailedError: buildah could not mount the local image.
    """
    if naming.in_a_registry(target):
        return remote(registry, target)
    return local(storage, target, state_dir)


def local(storage: Storage, image: str, state_dir: Path) -> Found:
    """The facts of local image ``image``.

    Raises:
        ConfigError: local storage has no such image.
        StepFailedError: the image could not be mounted.
    """
    digest = storage.manifest_digest(image)
    if digest is None:
        raise ConfigError(
            image, "", "no such local image (an image in a registry is named REG/ns/name:tag)"
        )
    path = envelope_path(state_dir, digest)
    envelope = path.read_bytes() if path.is_file() else None
    container = naming.container_name(naming.new_run_id(datetime.now(UTC)), "provenance-verify")
    sbom = read_image(storage, image, container).sbom
    return Found(image, digest, envelope, str(path), sbom)


def remote(registry: Registry, ref: str) -> Found:
    """The facts of ``ref`` in the registry.

    Raises:
        ConfigError: the registry has no such manifest, or it is a manifest list.
        FetchError: the registry could not be asked.
    """
    try:
        manifest = registry.manifest(ref)
        if manifest is None:
            raise ConfigError(ref, "", "no such manifest in the registry")
        _not_a_list(ref, manifest.raw)
        repository = naming.repository_of(ref)
        att = f"{repository}:{attachments.attestation_tag(manifest.digest)}"
        envelope = attachments.read_artifact(registry, att, attachments.DSSE_JSON)
        sbom_ref = f"{repository}:{attachments.sbom_tag(manifest.digest)}"
        sbom = attachments.read_artifact(
            registry, sbom_ref, attachments.CYCLONEDX_JSON, only_layer=True
        )
    except StepFailedError as exc:
        raise FetchError(f"registry: cannot read {ref}: {_skopeo_message(exc.last_line)}") from None
    except ValueError as exc:  # an artifact that is not one
        raise ConfigError(ref, "", f"unreadable artifact beside it: {exc}") from None
    return Found(ref, manifest.digest, envelope, att, sbom)


def _not_a_list(ref: str, raw: bytes) -> None:
    """A manifest list has no provenance of its own: each platform's image has one."""
    try:
        document = json.loads(raw)
    except ValueError:
        return
    if isinstance(document, dict) and any(k in str(document.get("mediaType")) for k in _LISTS):
        digests = [
            f"{m.get('platform', {}).get('architecture', '?')}: "
            f"{naming.repository_of(ref)}@{m.get('digest')}"
            for m in document.get("manifests", [])
        ]
        raise ConfigError(
            ref, "", "a manifest list: verify each platform's image, " + "; ".join(digests)
        )


def _skopeo_message(line: str) -> str:
    """skopeo's fatal line without its log prefix (``time=... level=fatal msg="..."``)."""
    found = _SKOPEO_MSG.search(line)
    return found.group("msg") if found else line
