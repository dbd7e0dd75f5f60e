"""What planning reads from outside the pipeline file, gathered once by the loading step.

Planning is pure: it never opens a file, reads the environment or touches the network. The
loading step (:mod:`orchestrator.loading.load`) reads everything a plan depends on (script
and file digests, folder hashes, upper-constraints, fetched sources) into these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.model.debs import DebIndex
from orchestrator.model.pipeline import Source

# Folders of a source tree that are neither hashed nor copied into an image: VCS data, build
# output, virtualenvs and caches, and a CI job's own state and storage (.orchestrate).
TREE_SKIP = (
    ".git",
    ".tox",
    ".nox",
    "__pycache__",
    ".venv",
    ".eggs",
    "build",
    "dist",
    ".orchestrate",
    "node_modules",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)


def tree_ignorefile() -> str:
    """A .containerignore leaving :data:`TREE_SKIP` out of a copied tree, at any depth."""
    return "".join(f"{name}\n**/{name}\n" for name in TREE_SKIP)


@dataclass(frozen=True, kw_only=True)
class FetchedSource:
    """A source on the host, with its identity and the requirements it declares."""

    source: Source
    path: Path
    identity: str
    version: str
    requires: tuple[str, ...]
    # A source tree (git export, local folder) rather than an sdist file.
    is_tree: bool = False
    # The project's own bindep.txt, if it ships one ("" otherwise).
    bindep: str = ""

    @property
    def revision(self) -> str:
        """The commit or sha256 behind the identity, for image labels."""
        return self.identity.split(":", 1)[1]


@dataclass(frozen=True, kw_only=True)
class WheelSet:
    """What the wheels image's requirement lines resolve to under upper-constraints, for one
    platform (:mod:`orchestrator.loading.resolution`): its key holds these pins."""

    lines: tuple[str, ...]
    python: str
    # uv's --python-platform: x86_64-manylinux_2_36.
    platform: str
    pins: tuple[str, ...]
    # The sdists whose requirements were taken from their PKG-INFO (name==version).
    declared: tuple[str, ...] = ()
    # Each pin's (canonical) name -> the names of the pins it requires, as resolved for this
    # platform (uv's "via" annotations, inverted): what an image installing some of the
    # lines installs of the set. Empty: unknown (every node is keyed by the whole set).
    requires: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def pins_text(self) -> str:
        """The pins as the wheels image holds them (``resolved.txt``)."""
        return "".join(f"{pin}\n" for pin in self.pins)


@dataclass(frozen=True, kw_only=True)
class PlanInputs:
    """Everything a plan depends on beyond the resolved pipeline and the settings."""

    scripts_dir: Path
    # ``sha256:<hex>`` of each file in scripts_dir, by file name.
    scripts: Mapping[str, str]
    # ``sha256:<hex>`` of each file the pipeline names: constraints, step scripts,
    # Containerfiles.
    files: Mapping[Path, str]
    # sha256 hex of each folder a child image is built from.
    trees: Mapping[Path, str]
    # The text of the pipeline's upper-constraints file.
    upper_constraints: str
    sources: Mapping[str, FetchedSource]
    # With ``refresh: updates``: what the base's suites offer now, by Debian architecture.
    archive: Mapping[str, DebIndex] = field(default_factory=dict)
    # The distro packages a published index's compiled wheels need (``requirements.
    # runtime_packages``): services install them from the archive.
    runtime_packages: tuple[str, ...] = ()
    # The versions a rebuild is held to (``apt_pins``: ``verify``), by node: its ``archive``
    # input names these rather than the archive's current ones.
    pinned: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The wheels image's resolution, by platform name; a platform without one is keyed by
    # the whole upper-constraints file.
    wheel_sets: Mapping[str, WheelSet] = field(default_factory=dict)
