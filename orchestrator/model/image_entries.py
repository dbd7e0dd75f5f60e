"""The ``images:`` and ``children:`` entries of a pipeline file, with their sources and steps.

Part of reading a pipeline (:mod:`orchestrator.model.pipeline_file`): each entry is checked
field by field, and the files it names (local sources, step scripts, Containerfiles) must
exist; errors name the file and key path.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.model.pipeline import (
    RESERVED_NODES,
    ChildSpec,
    ExtraStep,
    ImageSpec,
    Source,
)
from orchestrator.model.references import component_problem
from orchestrator.model.yamlfile import Field

# What makes a folder a Python project a local source may point at.
PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")

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


def load_images(node: Field, folder: Path) -> dict[str, ImageSpec]:
    """``images: {name: {...}}``: at least one service image, none with a reserved name."""
    images: dict[str, ImageSpec] = {}
    for name, entry in node.entries():
        if name in RESERVED_NODES:
            raise entry.error(f"{name!r} is reserved for the {name} node; pick another name")
        check_image_name(name, entry)
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
            source=load_source(m["source"], folder),
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


def load_source(node: Field, folder: Path) -> Source:
    """A source mapping: exactly one of ``pypi``, ``git``, ``url`` or ``local``."""
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
        return Source(kind="url", url=url_value(m["url"]), sha256=sha256)
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


def check_image_name(name: str, entry: Field) -> None:
    """``name`` may be a component of an image name."""
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


def load_children(node: Field, folder: Path) -> dict[str, ChildSpec]:
    """``children: {name: {from, containerfile, ...}}``: Containerfile builds FROM a node."""
    children: dict[str, ChildSpec] = {}
    for name, entry in node.entries():
        if name in RESERVED_NODES:
            raise entry.error(f"{name!r} is reserved; pick another name")
        check_image_name(name, entry)
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


def url_value(node: Field) -> str:
    """An http(s):// or file:// URL."""
    value = node.string()
    if not value.startswith(("http://", "https://", "file://")):
        raise node.error(f"{value!r} is not an http(s):// or file:// URL")
    return value
