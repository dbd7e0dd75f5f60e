"""Typed, frozen pipeline objects: what a validated ``pipelines/*.yaml`` holds.

A pipeline says *what* to build: defaults (release, toolchain pins, constraints, tags), the base
image, the requirements (wheels) image, one entry per service image and optional child images.
Run settings that may also come from the CLI or the environment (parallelism, proxies, ...) are
kept here as raw fields and resolved in :mod:`orchestrator.model.settings`. The file is read
and checked by :mod:`orchestrator.model.pipeline_file`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from orchestrator.model.yamlfile import Field

BASE_NODE = "base"
REQUIREMENTS_NODE = "requirements"
# The wheels image's build environment (compilers, -dev packages, the builder venv), kept
# apart so a changed constraint rebuilds the wheels only.
BUILDER_NODE = "wheel-builder"
# The layer the services share (kolla's openstack-base): the distro packages and Python
# distributions that two services or more install, once (``layering: shared``).
SHARED_NODE = "openstack-base"
RESERVED_NODES = frozenset({BASE_NODE, REQUIREMENTS_NODE, BUILDER_NODE, SHARED_NODE})

SourceKind = Literal["pypi", "git", "url", "local"]
WheelScope = Literal["pipeline", "selected", "all"]
Refresh = Literal["updates", "daily", "weekly", "monthly", "never"]
Layering = Literal["shared", "flat"]
REFRESH_CHOICES: tuple[Refresh, ...] = ("updates", "daily", "weekly", "monthly", "never")


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    """Pinned versions of the Python build toolchain inside every venv (LOCI leaves them loose)."""

    pip: str
    setuptools: str
    wheel: str
    uv: str = ""

    def requirements(self) -> tuple[str, ...]:
        """The venv toolchain as pip requirement specifiers."""
        return (f"pip=={self.pip}", f"setuptools=={self.setuptools}", f"wheel=={self.wheel}")

    def builder(self) -> tuple[str, ...]:
        """The wheels builder's toolchain: the venv's, plus uv (the resolver) when pinned."""
        return (*self.requirements(), *((f"uv=={self.uv}",) if self.uv else ()))


@dataclass(frozen=True, kw_only=True)
class Constraints:
    """OpenStack's upper-constraints and global-requirements files for the release."""

    upper: Path
    global_requirements: Path | None = None
    # Taken from a git repository (openstack/requirements at the branch being built): the
    # repository and ref, and the file's path in it. ``upper``/``global_requirements`` are
    # then that path until the loading step fetches the repository and points them at the
    # exported files, recording the commit in ``revision`` (part of every key).
    git: Source | None = None
    revision: str = ""


@dataclass(frozen=True, kw_only=True)
class BaseSpec:
    """The OS image every other image starts FROM: bootstrapped with mmdebstrap, or pulled."""

    kind: Literal["mmdebstrap", "image"]
    image: str = ""
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    security_mirror: str = "http://deb.debian.org/debian-security"
    variant: str = "minbase"
    components: tuple[str, ...] = ("main",)
    include: tuple[str, ...] = ("python3", "python3-venv", "ca-certificates")
    packages: tuple[str, ...] = ()
    # More apt sources for the bootstrap and every image (``deb [options] URI SUITE
    # COMPONENT...`` lines): a site's own repository.
    sources: tuple[str, ...] = ()
    # How the images pick up the distro's updates: ``updates`` puts the archive's versions
    # of the packages each image installs into its key (it rebuilds when one has a newer
    # version); a period (``daily`` ...) puts the current period into the base's key.
    refresh: Refresh = "weekly"

    def apt_lines(self, mirror: str) -> list[str]:
        """sources.list lines: the suite, its -updates, with a security mirror -security,
        then the pipeline's own ``sources``."""
        components = " ".join(self.components)
        lines = [
            f"deb {mirror} {self.suite} {components}",
            f"deb {mirror} {self.suite}-updates {components}",
        ]
        if self.security_mirror:
            lines.append(f"deb {self.security_mirror} {self.suite}-security {components}")
        return [*lines, *self.sources]


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where a project's code comes from; resolved and fetched on the host before the build."""

    kind: SourceKind
    name: str = ""
    version: str = ""
    sha256: str = ""
    url: str = ""
    ref: str = ""
    path: Path | None = None

    def describe(self) -> str:
        """A short human-readable form, e.g. ``pypi:keystone==29.1.0``."""
        match self.kind:
            case "pypi":
                return f"pypi:{self.name}=={self.version}"
            case "git":
                return f"git:{self.url}@{self.ref}"
            case "url":
                return f"url:{self.url}"
            case "local":
                return f"local:{self.path}"


@dataclass(frozen=True, kw_only=True)
class ExtraStep:
    """A pipeline-defined step run in the working container: an inline command or a script."""

    name: str
    run: str = ""
    script: Path | None = None


@dataclass(frozen=True, kw_only=True)
class ImageSpec:
    """One service image entry of a pipeline (``images.<name>``)."""

    name: str
    project: str
    source: Source
    profiles: tuple[str, ...] | None = None
    pip_packages: tuple[str, ...] = ()
    dist_packages: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    plugin: bool = False
    parent: str = ""
    steps: tuple[ExtraStep, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ChildSpec:
    """A child image built from a Containerfile FROM another node (``children.<name>``)."""

    name: str
    parent: str
    containerfile: Path
    context: Path
    build_args: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RequirementsSpec:
    """The wheels image: what it wheels beyond the selected services' needs."""

    # pipeline: every service of the pipeline (keys never depend on a run's selection, so
    # hosts that build different nodes share one wheels image); selected: the run's
    # services only; all: every pin of upper-constraints.
    scope: WheelScope = "pipeline"
    build_packages: tuple[str, ...] = ()
    pip_packages: tuple[str, ...] = ()
    # A wheels image built elsewhere (``from: <registry>/requirements@sha256:...``), pinned by
    # digest: the node pulls it instead of building wheels.
    image: str = ""
    # Or a package index another build published (``index: URL``) with the exact pins it was
    # built for (``pins``) and, optionally, the distro packages its compiled wheels need.
    index: str = ""
    pins: Path | None = None
    runtime_packages: Path | None = None
    # any: binary wheels where the index has them; none: every wheel built from its sdist
    # (for sites that trust no binary); only-pinned: from sdists except ``only_binary``.
    binary: str = "any"
    only_binary: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BindepSpec:
    """Packages from bindep files (``bindep:``): LOCI's and the projects' own."""

    # Distro packages: runtime ones for each service (its project and profiles), build ones
    # for the wheels image (the ``requirements`` profile).
    files: tuple[Path, ...] = ()
    # pip packages (LOCI's pydep.txt), with the same selectors.
    pydep: tuple[Path, ...] = ()
    # {suite: {name: Debian's name, or null to drop}} for names written for Ubuntu.
    rename: Path | None = None
    # Also read each project's own bindep.txt (from its sdist or tree) for runtime packages.
    project: bool = False

    @property
    def used(self) -> bool:
        return bool(self.files or self.pydep or self.project)


@dataclass(frozen=True, kw_only=True)
class AllowedDowngrades:
    """Which packages and distributions a release may downgrade (``allow_downgrades:``):
    every one (``true``), those named (a list), or none (the default): promotion refuses to
    move a release tag onto an image holding an older version than the one it points at."""

    every: bool = False
    names: tuple[str, ...] = ()

    def allows(self, name: str) -> bool:
        """``name`` (a Debian package, or a Python distribution in any spelling:
        ``oslo.config`` is ``oslo-config``) may be downgraded."""
        if self.every:
            return True
        wanted = canonicalize_name(name)
        return any(n == name or canonicalize_name(n) == wanted for n in self.names)


@dataclass(frozen=True, kw_only=True)
class GateCheck:
    """A check the images of a run must pass before any release tag moves (``gate:``): a
    shell command run in the pipeline's folder, told where the images are and where to keep
    the services' logs (see :mod:`orchestrator.execution.gate`)."""

    name: str
    run: str
    timeout: int = 3600  # seconds


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    """A validated pipeline file."""

    path: Path
    name: str
    release: str
    toolchain: Toolchain
    constraints: Constraints
    tags: tuple[str, ...]
    base: BaseSpec
    requirements: RequirementsSpec
    images: dict[str, ImageSpec]
    children: dict[str, ChildSpec]
    settings: dict[str, Field] = field(default_factory=dict)
    bindep: BindepSpec = field(default_factory=BindepSpec)
    layering: Layering = "shared"
    # {node: its member services}: a shared node between openstack-base and a group of
    # services, holding the distro packages two members or more install (``shared_nodes``).
    shared_nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The platforms built (``linux/amd64``, ``linux/arm64``); empty: the host's.
    platforms: tuple[str, ...] = ()
    # {project: its entries, in order}: projects the pipeline declares in the catalog's
    # schema, from its catalog files then inline (read by orchestrator.model.site_projects).
    site_projects: dict[str, tuple[Field, ...]] = field(default_factory=dict)
    # Checks run after the last node is built and before any release tag moves, in order.
    gate: tuple[GateCheck, ...] = ()
    # ``retention: {keep: N}``: after each promotion, the N newest dated tags of each image
    # are kept in the registry and the older ones deleted (``orchestrate registry prune``).
    retention: int | None = None
    # ``allow_downgrades``: what promotion may downgrade (none unless the pipeline says so).
    allow_downgrades: AllowedDowngrades = field(default_factory=AllowedDowngrades)
