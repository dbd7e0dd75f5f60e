"""Typed, frozen pipeline objects and the loader that validates ``pipelines/*.yaml``.

A pipeline says *what* to build: defaults (release, toolchain pins, constraints, tags), the base
image, the requirements (wheels) image, one entry per service image and optional child images.
Run settings that may also come from the CLI or the environment (parallelism, proxies, ...) are
read here as raw values and resolved in :mod:`orchestrator.model.settings`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from orchestrator.model.options import OPTION_BY_NAME, OPTIONS
from orchestrator.model.platforms import platform_problem
from orchestrator.model.references import component_problem, tag_template_problem
from orchestrator.model.settings import field_value
from orchestrator.model.yamlfile import Field, load_yaml

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
Refresh = Literal["daily", "weekly", "monthly", "never"]
Layering = Literal["shared", "flat"]
REFRESH_CHOICES: tuple[Refresh, ...] = ("daily", "weekly", "monthly", "never")
# What makes a folder a Python project a local source may point at.
PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")


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
    # How often the base is rebuilt even when nothing else changed, to pick up the distro's
    # security updates: the current period enters the base's cache key.
    refresh: Refresh = "weekly"


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


PIPELINE_KEYS = (
    "name",
    "release",
    "settings",
    "network",
    "toolchain",
    "constraints",
    "tags",
    "base",
    "requirements",
    "images",
    "children",
    "bindep",
    "layering",
    "shared_nodes",
    "platforms",
)


def load_pipeline(path: Path) -> Pipeline:
    """Load and validate one pipeline file.

    Raises:
        ConfigError: on the first bad field, naming the file and the key path.
    """
    root = load_yaml(path)
    top = root.mapping(PIPELINE_KEYS, required=("images",))
    folder = path.parent
    settings: dict[str, Field] = {}
    for section in ("settings", "network"):
        if section in top:
            # Keys are validated against the option table (orchestrator.model.options).
            for key, value in top[section].mapping(_section_keys(section)).items():
                field_value(OPTION_BY_NAME[key], value)  # type errors are caught here
                settings[key] = value
    images = _images(top["images"], folder)
    children = _children(top["children"], folder) if "children" in top else {}
    for name in children:
        if name in images:
            raise top["children"].error(f"child image {name!r} has the same name as an image")
    release = top["release"].string() if "release" in top else ""
    layering = top["layering"].choice(("shared", "flat")) if "layering" in top else "shared"
    shared_nodes = (
        _shared_nodes(top["shared_nodes"], layering, images, children)
        if "shared_nodes" in top
        else {}
    )
    _check_tags(top, release, images, children, shared_nodes)
    return Pipeline(
        path=path,
        name=top["name"].name() if "name" in top else path.stem,
        release=release,
        toolchain=_toolchain(top.get("toolchain"), root),
        constraints=_constraints(top.get("constraints"), root, folder),
        tags=top["tags"].strings() if "tags" in top else (),
        base=_base(top["base"]) if "base" in top else BaseSpec(kind="mmdebstrap"),
        requirements=_requirements(top["requirements"], folder)
        if "requirements" in top
        else (RequirementsSpec()),
        images=images,
        children=children,
        settings=settings,
        bindep=_bindep(top["bindep"], folder) if "bindep" in top else BindepSpec(),
        layering=layering,  # type: ignore[arg-type]
        shared_nodes=shared_nodes,
        platforms=_platforms(top["platforms"]) if "platforms" in top else (),
    )


def _platforms(node: Field) -> tuple[str, ...]:
    """``platforms: [linux/amd64, linux/arm64]``: known platforms, each once."""
    names = node.strings()
    if not names:
        raise node.error("an empty list: leave 'platforms' out to build for this host")
    for item, name in zip(node.items(), names, strict=True):
        problem = platform_problem(name)
        if problem:
            raise item.error(problem)
    return names


def _shared_nodes(
    node: Field, layering: str, images: dict[str, ImageSpec], children: dict[str, ChildSpec]
) -> dict[str, tuple[str, ...]]:
    """``shared_nodes: {name: [service, ...]}``: each a node of its own between
    openstack-base and its members (two or more services, none a plugin, each in one node)."""
    if layering != "shared":
        raise node.error("shared nodes need 'layering: shared' (this pipeline is flat)")
    out: dict[str, tuple[str, ...]] = {}
    member_of: dict[str, str] = {}
    for name, entry in node.entries():
        if name in RESERVED_NODES:
            raise entry.error(f"{name!r} is reserved for the {name} node; pick another name")
        if name in images or name in children:
            raise entry.error(f"shared node {name!r} has the same name as an image")
        _check_image_name(name, entry)
        members = entry.names()
        for item, member in zip(entry.items(), members, strict=True):
            spec = images.get(member)
            if spec is None:
                known = ", ".join(sorted(images))
                raise item.error(f"{member!r} is not an image of this pipeline (images: {known})")
            if spec.plugin:
                raise item.error(f"{member!r} is a plugin: it starts from {spec.parent}")
            if member in member_of:
                raise item.error(f"{member!r} is already a member of {member_of[member]!r}")
            member_of[member] = name
        if len(members) < 2:
            raise entry.error("a shared node needs two member services or more")
        out[name] = members
    return out


def _bindep(node: Field, folder: Path) -> BindepSpec:
    m = node.mapping(("files", "pydep", "rename", "project"))

    def files(key: str) -> tuple[Path, ...]:
        if key not in m:
            return ()
        out = []
        for item in m[key].items():
            path = item.path_value(folder)
            if not path.is_file():
                raise item.error(f"file not found: {path}")
            out.append(path)
        return tuple(out)

    rename = None
    if "rename" in m:
        rename = m["rename"].path_value(folder)
        if not rename.is_file():
            raise m["rename"].error(f"file not found: {rename}")
    return BindepSpec(
        files=files("files"),
        pydep=files("pydep"),
        rename=rename,
        project=m["project"].boolean() if "project" in m else False,
    )


def _check_tags(
    top: dict[str, Field],
    release: str,
    images: dict[str, ImageSpec],
    children: dict[str, ChildSpec],
    shared_nodes: dict[str, tuple[str, ...]],
) -> None:
    """Every tag template gives a valid tag for every node it applies to."""
    nodes = (
        BASE_NODE,
        REQUIREMENTS_NODE,
        BUILDER_NODE,
        SHARED_NODE,
        *shared_nodes,
        *images,
        *children,
    )
    if "tags" in top:
        for item in top["tags"].items():
            for node in nodes:
                problem = tag_template_problem(item.string(), release=release, node=node)
                if problem:
                    raise item.error(problem)
    for section, specs in (("images", images), ("children", children)):
        for name, spec in specs.items():
            for index, template in enumerate(spec.tags):
                problem = tag_template_problem(template, release=release, node=name)
                if problem:
                    raise top[section].error(problem).at(f"{section}.{name}.tags[{index}]")


def _section_keys(section: str) -> tuple[str, ...]:
    return tuple(o.name for o in OPTIONS if o.section == section)


def _toolchain(node: Field | None, root: Field) -> Toolchain:
    if node is None:
        raise root.error("missing required key 'toolchain' (pins for pip, setuptools and wheel)")
    m = node.mapping(("pip", "setuptools", "wheel", "uv"), required=("pip", "setuptools", "wheel"))
    return Toolchain(
        pip=_version(m["pip"]),
        setuptools=_version(m["setuptools"]),
        wheel=_version(m["wheel"]),
        uv=_version(m["uv"]) if "uv" in m else "",
    )


def _version(node: Field) -> str:
    value = node.string()
    if not all(part.isalnum() for part in value.split(".")):
        raise node.error(f"{value!r} is not an exact version such as '25.1.1'")
    return value


def _constraints(node: Field | None, root: Field, folder: Path) -> Constraints:
    if node is None:
        raise root.error("missing required key 'constraints' (the upper-constraints file)")
    m = node.mapping(("upper", "global", "git", "ref"), required=("upper",))
    if "git" in m:
        # {git: URL, ref: REF, upper: path/in/repo, global: path/in/repo}
        git = _source(_git_only(m), folder)
        upper_in_repo = _repo_path(m["upper"])
        glob_in_repo = _repo_path(m["global"]) if "global" in m else None
        return Constraints(upper=upper_in_repo, global_requirements=glob_in_repo, git=git)
    if "ref" in m:
        raise m["ref"].error("'ref' applies to constraints taken from git ('git: URL')")
    upper = m["upper"].path_value(folder)
    if not upper.is_file():
        raise m["upper"].error(f"file not found: {upper}")
    glob = None
    if "global" in m:
        glob = m["global"].path_value(folder)
        if not glob.is_file():
            raise m["global"].error(f"file not found: {glob}")
    return Constraints(upper=upper, global_requirements=glob)


def _git_only(m: dict[str, Field]) -> Field:
    """The ``git``/``ref`` keys of a constraints mapping, as a git source field."""
    value = {k: m[k].value for k in ("git", "ref") if k in m}
    return Field(source=m["git"].source, path=m["git"].path.rsplit(".", 1)[0], value=value)


def _from_index(m: dict[str, Field], folder: Path) -> RequirementsSpec:
    index = _url(m["index"])
    if "pins" not in m:
        raise m["index"].error("a wheels index needs 'pins': the name==version file it holds")
    others = sorted(set(m) - {"index", "pins", "runtime_packages"})
    if others:
        raise m[others[0]].error("a wheels index from elsewhere ('index') is used as it is")
    files: dict[str, Path] = {}
    for key in ("pins", "runtime_packages"):
        if key in m:
            path = m[key].path_value(folder)
            if not path.is_file():
                raise m[key].error(f"file not found: {path}")
            files[key] = path
    for number, line in enumerate(files["pins"].read_text(encoding="utf-8").splitlines(), 1):
        pin = line.split("#", 1)[0].strip()
        if pin and not _PIN.match(pin):
            raise m["pins"].error(f"{files['pins']} line {number}: {line!r} is not name==version")
    return RequirementsSpec(
        index=index, pins=files["pins"], runtime_packages=files.get("runtime_packages")
    )


_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$")


def _repo_path(node: Field) -> Path:
    """A file's path inside a repository: relative, without '..'."""
    raw = node.string()
    path = Path(raw)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise node.error(f"{raw!r} is not a path inside the repository")
    return path


def _base(node: Field) -> BaseSpec:
    keys = (
        "bootstrap",
        "from",
        "suite",
        "mirror",
        "security_mirror",
        "variant",
        "components",
        "include",
        "packages",
        "refresh",
    )
    m = node.mapping(keys)
    refresh: Refresh = "weekly"
    if "refresh" in m:
        choice = m["refresh"].choice(REFRESH_CHOICES)
        refresh = next(r for r in REFRESH_CHOICES if r == choice)
    if ("bootstrap" in m) == ("from" in m):
        raise node.error("set exactly one of 'bootstrap: mmdebstrap' or 'from: <image ref>'")
    if "from" in m:
        for key in ("suite", "mirror", "security_mirror", "variant", "components", "include"):
            if key in m:
                raise m[key].error(f"{key!r} applies to 'bootstrap: mmdebstrap' only")
        return BaseSpec(
            kind="image",
            image=m["from"].string(),
            packages=m["packages"].strings() if "packages" in m else BaseSpec.include,
            refresh=refresh,
        )
    m["bootstrap"].choice(("mmdebstrap",))
    if "packages" in m:
        raise m["packages"].error("use 'include' with 'bootstrap: mmdebstrap'")
    defaults = BaseSpec(kind="mmdebstrap")
    return BaseSpec(
        kind="mmdebstrap",
        suite=m["suite"].name() if "suite" in m else defaults.suite,
        mirror=_url(m["mirror"]) if "mirror" in m else defaults.mirror,
        security_mirror=(
            m["security_mirror"].string(allow_empty=True) and _url(m["security_mirror"])
        )
        if "security_mirror" in m
        else defaults.security_mirror,
        variant=m["variant"].choice(("minbase", "essential", "apt", "required"))
        if "variant" in m
        else defaults.variant,
        components=m["components"].names() if "components" in m else defaults.components,
        include=m["include"].strings() if "include" in m else defaults.include,
        refresh=refresh,
    )


def _url(node: Field) -> str:
    value = node.string()
    if not value.startswith(("http://", "https://", "file://")):
        raise node.error(f"{value!r} is not an http(s):// or file:// URL")
    return value


_BY_DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def _requirements(node: Field, folder: Path) -> RequirementsSpec:
    m = node.mapping(
        (
            "scope",
            "build_packages",
            "pip_packages",
            "from",
            "index",
            "pins",
            "runtime_packages",
            "binary",
            "only_binary",
        )
    )
    if "index" in m:
        return _from_index(m, folder)
    for key in ("pins", "runtime_packages"):
        if key in m:
            raise m[key].error(f"'{key}' goes with 'index' (a published wheels index)")
    if "from" in m:
        image = m["from"].string()
        if not _BY_DIGEST.match(image):
            raise m["from"].error(
                f"{image!r} is not pinned by digest: give <registry>/requirements@sha256:<64 hex>"
            )
        others = sorted(set(m) - {"from"})
        if others:
            raise m[others[0]].error("a wheels image from elsewhere ('from') is used as it is")
        return RequirementsSpec(image=image)
    scope: WheelScope = "pipeline"
    if "scope" in m:
        scope = m["scope"].choice(("pipeline", "selected", "all"))  # type: ignore[assignment]
    binary = m["binary"].choice(("any", "none", "only-pinned")) if "binary" in m else "any"
    only_binary = m["only_binary"].strings() if "only_binary" in m else ()
    if binary == "only-pinned" and not only_binary:
        raise m["binary"].error("'only-pinned' needs 'only_binary': the names allowed as binaries")
    if only_binary and binary != "only-pinned":
        raise m["only_binary"].error("'only_binary' goes with 'binary: only-pinned'")
    return RequirementsSpec(
        scope=scope,
        build_packages=m["build_packages"].strings() if "build_packages" in m else (),
        pip_packages=m["pip_packages"].requirements() if "pip_packages" in m else (),
        binary=binary,
        only_binary=only_binary,
    )


IMAGE_KEYS = (
    "project",
    "source",
    "profiles",
    "pip_packages",
    "dist_packages",
    "extras",
    "uid",
    "gid",
    "plugin",
    "parent",
    "steps",
    "tags",
)


def _images(node: Field, folder: Path) -> dict[str, ImageSpec]:
    images: dict[str, ImageSpec] = {}
    for name, entry in node.entries():
        if name in RESERVED_NODES:
            raise entry.error(f"{name!r} is reserved for the {name} node; pick another name")
        _check_image_name(name, entry)
        m = entry.mapping(IMAGE_KEYS, required=("source",))
        plugin = m["plugin"].boolean() if "plugin" in m else False
        parent = m["parent"].name() if "parent" in m else ""
        if plugin and not parent:
            raise entry.error("a plugin image needs 'parent': the service image it extends")
        if parent and not plugin:
            raise m["parent"].error("'parent' is only for plugin images (set 'plugin: true')")
        images[name] = ImageSpec(
            name=name,
            project=m["project"].name() if "project" in m else name,
            source=_source(m["source"], folder),
            profiles=m["profiles"].names() if "profiles" in m else None,
            pip_packages=m["pip_packages"].requirements() if "pip_packages" in m else (),
            dist_packages=m["dist_packages"].strings() if "dist_packages" in m else (),
            extras=m["extras"].names() if "extras" in m else (),
            uid=m["uid"].integer(minimum=1, maximum=65533) if "uid" in m else None,
            gid=m["gid"].integer(minimum=1, maximum=65533) if "gid" in m else None,
            plugin=plugin,
            parent=parent,
            steps=_steps(m["steps"], folder) if "steps" in m else (),
            tags=m["tags"].strings() if "tags" in m else (),
        )
    if not images:
        raise node.error("declare at least one image")
    return images


def _source(node: Field, folder: Path) -> Source:
    m = node.mapping(("pypi", "git", "url", "local", "sha256", "ref"))
    kinds = [k for k in ("pypi", "git", "url", "local") if k in m]
    if len(kinds) != 1:
        raise node.error("set exactly one of 'pypi', 'git', 'url' or 'local'")
    kind = kinds[0]
    sha256 = ""
    if "sha256" in m:
        sha256 = m["sha256"].string().lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise m["sha256"].error("expected 64 hexadecimal digits")
        if kind in ("git", "local"):
            raise m["sha256"].error(f"'sha256' does not apply to a {kind} source")
    if "ref" in m and kind != "git":
        raise m["ref"].error("'ref' applies to git sources only")
    if kind == "pypi":
        spec = m["pypi"].string()
        name, sep, version = spec.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise m["pypi"].error(f"{spec!r} is not of the form 'name==version'")
        return Source(kind="pypi", name=name.strip(), version=version.strip(), sha256=sha256)
    if kind == "git":
        ref = m["ref"].string() if "ref" in m else "master"
        if ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
            raise m["ref"].error(f"{ref!r} is not a git ref (branch, tag or commit)")
        url = m["git"].string()
        if url.startswith("-"):
            raise m["git"].error(f"{url!r} is not a git URL")
        return Source(kind="git", url=url, ref=ref)
    if kind == "url":
        if not sha256:
            raise node.error("a url source needs 'sha256' so the download can be checked")
        return Source(kind="url", url=_url(m["url"]), sha256=sha256)
    local = m["local"].path_value(folder)
    if not local.exists():
        raise m["local"].error(f"path not found: {local}")
    if local.is_dir() and not any((local / f).is_file() for f in PROJECT_FILES):
        raise m["local"].error(
            f"{local} is not a Python project (no {', '.join(PROJECT_FILES)} at its root)"
        )
    if not local.is_dir() and not local.name.endswith((".tar.gz", ".tgz")):
        raise m["local"].error(f"{local} is neither a project folder nor an sdist (.tar.gz)")
    return Source(kind="local", path=local.resolve())


def _check_image_name(name: str, entry: Field) -> None:
    problem = component_problem(name)
    if problem:
        raise entry.error(problem)


def _steps(node: Field, folder: Path) -> tuple[ExtraStep, ...]:
    steps: list[ExtraStep] = []
    for item in node.items():
        m = item.mapping(("name", "run", "script"), required=("name",))
        if ("run" in m) == ("script" in m):
            raise item.error("set exactly one of 'run' (a command) or 'script' (a file)")
        script = None
        if "script" in m:
            script = m["script"].path_value(folder)
            if not script.is_file():
                raise m["script"].error(f"file not found: {script}")
            if not script.is_relative_to(folder.resolve()):
                raise m["script"].error(
                    f"{script} is outside the pipeline's folder {folder.resolve()}: "
                    "keep step scripts beside the pipeline"
                )
        steps.append(
            ExtraStep(
                name=m["name"].name(), run=m["run"].string() if "run" in m else "", script=script
            )
        )
    return tuple(steps)


def _children(node: Field, folder: Path) -> dict[str, ChildSpec]:
    children: dict[str, ChildSpec] = {}
    for name, entry in node.entries():
        if name in RESERVED_NODES:
            raise entry.error(f"{name!r} is reserved; pick another name")
        _check_image_name(name, entry)
        m = entry.mapping(
            ("from", "containerfile", "context", "build_args", "tags"),
            required=("from", "containerfile"),
        )
        containerfile = m["containerfile"].path_value(folder)
        if not containerfile.is_file():
            raise m["containerfile"].error(f"file not found: {containerfile}")
        context = m["context"].path_value(folder) if "context" in m else containerfile.parent
        if not context.is_dir():
            raise m["context"].error(f"folder not found: {context}")
        args: list[tuple[str, str]] = []
        if "build_args" in m:
            for key, value in m["build_args"].pairs():
                args.append((key, value.string(allow_empty=True)))
        children[name] = ChildSpec(
            name=name,
            parent=m["from"].name(),
            containerfile=containerfile,
            context=context,
            build_args=tuple(args),
            tags=m["tags"].strings() if "tags" in m else (),
        )
    return children
