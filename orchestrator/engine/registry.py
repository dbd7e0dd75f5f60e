"""What orchestrate asks a registry, through skopeo: whether a node's key is there (a manifest
lookup, no layer download), a release tag copied onto a digest (within the registry, no
layer moved), a repository's tags, and a manifest deleted by digest (retention). Credentials
stay in the authfile; TLS options follow :class:`RegistryAccess`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from orchestrator.engine.buildah import Argv, RegistryAccess
from orchestrator.engine.runner import Runner
from orchestrator.errors import StepFailedError

# skopeo's words for "there is no such manifest", as opposed to a registry it cannot reach.
_ABSENT = ("manifest unknown", "name unknown", "not found", "404")


@dataclass(frozen=True)
class Manifest:
    """A manifest found in a registry: its digest and the size of its layers."""

    ref: str
    digest: str
    size: int
    raw: bytes = b""  # the manifest's bytes, as signed


def inspect_raw(ref: str, access: RegistryAccess) -> Argv:
    """``skopeo inspect --raw``: the manifest of ``ref`` only (no config, no layer)."""
    return (
        "skopeo",
        "inspect",
        "--raw",
        "--retry-times",
        "2",
        *access.options(),
        f"docker://{ref}",
    )


def copy_tag(source: str, destination: str, access: RegistryAccess) -> Argv:
    """``skopeo copy`` of ``source`` (by digest) to ``destination`` in the same registry: the
    blobs are there already, so only the manifest is written, digest unchanged. ``--all``:
    a manifest list keeps every platform (without it, skopeo copies the host's image only)."""
    return (
        "skopeo",
        "copy",
        "--all",
        "--preserve-digests",
        "--retry-times",
        "2",
        *access.options(prefix="src-"),
        *access.options(prefix="dest-"),
        f"docker://{source}",
        f"docker://{destination}",
    )


def list_tags(repository: str, access: RegistryAccess) -> Argv:
    """``skopeo list-tags``: every tag of ``repository`` (JSON ``{"Tags": [...]}``)."""
    return (
        "skopeo",
        "list-tags",
        "--retry-times",
        "2",
        *access.options(),
        f"docker://{repository}",
    )


def delete(ref: str, access: RegistryAccess) -> Argv:
    """``skopeo delete`` of ``ref`` (``repository@digest``): the manifest and every tag on it."""
    return ("skopeo", "delete", "--retry-times", "2", *access.options(), f"docker://{ref}")


class Registry:
    """Lookups and tag copies in one registry, through a :class:`Runner`."""

    def __init__(self, runner: Runner, access: RegistryAccess) -> None:
        self.runner = runner
        self.access = access

    def manifest(self, ref: str) -> Manifest | None:
        """The manifest ``ref`` names, or None if the registry has no such tag.

        Raises:
            StepFailedError: the registry could not be asked (unreachable, refused, TLS).
        """
        try:
            raw = self.runner.capture(inspect_raw(ref, self.access))
        except StepFailedError as exc:
            if any(word in exc.tail.lower() for word in _ABSENT):
                return None
            raise
        digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
        try:
            layers = json.loads(raw).get("layers", [])
            size = sum(int(layer.get("size", 0)) for layer in layers)
        except (ValueError, AttributeError, TypeError):
            size = 0
        return Manifest(ref=ref, digest=digest, size=size, raw=raw.encode())

    def copy_tag(self, source: str, destination: str) -> None:
        """Point ``destination`` at ``source``'s manifest. Raises StepFailedError."""
        self.runner.capture(copy_tag(source, destination, self.access))

    def tags(self, repository: str) -> list[str]:
        """The tags of ``repository`` ([] when the registry has no such repository).

        Raises:
            StepFailedError: the registry could not be asked.
        """
        try:
            out = self.runner.capture(list_tags(repository, self.access))
        except StepFailedError as exc:
            if any(word in exc.tail.lower() for word in _ABSENT):
                return []
            raise
        return [str(tag) for tag in json.loads(out).get("Tags") or []]

    def delete(self, repository: str, digest: str) -> None:
        """Delete the manifest ``digest`` of ``repository``, and so every tag on it.
        Raises StepFailedError (e.g. a registry that does not allow deleting)."""
        self.runner.capture(delete(f"{repository}@{digest}", self.access))
