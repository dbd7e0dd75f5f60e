"""Combine a pipeline with the project catalog and the profiles into resolved image specs.

This is where "unknown project", "unknown profile" and "profile does not apply" are caught,
each naming the pipeline file and key path. Package lists are merged in a stable order
(catalog, then profiles in the order given, then the pipeline's own) without duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.errors import ConfigError
from orchestrator.model.bindep import LoadedBindep
from orchestrator.model.catalog import Catalog, Project
from orchestrator.model.pipeline import ChildSpec, ExtraStep, ImageSpec, Pipeline, Source
from orchestrator.model.platforms import SUPPORTED, Platform, parse
from orchestrator.model.profiles import Profile


@dataclass(frozen=True, kw_only=True)
class ServiceImage:
    """A service (or plugin) image with every package list and setting resolved."""

    name: str
    project: Project
    source: Source
    profiles: tuple[str, ...]
    dist_packages: tuple[str, ...]
    pip_packages: tuple[str, ...]
    build_packages: tuple[str, ...]
    extras: tuple[str, ...]
    user: str
    uid: int
    gid: int
    plugin: bool
    parent: str
    project_steps: tuple[str, ...]
    extra_steps: tuple[ExtraStep, ...]
    tags: tuple[str, ...]
    # (package, why): distro and pip packages bindep files brought in.
    bindep_origins: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class ResolvedPipeline:
    """A pipeline whose images are resolved against the catalog and profiles."""

    pipeline: Pipeline
    catalog: Catalog
    profiles: dict[str, Profile]
    services: dict[str, ServiceImage]
    children: dict[str, ChildSpec]
    # The pipeline's bindep files (None without a ``bindep:`` section).
    bindep: LoadedBindep | None = None
    # Package names of the base's release where they differ from bookworm's (None: absent).
    release_names: dict[str, str | None] = field(default_factory=dict)
    # The platform of the host that plans (the loader asks ``uname -m``): the default target,
    # and the one that runs without emulation.
    native: Platform = SUPPORTED["linux/amd64"]

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The platforms built: the pipeline's ``platforms``, else the host's."""
        named = self.pipeline.platforms
        return tuple(parse(name) for name in named) if named else (self.native,)

    @property
    def multi_platform(self) -> bool:
        """Several platforms: nodes named ``<node>@<arch>``, a manifest list per image."""
        return len(self.platforms) > 1

    def emulated(self, platform: Platform) -> bool:
        return platform != self.native

    def for_release(self, packages: Iterable[str]) -> tuple[str, ...]:
        """``packages`` (bookworm's names) as the base's release spells them."""
        return for_release(packages, self.release_names)


def unique(*groups: Iterable[str]) -> tuple[str, ...]:
    """Concatenate ``groups`` keeping the first occurrence of each item."""
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


def resolve(
    pipeline: Pipeline,
    catalog: Catalog,
    profiles: dict[str, Profile],
    bindep: LoadedBindep | None = None,
    native: Platform = SUPPORTED["linux/amd64"],
) -> ResolvedPipeline:
    """Resolve every image of ``pipeline`` (with the packages its bindep files select).

    Raises:
        ConfigError: an image names an unknown project or profile, or a profile that does not
            apply to its project.
    """
    names = release_names(catalog, profiles, pipeline.base.suite)
    services = {
        name: _service(pipeline, catalog, profiles, spec, bindep, names)
        for name, spec in pipeline.images.items()
    }
    return ResolvedPipeline(
        pipeline=pipeline,
        catalog=catalog,
        profiles=profiles,
        services=services,
        children=dict(pipeline.children),
        bindep=bindep,
        release_names=names,
        native=native,
    )


def release_names(
    catalog: Catalog, profiles: dict[str, Profile], suite: str
) -> dict[str, str | None]:
    """The names ``suite`` spells differently: the catalog's, then every profile's."""
    names = dict(catalog.release_names.get(suite, {}))
    for profile in profiles.values():
        names.update(profile.release_names.get(suite, {}))
    return names


def for_release(packages: Iterable[str], names: dict[str, str | None]) -> tuple[str, ...]:
    """``packages`` renamed for a release; one it lacks (renamed to None) is left out."""
    out = []
    for package in packages:
        new = names.get(package, package)
        if new is not None:
            out.append(new)
    return unique(out)


def _service(
    pipeline: Pipeline,
    catalog: Catalog,
    profiles: dict[str, Profile],
    spec: ImageSpec,
    bindep: LoadedBindep | None,
    names: dict[str, str | None],
) -> ServiceImage:
    source = str(pipeline.path)
    where = f"images.{spec.name}"
    project = catalog.projects.get(spec.project)
    if project is None:
        raise ConfigError(
            source,
            f"{where}.project",
            f"unknown project {spec.project!r} (known: {', '.join(sorted(catalog.projects))})",
        )
    chosen = project.profiles if spec.profiles is None else spec.profiles
    dist: list[str] = [] if spec.plugin else [*catalog.common_dist_packages, *project.dist_packages]
    pip: list[str] = [] if spec.plugin else [*catalog.common_pip_packages, *project.pip_packages]
    build: list[str] = [*project.build_packages]
    for index, name in enumerate(chosen):
        path = f"{where}.profiles[{index}]" if spec.profiles is not None else f"{where}.project"
        profile = profiles.get(name)
        if profile is None:
            raise ConfigError(
                source, path, f"unknown profile {name!r} (known: {', '.join(sorted(profiles))})"
            )
        packages = profile.for_project(spec.project)
        if packages is None:
            raise ConfigError(
                source,
                path,
                f"profile {name!r} does not apply to project {spec.project!r} "
                f"(it applies to: {profile.applies_to()})",
            )
        dist += packages.dist_packages
        pip += packages.pip_packages
        build += profile.build_packages
    origins: list[tuple[str, str]] = []
    if bindep is not None and not spec.plugin:
        # LOCI's user profiles: the project's name and the image's profiles.
        user_profiles = (spec.project, *chosen)
        for item in bindep.packages(user_profiles):
            dist.append(item.package)
            origins.append((item.package, item.origin))
        for item in bindep.pip_packages(user_profiles):
            pip.append(item.package)
            origins.append((item.package, item.origin))
    return ServiceImage(
        name=spec.name,
        project=project,
        source=spec.source,
        profiles=tuple(chosen),
        dist_packages=for_release(unique(dist, spec.dist_packages), names),
        pip_packages=unique(pip, spec.pip_packages),
        build_packages=for_release(unique(build), names),
        extras=spec.extras,
        user=project.user,
        uid=spec.uid if spec.uid is not None else project.uid,
        gid=spec.gid if spec.gid is not None else (spec.uid or project.gid),
        plugin=spec.plugin,
        parent=spec.parent,
        project_steps=() if spec.plugin else project.steps,
        extra_steps=spec.steps,
        tags=spec.tags,
        bindep_origins=tuple(origins),
    )
