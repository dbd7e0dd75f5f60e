"""The frozen result of planning one node, and what planning needs to make it."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from orchestrator.model.inputs import PlanInputs
from orchestrator.model.materials import Material
from orchestrator.model.platforms import SUPPORTED, Platform, named_in
from orchestrator.model.settings import Settings
from orchestrator.model.states import NodeKind

# The last step of a ListsFetch: its container removed (a failure there is only noted).
LISTS_RM = "apt-lists-rm"


@dataclass(frozen=True, kw_only=True)
class ListsFetch:
    """The run's Debian package lists, fetched once for every node that installs packages:
    ``apt-get update`` in a throwaway container of the base image (``steps``: from, update,
    rm), into ``kept``, copied to ``folder``, which each node's install-packages step then
    reads, read-only.

    Every node of a platform names the same folder; its own network file and container name
    are in its steps, and whichever node needs the lists first fetches them."""

    folder: Path
    # The host's lists of that base (``<state>/apt-lists/<base>``), kept between runs: the
    # fetch's ``apt-get update`` revalidates them (an unchanged suite is not downloaded or
    # parsed again), then the run reads its own copy of them, ``folder``.
    kept: Path
    container: str
    steps: tuple[Step, ...]
    # The node whose image the container starts from (the base): it must be in local
    # storage when a node that reads the lists is built, even when only a grandparent.
    node: str


@dataclass(frozen=True, kw_only=True)
class Step:
    """One command of a node: its name and exact argv (run on the host, buildah included)."""

    name: str
    argv: tuple[str, ...]
    host_env: tuple[str, ...] = ()
    # Parents whose image this step needs; the node may start before they finish, this step
    # may not (a service's distro packages install while the wheels image is being built).
    needs: tuple[str, ...] = ()
    # Run at low CPU priority: work done ahead of a late parent must not slow that parent,
    # which is on the critical path.
    background: bool = False
    # Run first, once per run (the first step that needs it; the others wait for it).
    lists: ListsFetch | None = None

    def display(self) -> str:
        """The command line as it would be typed, with host env names noted."""
        env = f"[env: {', '.join(self.host_env)}] " if self.host_env else ""
        after = f"[after: {', '.join(self.needs)}] " if self.needs else ""
        return after + env + shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class GeneratedFile:
    """A file the executor writes on the host before the node's steps run."""

    path: Path
    content: str
    secret: bool = False


@dataclass(frozen=True, kw_only=True)
class NodePlan:
    """Everything needed to build one node, decided before anything runs."""

    node: str
    kind: NodeKind
    parents: tuple[str, ...]
    image: str
    candidate: str
    tags: tuple[str, ...]
    key: str
    inputs: Mapping[str, str]
    containers: tuple[str, ...]
    files: tuple[GeneratedFile, ...]
    scratch: tuple[Path, ...]
    # Folders the executor makes, empty, before the node's steps (a step's writable mount);
    # removed with the scratch.
    folders: tuple[Path, ...] = ()
    steps: tuple[Step, ...]
    push: tuple[Step, ...] = ()
    # Moves the release tags to the image, last: a node that failed (a push included) never
    # moves them.
    release: tuple[Step, ...] = ()
    run_dir: Path = field(default=Path("."))
    # The node's repository in the registry (``<registry>/<node>``), "" without a registry.
    remote: str = ""
    # The release tags (``2026.1``, ``master-20261127``) promoted in the registry once every
    # node of the run succeeded.
    release_tags: tuple[str, ...] = ()
    # (package, why) for the packages bindep files brought in, for ``plan`` to show.
    origins: tuple[tuple[str, str], ...] = ()
    # With ``refresh: updates``: every Debian package the image holds (its FROM image's and
    # its own), and the suite each of its own comes from (for ``plan``'s reasons).
    debs: frozenset[str] = frozenset()
    deb_suites: Mapping[str, str] = field(default_factory=dict)
    # What the image is made from, for its provenance: parent and wheels images, the source,
    # the constraints (image digests are filled in once the images exist).
    materials: tuple[Material, ...] = ()
    # The constraints its key holds (its own input, or through a parent's key): the digest
    # of the upper-constraints file, or of the wheel set's pins resolved from it; its commit
    # when taken from git. "" when the key holds none: its SBOM and provenance name none.
    constraints: str = ""
    constraints_revision: str = ""
    # The wheels image keyed by its pins: a digest of its key's other inputs (its
    # toolchain, wheel-builder, scripts...: how its wheels are made). A node installing from
    # it is keyed by this and the pins it installs, not by the wheels image's key. "" for
    # other nodes, and for a wheels image keyed by the whole constraints file.
    wheel_recipe: str = ""
    # The wheels image a service's venv is installed from ("" for other nodes): the
    # provenance names each wheel installed with the hash this image holds.
    wheels_image: str = ""

    @property
    def key_tag(self) -> str:
        """The tag naming the key (its first 20 hex digits), local and remote."""
        return self.key[:20]

    @property
    def remote_key(self) -> str:
        """``<registry>/<node>:<key tag>``: where a later run, anywhere, finds this node."""
        return f"{self.remote}:{self.key_tag}" if self.remote else ""


def empty_plan(node: str, kind: NodeKind = NodeKind.SERVICE) -> NodePlan:
    """A plan with no steps: what scheduler benchmarks and tests schedule."""
    return NodePlan(
        node=node,
        kind=kind,
        parents=(),
        image=f"{node}:empty",
        candidate="",
        tags=(),
        key="",
        inputs={},
        containers=(),
        files=(),
        scratch=(),
        steps=(),
    )


@dataclass(frozen=True)
class PreviousBuild:
    """The newest image built for a node's repository that is still in local storage, and
    the inputs of its key: a cache a node may draw on when those inputs allow it."""

    image: str
    inputs: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class PlanContext:
    """What planning needs beyond the pipeline: run identity, folders, settings, inputs."""

    run_id: str
    run_dir: Path
    settings: Settings
    inputs: PlanInputs
    now: datetime
    # Per wheels node, the recent wheels images still in local storage, newest first.
    previous: Mapping[str, Sequence[PreviousBuild]] = field(default_factory=dict)
    # The platform planned for, and whether the graph names its nodes after it
    # (``keystone@arm64``: a pipeline of several platforms).
    platform: Platform = SUPPORTED["linux/amd64"]
    qualified: bool = False
    # --no-cache and --no-cache-for: those nodes build from nothing, taking no cached wheel.
    no_cache: bool = False
    no_cache_for: frozenset[str] = frozenset()

    def from_nothing(self, node: str) -> bool:
        """Whether ``node`` (by its name in the image graph) builds from nothing."""
        return self.no_cache or named_in(node, self.no_cache_for)

    def qualify(self, node: str) -> str:
        """``node``'s name in the image graph: ``keystone``, or ``keystone@arm64``."""
        return f"{node}{self.platform.suffix}" if self.qualified else node

    @property
    def date(self) -> str:
        return self.now.strftime("%Y%m%d")
