"""``orchestrate outdated``: each image mounted read-only, its inventory read, compared with
the archive's current indexes and the pipeline's current upper-constraints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packaging.markers import default_environment
from packaging.utils import canonicalize_name

from orchestrator.engine import naming
from orchestrator.engine.runner import Runner
from orchestrator.engine.storage import Storage
from orchestrator.inspection.outdated import ImageReport, Inventory, compare, read_image
from orchestrator.loading.archive import Archive
from orchestrator.loading.load import constraint_lines


def outdated(
    images: Sequence[tuple[str, str]],
    runner: Runner,
    archive: Archive,
    *,
    upper_constraints: str | None,
    run_id: str,
) -> list[ImageReport]:
    """A report per ``(name, image)`` (each in local storage): its outdated packages and,
    with ``upper_constraints`` (the text of the pipeline's file), the distributions its pins
    no longer match.

    Raises:
        ConfigError: an image holds no SBOM or apt sources.
        FetchError, SourceError: the archive's indexes could not be read.
    """
    storage = Storage(runner)
    reports = []
    for number, (name, image) in enumerate(images):
        container = naming.container_name(run_id, f"outdated-{number}")
        with storage.mounted(image, container) as root:
            inventory = read_image(Path(root), image)
        pins = None
        if upper_constraints is not None:
            pins = upper_pins(upper_constraints, python_version_of(inventory))
        offers = archive.offers(inventory.sources, inventory.arch)
        reports.append(compare(name, image, inventory, offers, pins))
    return reports


def python_version_of(inventory: Inventory) -> str:
    """The image's Python (``3.11``), from its ``python3`` package; else the host's."""
    for deb in inventory.debs:
        if deb.name == "python3":
            upstream = deb.version.split(":", 1)[-1].split("-", 1)[0]
            return ".".join(upstream.split(".")[:2])
    return default_environment()["python_version"]


def upper_pins(
    text: str, python_version: str, *, source: str = "upper-constraints"
) -> dict[str, str]:
    """``{canonical name: version}`` of an upper-constraints text, for a Linux host running
    ``python_version`` (lines whose markers exclude it are left out).

    Raises:
        ConfigError: a line that is not a requirement.
    """
    environment: dict[str, str] = {
        **{k: str(v) for k, v in default_environment().items()},
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
    }
    pins = {}
    for _, _, requirement in constraint_lines(text, source):
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        for spec in requirement.specifier:
            if spec.operator in ("===", "=="):
                pins[str(canonicalize_name(requirement.name))] = spec.version
    return pins
