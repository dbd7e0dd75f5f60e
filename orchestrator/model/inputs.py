"""What planning reads from outside the pipeline file, gathered once by the loading step.

Planning is pure: it never opens a file, reads the environment or touches the network. The
loading step (:mod:`orchestrator.loading.load`) reads everything a plan depends on (script
and file digests, folder hashes, upper-constraints, fetched sources) into these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.model.pipeline import Source


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

    @property
    def revision(self) -> str:
        """The commit or sha256 behind the identity, for image labels."""
        return self.identity.split(":", 1)[1]


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
