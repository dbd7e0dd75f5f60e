"""Reading ``pipelines/*.yaml`` into a validated :class:`~orchestrator.model.pipeline.Pipeline`.

Every key is checked as it is read, and the files a pipeline names (constraints, bindep files,
a wheels index's pins, local sources, step scripts, Containerfiles) must exist; an error names
the file and key path. The ``settings:``/``network:`` keys are checked against the option table
and kept raw, for :func:`orchestrator.model.settings.resolve_settings`. The ``images:`` and
``children:`` entries are read by :mod:`orchestrator.model.image_entries`.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.model.gate_entries import load_gate
from orchestrator.model.image_entries import (
    check_image_name,
    load_children,
    load_images,
    load_source,
    url_value,
)
from orchestrator.model.options import OPTION_BY_NAME, OPTIONS
from orchestrator.model.pipeline import (
    BASE_NODE,
    BUILDER_NODE,
    REFRESH_CHOICES,
    REQUIREMENTS_NODE,
    RESERVED_NODES,
    SHARED_NODE,
    AllowedDowngrades,
    BaseSpec,
    BindepSpec,
    ChildSpec,
    Constraints,
    ImageSpec,
    Pipeline,
    Refresh,
    RequirementsSpec,
    Toolchain,
    WheelScope,
)
from orchestrator.model.platforms import platform_problem
from orchestrator.model.references import tag_template_problem
from orchestrator.model.settings import field_value
from orchestrator.model.site_projects import PROJECT_NAME
from orchestrator.model.yamlfile import Field, load_yaml

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
    "catalog",
    "projects",
    "gate",
    "retention",
    "allow_downgrades",
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
    images = load_images(top["images"], folder)
    children = load_children(top["children"], folder) if "children" in top else {}
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
    base = _base(top["base"]) if "base" in top else BaseSpec(kind="mmdebstrap")
    requirements = (
        _requirements(top["requirements"], folder) if "requirements" in top else RequirementsSpec()
    )
    if base.refresh == "updates" and requirements.image:
        raise top["requirements"].error(
            "'from' with base.refresh: updates: the distro packages its compiled wheels need "
            "at run time are listed inside that image, unknown before it is pulled; set "
            "base.refresh to a period (daily, weekly, monthly) or never"
        )
    return Pipeline(
        path=path,
        name=top["name"].name() if "name" in top else path.stem,
        release=release,
        toolchain=_toolchain(top.get("toolchain"), root),
        constraints=_constraints(top.get("constraints"), root, folder),
        tags=top["tags"].strings() if "tags" in top else (),
        base=base,
        requirements=requirements,
        images=images,
        children=children,
        settings=settings,
        bindep=_bindep(top["bindep"], folder) if "bindep" in top else BindepSpec(),
        layering=layering,  # type: ignore[arg-type]
        shared_nodes=shared_nodes,
        platforms=_platforms(top["platforms"]) if "platforms" in top else (),
        site_projects=_site_projects(top, folder),
        gate=load_gate(top["gate"]) if "gate" in top else (),
        retention=_retention(top["retention"], top, images) if "retention" in top else None,
        allow_downgrades=(
            _allow_downgrades(top["allow_downgrades"])
            if "allow_downgrades" in top
            else AllowedDowngrades()
        ),
    )


def _allow_downgrades(node: Field) -> AllowedDowngrades:
    """``allow_downgrades: true`` (any package or distribution), ``false`` (none, the default)
    or a list of the names promotion may downgrade."""
    if isinstance(node.value, bool):
        return AllowedDowngrades(every=node.value)
    if not isinstance(node.value, list):
        raise node.error(
            f"expected true, false or a list of package and distribution names, got {node.value!r}"
        )
    return AllowedDowngrades(names=node.strings())


def _retention(node: Field, top: dict[str, Field], images: dict[str, ImageSpec]) -> int:
    """``retention: {keep: N}``: the dated tags kept per image in the registry."""
    keep = node.mapping(("keep",), required=("keep",))["keep"].integer(minimum=1)
    templates = [
        *(top["tags"].strings() if "tags" in top else ()),
        *(tag for image in images.values() for tag in image.tags),
    ]
    if not any("{date}" in template for template in templates):
        raise node.error(
            "nothing to keep: no tag template of the pipeline or its images has {date}"
        )
    return keep


def _site_projects(top: dict[str, Field], folder: Path) -> dict[str, tuple[Field, ...]]:
    """The projects the pipeline declares (:mod:`orchestrator.model.site_projects`): those
    of the ``catalog:`` files in order, then the inline ``projects:``; a field set twice
    takes the later value."""
    sections: list[Field] = []
    if "catalog" in top:
        node = top["catalog"]
        items = node.items() if isinstance(node.value, list) else [node]
        for item in items:
            path = item.path_value(folder)
            if not path.is_file():
                raise item.error(f"file not found: {path}")
            catalog = load_yaml(path).mapping(("projects",), required=("projects",))
            sections.append(catalog["projects"])
    if "projects" in top:
        sections.append(top["projects"])
    out: dict[str, tuple[Field, ...]] = {}
    for section in sections:
        for name, entry in section.entries():
            if not PROJECT_NAME.match(name):
                raise entry.error(
                    f"{name!r} is not a project name (lower-case letters, digits and '-', "
                    "starting with a letter, at most 31 characters)"
                )
            out[name] = (*out.get(name, ()), entry)
    return out


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
        check_image_name(name, entry)
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
        git = load_source(_git_only(m), folder)
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
    index = url_value(m["index"])
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
        "sources",
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
        only_bootstrap = ("suite", "mirror", "security_mirror", "variant", "components")
        for key in (*only_bootstrap, "include", "sources"):
            if key in m:
                raise m[key].error(f"{key!r} applies to 'bootstrap: mmdebstrap' only")
        if refresh == "updates":
            raise m["refresh"].error(
                "'updates' needs 'bootstrap: mmdebstrap' (what a pulled base holds is not "
                "known before it is pulled): use a period (daily, weekly, monthly) or never"
            )
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
        mirror=url_value(m["mirror"]) if "mirror" in m else defaults.mirror,
        security_mirror=(
            m["security_mirror"].string(allow_empty=True) and url_value(m["security_mirror"])
        )
        if "security_mirror" in m
        else defaults.security_mirror,
        variant=m["variant"].choice(("minbase", "essential", "apt", "required"))
        if "variant" in m
        else defaults.variant,
        components=m["components"].names() if "components" in m else defaults.components,
        include=m["include"].strings() if "include" in m else defaults.include,
        sources=_apt_source_lines(m["sources"]) if "sources" in m else (),
        refresh=refresh,
    )


# ``deb [options] URI SUITE COMPONENT...``, or ``deb [options] URI DIR/`` (a flat repository).
_DEB_LINE = re.compile(r"^deb(\s+\[[^\]]*\])?\s+[a-z][a-z0-9+.-]*://\S+\s+(\S+/|\S+(\s+\S+)+)$")


def _apt_source_lines(node: Field) -> tuple[str, ...]:
    """``base.sources``: one-line sources.list entries, each naming its suite's components."""
    lines = []
    for item in node.items():
        line = " ".join(item.string().split())
        if not _DEB_LINE.match(line):
            raise item.error(
                f"{line!r} is not a sources.list line ('deb [options] URI SUITE COMPONENT...')"
            )
        lines.append(line)
    node.strings()  # no duplicates
    return tuple(lines)


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
