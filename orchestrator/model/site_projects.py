"""Projects a site declares: the built-in catalog extended or overridden by a pipeline.

LOCI builds any OpenStack project by naming it (``PROJECT``). Here a pipeline may declare
projects in the catalog's schema, inline (``projects:``) or in a catalog file it names
(``catalog:``); and an image entry naming a project nobody declared builds with the
defaults below, taken where the entry is silent:

- ``pypi``: the image's PyPI source name (else the project's name);
- ``user``: the project's name; ``uid``/``gid``: from :data:`SITE_UIDS`, a range the
  built-in catalog (kolla's fixed ids, 424xx) never uses, chosen from a hash of the name
  so it stays the same from one run to the next, moved on past any id already taken;
- ``profiles``: none; ``config``: ``etc/<project>`` when the source has it;
- ``smoke``: every console script the distribution declares is loaded (its module
  imported and its entry point resolved) as the service user.

A site entry for a built-in project overrides the fields it sets and keeps the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Mapping

from orchestrator.errors import ConfigError
from orchestrator.model.catalog import VENV_USER, Catalog, Project, project_fields
from orchestrator.model.pipeline import ImageSpec, Pipeline
from orchestrator.model.yamlfile import Field

# A project's name: its service user, /etc/<project> and the image's default name.
PROJECT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

# Site projects' default ids: kolla's fixed assignments, which the catalog follows, stop
# below 42600; 43000-43999 is left to sites.
SITE_UIDS = range(43000, 44000)

# The default smoke check: load every console script of the distribution (argv[1]).
ENTRY_POINTS_CHECK = """\
import sys
from importlib.metadata import PackageNotFoundError, distribution
try:
    dist = distribution(sys.argv[1])
except PackageNotFoundError:
    sys.exit(f"{sys.argv[1]} is not installed in this environment")
scripts = sorted(
    (e for e in dist.entry_points if e.group == "console_scripts"), key=lambda e: e.name
)
if not scripts:
    sys.exit(f"{sys.argv[1]} declares no console scripts: set the project's smoke command")
for script in scripts:
    script.load()
    print(f"{script.name}: {script.value}")
"""


def entry_points_smoke(pypi: str) -> tuple[str, ...]:
    """The smoke command that loads every console script of ``pypi``."""
    return ("python", "-c", ENTRY_POINTS_CHECK, pypi)


def site_uid(name: str, taken: Iterable[int]) -> int:
    """``name``'s default id in :data:`SITE_UIDS`: from its hash, past the ids taken.

    Raises:
        ValueError: every id of the range is taken.
    """
    used = set(taken)
    span = len(SITE_UIDS)
    start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % span
    for step in range(span):
        uid = SITE_UIDS[(start + step) % span]
        if uid not in used:
            return uid
    raise ValueError(f"no free id left in {SITE_UIDS.start}-{SITE_UIDS.stop - 1}")


def with_site_projects(catalog: Catalog, pipeline: Pipeline) -> Catalog:
    """``catalog`` with the projects ``pipeline`` declares (from its catalog files, then
    inline) and those its images name that nobody declared.

    Raises:
        ConfigError: a bad field, naming its file and key path, or a uid another project
            already has.
    """
    declared, images = pipeline.site_projects, pipeline.images
    projects = dict(catalog.projects)
    owners = {p.uid: p.name for p in catalog.projects.values()}
    pypi_of = _pypi_names(images)
    pending: list[tuple[str, dict[str, object], Field | None]] = []
    for name, entries in declared.items():
        fields: dict[str, object] = {}
        uid_entry = entry = entries[-1]
        for each in entries:
            more = project_fields(each)
            if "uid" in more:
                uid_entry = each
            fields.update(more)
        base = projects.get(name)
        if "uid" in fields:
            uid = int(fields["uid"])  # type: ignore[call-overload]
            owner = owners.get(uid)
            if owner is not None and owner != name:
                raise ConfigError(
                    uid_entry.source,
                    f"{uid_entry.path}.uid",
                    f"{uid} is the uid of project {owner!r}; pick another (sites' range: "
                    f"{SITE_UIDS.start}-{SITE_UIDS.stop - 1})",
                )
            owners[uid] = name
        if base is not None:
            projects[name] = _override(base, fields, entry.source)
        else:
            pending.append((name, fields, entry))
    known = set(projects) | {n for n, _, _ in pending}
    for spec in images.values():
        if spec.project in known:
            continue
        if not PROJECT_NAME.match(spec.project) or spec.project == VENV_USER:
            raise ConfigError(
                str(pipeline.path),
                f"images.{spec.name}.project",
                f"{spec.project!r} is not in the catalog and cannot name a service user: "
                "declare it under 'projects:' or name the image after the project",
            )
        known.add(spec.project)
        pending.append((spec.project, {}, None))
    for name, fields, origin in sorted(pending, key=lambda item: item[0]):
        uid = fields.get("uid")
        if uid is None:
            uid = site_uid(name, owners)
            owners[uid] = name
        pypi = str(fields.get("pypi") or pypi_of.get(name) or name)
        defaults: dict[str, object] = {
            "pypi": pypi,
            "user": name,
            "uid": uid,
            "gid": fields.get("gid", uid),
            "smoke": entry_points_smoke(pypi),
            "config": f"etc/{name}",
            "config_optional": True,
        }
        defaults.update(fields)
        projects[name] = Project(
            name=name,
            origin=origin.source if origin is not None else str(pipeline.path),
            implicit=origin is None,
            **defaults,  # type: ignore[arg-type]
        )
    return dataclasses.replace(catalog, projects=projects)


def _override(base: Project, fields: dict[str, object], origin: str) -> Project:
    """``base`` with the fields a site's entry sets."""
    changes = dict(fields)
    if "uid" in changes and "gid" not in changes and base.gid == base.uid:
        changes["gid"] = changes["uid"]
    return dataclasses.replace(base, origin=origin, **changes)  # type: ignore[arg-type]


def _pypi_names(images: Mapping[str, ImageSpec]) -> dict[str, str]:
    """{project: the PyPI name of the first image building it from PyPI}."""
    out: dict[str, str] = {}
    for spec in images.values():
        if spec.source.kind == "pypi" and not spec.plugin:
            out.setdefault(spec.project, spec.source.name)
    return out
