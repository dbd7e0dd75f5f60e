"""Profiles: named features (ldap, apache, ceph, ...) loaded from ``profiles/*.yaml``.

A profile adds distro and pip packages to the service images of the projects it applies to,
and build packages to the requirements (wheels) image. ``default`` applies to every project;
``projects.<name>`` to one. A profile with neither for a project does not apply to it, and
asking for it there is an error rather than a silent no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.errors import ConfigError
from orchestrator.model.yamlfile import Field, load_yaml, parse_yaml


@dataclass(frozen=True, kw_only=True)
class Packages:
    """The packages a profile adds to one project's image."""

    dist_packages: tuple[str, ...] = ()
    pip_packages: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One validated profile file."""

    name: str
    path: Path
    description: str
    build_packages: tuple[str, ...]
    default: Packages | None
    projects: dict[str, Packages]
    # {suite: {bookworm's name: this release's name, or None where it has none}}
    release_names: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def for_project(self, project: str) -> Packages | None:
        """What this profile adds to ``project``, or ``None`` if it does not apply to it."""
        return self.projects.get(project, self.default)

    def applies_to(self) -> str:
        """A human-readable list of the projects this profile applies to."""
        if self.default is not None:
            return "every project"
        return ", ".join(sorted(self.projects))


def _packages(node: Field) -> Packages:
    m = node.mapping(("dist_packages", "pip_packages"))
    return Packages(
        dist_packages=m["dist_packages"].strings() if "dist_packages" in m else (),
        pip_packages=m["pip_packages"].requirements() if "pip_packages" in m else (),
    )


def load_profile(path: Path, known_projects: frozenset[str]) -> Profile:
    """Load one profile file; its name is the file name without ``.yaml``.

    Raises:
        ConfigError: on a bad field or a project that is not in the catalog.
    """
    root = load_yaml(path)
    m = root.mapping(("description", "build_packages", "default", "projects", "release_names"))
    if "default" not in m and "projects" not in m:
        raise root.error("a profile needs 'default' (every project) or 'projects' (some)")
    projects: dict[str, Packages] = {}
    if "projects" in m:
        for project, entry in m["projects"].entries():
            if project not in known_projects:
                raise entry.error(
                    f"unknown project {project!r} (known: {', '.join(sorted(known_projects))})"
                )
            projects[project] = _packages(entry)
    return Profile(
        name=path.stem,
        path=path,
        description=m["description"].string() if "description" in m else "",
        build_packages=m["build_packages"].strings() if "build_packages" in m else (),
        default=_packages(m["default"]) if "default" in m else None,
        projects=projects,
        release_names=read_release_names(m["release_names"]) if "release_names" in m else {},
    )


def read_release_names(node: Field) -> dict[str, dict[str, str | None]]:
    """``{suite: {name: name in that release, or null}}``: package names are bookworm's,
    and a release that spells one differently (or lacks it) says so here."""
    out: dict[str, dict[str, str | None]] = {}
    for suite, names in node.entries():
        out[suite] = {
            name: None if new.value is None else new.string() for name, new in names.pairs()
        }
    return out


def load_profiles(folder: Path, known_projects: frozenset[str]) -> dict[str, Profile]:
    """Load every ``*.yaml`` profile in ``folder``.

    Raises:
        ConfigError: the folder is missing or a profile is invalid.
    """
    if not folder.is_dir():
        raise ConfigError(str(folder), "", "profiles folder not found")
    profiles: dict[str, Profile] = {}
    for path in sorted(folder.glob("*.yaml")):
        profile = load_profile(path, known_projects)
        profiles[profile.name] = profile
    return profiles


def looks_like_profile(path: Path) -> bool:
    """Profiles live in a profiles/ folder, or are mappings without pipeline keys."""
    if path.parent.name == "profiles":
        return True
    try:
        data = parse_yaml(path)
    except ConfigError:
        return False  # the pipeline loader reports it, with the file and line
    return (
        isinstance(data, dict)
        and "images" not in data
        and ("projects" in data or "default" in data)
    )
