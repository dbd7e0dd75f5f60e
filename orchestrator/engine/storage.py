"""Local image storage: queries and housekeeping over an injected
:class:`~orchestrator.engine.runner.Runner`, so the executor and the cleanup can be tested with
a recording fake. Every argv comes from :mod:`orchestrator.engine.buildah`; this is where the
engine hands them to a runner.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from orchestrator.engine import leftovers
from orchestrator.engine.buildah import (
    containers,
    from_image,
    images,
    inspect_image_id,
    inspect_label,
    inspect_manifest_digest,
    manifest_exists,
    manifest_rm,
    mount,
    podman_image_facts,
    rm,
    rm_all,
    rmi,
    rmi_all,
    umount,
)
from orchestrator.engine.naming import CONTAINER_PREFIX, KEY_LABEL
from orchestrator.engine.runner import Runner
from orchestrator.errors import OrchestrateError, StepFailedError

# ``buildah containers`` when a container it listed went away before it read it.
CONTAINER_GONE = "container not known"
LISTING_TRIES = 5


class Storage:
    """Local image storage, queried and tidied through a :class:`Runner`."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def image_key(self, image: str) -> str | None:
        """The cache key label of a local image, or None if there is no such image."""
        try:
            return self.runner.capture(inspect_label(image, KEY_LABEL)).strip()
        except StepFailedError:
            return None

    def is_manifest_list(self, name: str) -> bool:
        """Whether ``name`` names a manifest list in local storage (never asks a registry)."""
        try:
            self.runner.capture(manifest_exists(name))
        except OrchestrateError:  # not a list, no such name, or no podman
            return False
        return True

    def key_of(self, name: str) -> str | None:
        """The key a local image carries, or a manifest list is named by (its tag: a list
        carries no label), or None."""
        if self.is_manifest_list(name):
            return name.rpartition(":")[2] or None
        return self.image_key(name)

    def image_facts(self, image: str) -> tuple[str, int]:
        """(image id, size in bytes) of a local image; size 0 where podman is missing."""
        try:
            image_id, size = self.runner.capture(podman_image_facts(image)).split()
            return image_id, int(size)
        except (OrchestrateError, ValueError):
            try:
                return self.runner.capture(inspect_image_id(image)).strip(), 0
            except StepFailedError:
                return "", 0

    def image_id(self, image: str) -> str | None:
        """The id of a local image, or None if there is no such image."""
        try:
            return self.runner.capture(inspect_image_id(image)).strip() or None
        except StepFailedError:
            return None

    def manifest_digest(self, image: str) -> str | None:
        """The digest of a local image's manifest (``sha256:<hex>``), or None."""
        try:
            return self.runner.capture(inspect_manifest_digest(image)).strip() or None
        except StepFailedError:
            return None

    def drop_replaced(self, previous_id: str, image: str) -> bool:
        """Remove the image ``image`` named before a rebuild, if the rebuild gave the name to
        another image and nothing else names it (it would linger untagged, where prune never
        looks). Returns whether it went."""
        if self.image_id(image) in (None, previous_id):
            return False
        try:
            self.runner.capture(rmi(previous_id))
        except StepFailedError:  # still named or used elsewhere: not ours to remove
            return False
        return True

    @contextlib.contextmanager
    def mounted(self, image: str, container: str) -> Iterator[Path]:
        """``image``'s root on the host, through a throwaway working container named
        ``container``; unmounted and removed on the way out, whatever happens.

        Raises:
            StepFailedError: buildah could not open or mount the image.
        """
        self.runner.capture(from_image(container, image))
        try:
            yield Path(self.runner.capture(mount(container)).strip())
        finally:
            with contextlib.suppress(OrchestrateError):
                self.runner.capture(umount(container))
            self.remove_containers([container])

    @contextlib.contextmanager
    def mounted_container(self, container: str) -> Iterator[Path]:
        """A working container's root on the host, unmounted on the way out.

        Raises:
            StepFailedError: buildah could not mount it (no such container).
        """
        root = Path(self.runner.capture(mount(container)).strip())
        try:
            yield root
        finally:
            with contextlib.suppress(OrchestrateError):
                self.runner.capture(umount(container))

    def containers(self) -> list[str]:
        """Names of orchestrate's working containers (``orch-...``) in storage.

        buildah lists containers, then reads each one: a container another node removes in
        between fails the whole listing ("container not known"). That is asked again."""
        for attempt in range(LISTING_TRIES):
            try:
                names = self.runner.capture(containers()).split()
            except StepFailedError as exc:
                if CONTAINER_GONE not in exc.tail or attempt == LISTING_TRIES - 1:
                    raise
                continue
            return [n for n in names if n.startswith(CONTAINER_PREFIX)]
        raise AssertionError("unreachable")

    def step_containers(self) -> list[str]:
        """Working containers that still have a step running without its ``buildah run``."""
        return sorted({name for name, _ in leftovers.payloads(self.runner)})

    def image_names(self) -> list[str]:
        """``repository:tag`` of every tagged image in storage."""
        return [n for n in self.runner.capture(images()).split() if not n.endswith(":<none>")]

    def remove_containers(self, names: Sequence[str]) -> None:
        """Remove those of ``names`` that exist, in one ``buildah rm``, after stopping any
        step a killed ``buildah run`` left running in them (:mod:`.leftovers`)."""
        leftovers.stop(self.runner, set(names))
        present = set(self.containers())
        gone = [name for name in names if name in present]
        if gone:
            self.runner.capture(rm(*gone))

    def empty(self) -> None:
        """Remove every container and image: for a scratch storage of orchestrate's own
        (``orchestrate verify``), never the host's. Raises StepFailedError."""
        self.runner.capture(rm_all())
        self.runner.capture(rmi_all())

    def remove_images(self, names: Sequence[str]) -> None:
        """Remove image names in one ``buildah rmi``, those of manifest lists with
        ``manifest rm`` (``rmi`` of a list removes an image it names). Raises
        StepFailedError."""
        lists = [name for name in names if self.is_manifest_list(name)]
        for name in lists:
            self.runner.capture(manifest_rm(name))
        images = [name for name in names if name not in lists]
        if images:
            self.runner.capture(rmi(*images))

    def drop_candidate(self, candidate: str) -> None:
        """Remove an unverified image's (or manifest list's) candidate name, if it exists.
        A list first: ``inspect`` of a list answers with the host platform's image."""
        if self.is_manifest_list(candidate):
            with contextlib.suppress(StepFailedError):
                self.runner.capture(manifest_rm(candidate))
        elif self.image_key(candidate) is not None:
            with contextlib.suppress(StepFailedError):
                self.runner.capture(rmi(candidate))
