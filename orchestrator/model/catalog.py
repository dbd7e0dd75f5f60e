"""The project catalog: PyPI name, packages, default profiles, user and smoke check per project.

Project defaults live here, in ``orchestrator/data/projects.yaml``, not scattered through code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.model.profiles import read_release_names
from orchestrator.model.yamlfile import Field, load_yaml

# A service user's home is /var/lib/<user>; this one's is the venv (/var/lib/openstack).
VENV_USER = "openstack"
CATALOG_PATH = Path(__file__).resolve().parents[1] / "data" / "projects.yaml"


@dataclass(frozen=True, kw_only=True)
class Project:
    """What one OpenStack project needs, whatever the pipeline."""

    name: str
    pypi: str
    user: str
    uid: int
    gid: int
    smoke: tuple[str, ...]
    dist_packages: tuple[str, ...] = ()
    build_packages: tuple[str, ...] = ()
    pip_packages: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    smoke_env: tuple[tuple[str, str], ...] = ()
    # A script of scripts/ run in the check container before the image is tagged.
    acceptance: str = ""
    # The folder of the project's source whose default configuration files (api-paste.ini,
    # rootwrap) the image carries in /etc/<project>.
    config: str = ""
    # The config folder is copied only when the source has it (a site project's default,
    # etc/<project>); a folder the catalog names must exist.
    config_optional: bool = False
    # The folder under /etc the project reads (freezer-api reads /etc/freezer); default: the
    # project's name.
    etc: str = ""
    # (command, why): commands its rootwrap filters or privsep code name that the image may
    # lack (hypervisor tools in an API image); any other absence fails the build.
    runtime_absent: tuple[tuple[str, str], ...] = ()
    # The file that declared it: the built-in catalog, a site's catalog file or a pipeline.
    origin: str = str(CATALOG_PATH)
    # Declared by no file: an image entry named it and the defaults were taken.
    implicit: bool = False

    @property
    def etc_dir(self) -> str:
        """Where the project's configuration lives in the image."""
        return f"/etc/{self.etc or self.name}"


@dataclass(frozen=True, kw_only=True)
class Catalog:
    """All known projects plus what every service image and the wheels image always get."""

    projects: dict[str, Project]
    common_dist_packages: tuple[str, ...]
    common_pip_packages: tuple[str, ...]
    common_build_packages: tuple[str, ...]
    # {suite: {bookworm's name: that release's, or None}} (see profiles.read_release_names)
    release_names: dict[str, dict[str, str | None]] = field(default_factory=dict)


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Load and validate the project catalog.

    Raises:
        ConfigError: on the first bad field.
    """
    top = load_yaml(path).mapping(("common", "projects", "release_names"), required=("projects",))
    common = (
        top["common"].mapping(("dist_packages", "pip_packages", "build_packages"))
        if ("common" in top)
        else {}
    )
    projects: dict[str, Project] = {}
    for name, entry in top["projects"].entries():
        projects[name] = _project(name, entry)
    return Catalog(
        projects=projects,
        common_dist_packages=_strings(common.get("dist_packages")),
        common_pip_packages=common["pip_packages"].requirements()
        if "pip_packages" in common
        else (),
        common_build_packages=_strings(common.get("build_packages")),
        release_names=read_release_names(top["release_names"]) if "release_names" in top else {},
    )


def _strings(node: Field | None) -> tuple[str, ...]:
    return node.strings() if node is not None else ()


PROJECT_KEYS = (
    "pypi",
    "user",
    "uid",
    "gid",
    "dist_packages",
    "build_packages",
    "pip_packages",
    "profiles",
    "steps",
    "smoke",
    "smoke_env",
    "acceptance",
    "config",
    "runtime_absent",
    "etc",
)


def _project(name: str, entry: Field) -> Project:
    fields = project_fields(entry, required=("pypi", "user", "uid", "smoke"))
    fields.setdefault("gid", fields["uid"])
    return Project(name=name, origin=entry.source, **fields)  # type: ignore[arg-type]


def project_fields(entry: Field, required: tuple[str, ...] = ()) -> dict[str, object]:
    """The fields ``entry`` sets, typed (a site's entry may set only some of them).

    Raises:
        ConfigError: on the first bad field, naming the file and the key path.
    """
    m = entry.mapping(PROJECT_KEYS, required=required)
    out: dict[str, object] = {}
    if "pypi" in m:
        out["pypi"] = m["pypi"].string()
    if "user" in m:
        out["user"] = m["user"].name()
        if out["user"] == VENV_USER:
            raise m["user"].error(
                f"{VENV_USER!r} cannot be a service user: its home, /var/lib/{VENV_USER}, "
                "is the venv every image installs into"
            )
    if "uid" in m:
        out["uid"] = m["uid"].integer(minimum=1, maximum=65533)
    if "gid" in m:
        out["gid"] = m["gid"].integer(minimum=1, maximum=65533)
    for key in ("dist_packages", "build_packages", "steps"):
        if key in m:
            out[key] = m[key].strings()
    if "pip_packages" in m:
        out["pip_packages"] = m["pip_packages"].requirements()
    if "profiles" in m:
        out["profiles"] = m["profiles"].names()
    if "smoke" in m:
        smoke = tuple(item.string() for item in m["smoke"].items())
        if not smoke:
            raise m["smoke"].error("must name a command")
        out["smoke"] = smoke
    if "smoke_env" in m:
        out["smoke_env"] = tuple((k, v.string()) for k, v in m["smoke_env"].pairs())
    if "acceptance" in m:
        out["acceptance"] = _script_name(m["acceptance"])
    if "runtime_absent" in m:
        absent = tuple((k, v.string()) for k, v in m["runtime_absent"].pairs())
        out["runtime_absent"] = absent
    if "etc" in m:
        out["etc"] = m["etc"].name()
    if "config" in m:
        out["config"] = _relative_path(m["config"])
        out["config_optional"] = False
    return out


_SOURCE_FOLDER = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")


def _relative_path(node: Field) -> str:
    value = node.string()
    if not _SOURCE_FOLDER.match(value):
        raise node.error(f"{value!r} must be a folder inside the source, e.g. etc/nova")
    return value


def _script_name(node: Field) -> str:
    value = node.string()
    if "/" in value or not value.endswith(".sh"):
        raise node.error(f"{value!r} is not the name of a script in scripts/ (e.g. check-x.sh)")
    return value
