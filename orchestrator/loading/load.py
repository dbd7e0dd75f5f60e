"""The loading step: every file, variable and source a run depends on, read once.

It finds and validates the pipeline with the catalog and profiles, fetches the selected
services' sources, and reads what planning needs from disk (digests of the scripts and of
every file the pipeline names, folder hashes, upper-constraints) into
:class:`~orchestrator.model.inputs.PlanInputs`. After it, planning runs without I/O.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import structlog
from packaging.requirements import InvalidRequirement, Requirement

from orchestrator.engine.emulation import host_platform
from orchestrator.errors import ConfigError, FetchError, SourceError
from orchestrator.files import file_digest
from orchestrator.loading.sources import DEFAULT_INDEX, Network, fetch, tree_hash
from orchestrator.model import bindep
from orchestrator.model.bindep import BindepFile, LoadedBindep
from orchestrator.model.catalog import CATALOG_PATH, load_catalog
from orchestrator.model.inputs import FetchedSource, PlanInputs
from orchestrator.model.pipeline import Pipeline
from orchestrator.model.pipeline_file import load_pipeline
from orchestrator.model.profiles import load_profiles
from orchestrator.model.references import name_problem
from orchestrator.model.resolve import ResolvedPipeline, resolve
from orchestrator.model.settings import Settings
from orchestrator.model.site_projects import with_site_projects
from orchestrator.model.validators import invalid
from orchestrator.model.yamlfile import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PIPELINE = Path("pipelines/full-stack.yaml")
SCRIPTS_DIR = PROJECT_ROOT / "scripts"
PROFILES_DIR = PROJECT_ROOT / "profiles"


def find_pipeline(path: Path | None) -> Path:
    """The pipeline to use: ``path``, else ``pipelines/full-stack.yaml`` here or in the
    project's own checkout."""
    if path is not None:
        return path
    if DEFAULT_PIPELINE.is_file():
        return DEFAULT_PIPELINE
    return PROJECT_ROOT / DEFAULT_PIPELINE


def load(path: Path, profiles_dir: Path | None = None) -> ResolvedPipeline:
    """Load, validate and resolve a pipeline with the catalog and profiles."""
    pipeline = load_pipeline(path)
    catalog = with_site_projects(load_catalog(), pipeline)
    profiles = load_profiles(profiles_dir or PROFILES_DIR, frozenset(catalog.projects))
    bindep = load_bindep(pipeline) if pipeline.bindep.files or pipeline.bindep.pydep else None
    return resolve(pipeline, catalog, profiles, bindep, native=host_platform())


def load_bindep(pipeline: Pipeline) -> LoadedBindep:
    """Parse the pipeline's bindep and pydep files and read its renames for the base's
    release.

    Raises:
        ConfigError: a file that is not valid bindep or the rename file is malformed.
    """
    spec = pipeline.bindep
    suite = pipeline.base.suite

    def parsed(paths: Iterable[Path], key: str) -> tuple[BindepFile, ...]:
        out = []
        for index, path in enumerate(paths):
            try:
                text = path.read_text(encoding="utf-8")
                out.append(bindep.parse(text, path.name))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(str(path), "", f"cannot read it: {exc}") from None
            except bindep.BindepError as exc:
                raise ConfigError(
                    str(pipeline.path), f"bindep.{key}[{index}]", f"{path}: {exc}"
                ) from None
        return tuple(out)

    renames: dict[str, str | None] = {}
    if spec.rename is not None:
        root = load_yaml(spec.rename)
        for release, names in root.pairs():
            if release != suite:
                continue
            for name, new in names.pairs():
                renames[name] = None if new.value is None else new.string()
    return LoadedBindep(
        suite=suite,
        files=parsed(spec.files, "files"),
        pydep=parsed(spec.pydep, "pydep"),
        renames=renames,
    )


def check_settings(settings: Settings, nodes: Iterable[str], *, writes: bool) -> None:
    """Refuse, before anything runs, settings that would fail mid-build: a namespace or
    registry that is no image name prefix and a CA bundle that is not a file (their
    validators), image names too long, pins missing for a node, a state directory that
    cannot be written (when the run ``writes``).

    Raises:
        ConfigError: naming the setting and where its value came from.
    """
    for name, value in (("namespace", settings.namespace), ("registry", settings.registry)):
        settings.check(name)
        for node in nodes if value else ():
            problem = name_problem(value, node)
            if problem:
                raise invalid(settings, name, problem)
    settings.check("ca_bundle")
    pins = settings.apt_pins
    if pins:
        lacking = [node for node in nodes if not (Path(pins) / f"{node}.txt").is_file()]
        if lacking:
            raise invalid(
                settings, "apt_pins", f"{pins} has no {lacking[0]}.txt (package=version lines)"
            )
    state = settings.state_dir
    if state.exists() and not state.is_dir():
        raise invalid(settings, "state_dir", f"{state} is not a folder")
    if writes:
        try:
            state.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=state):
                pass
        except OSError as exc:
            raise invalid(
                settings, "state_dir", f"{state} is not a writable folder ({exc.strerror})"
            ) from None


def check_output(option: str, path: Path | None) -> None:
    """A file the user asked for goes into a folder that exists (none is created).

    Raises:
        ConfigError: naming the option.
    """
    if path is not None and not path.parent.is_dir():
        raise ConfigError(option, "", f"folder {path.parent} does not exist (for {path})")
    if path is not None and path.is_dir():
        raise ConfigError(option, "", f"{path} is a folder, not a file")


def constraint_lines(text: str, source: str) -> Iterator[tuple[int, str, Requirement]]:
    """Each requirement of a constraints text: (line number, the line, its parse).

    Raises:
        ConfigError: a line that is not a requirement, naming ``source`` and the line.
    """
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise ConfigError(source, f"line {number}", f"{line!r}: {reason}") from None
        yield number, line, requirement


def _check_constraints(path: Path, text: str) -> None:
    """Every line of upper-constraints pins one requirement (``name===version[; marker]``):
    a garbage line is refused here, naming it, instead of failing pip in the wheels build."""
    for number, line, requirement in constraint_lines(text, str(path)):
        pins = [s for s in requirement.specifier if s.operator in ("===", "==")]
        if len(pins) != 1 or len(requirement.specifier) != 1:
            raise ConfigError(
                str(path), f"line {number}", f"{line!r} does not pin one version (name===1.2)"
            )


def network_of(settings: Settings) -> Network:
    """Host-side network settings for fetching sources."""
    return Network(
        index_url=settings.pip_index_url or DEFAULT_INDEX,
        http_proxy=settings.http_proxy,
        https_proxy=settings.https_proxy,
        ca_bundle=settings.ca_bundle,
    )


def fetch_constraints(resolved: ResolvedPipeline, settings: Settings) -> ResolvedPipeline:
    """Constraints taken from git: fetch the repository at its ref, point the pipeline at the
    exported files and record the commit (which enters every key through the wheels image).

    Raises:
        SourceError: the repository, ref or file is not there.
        FetchError: the repository could not be reached.
    """
    constraints = resolved.pipeline.constraints
    if constraints.git is None:
        return resolved
    fetched = fetch(constraints.git, settings.state_dir / "sources", network_of(settings))
    tree = fetched.path

    def in_tree(path: Path | None, key: str) -> Path | None:
        if path is None:
            return None
        found = tree / path
        if not found.is_file() or found.is_symlink():
            raise SourceError(
                f"{constraints.git.describe() if constraints.git else ''}: no file {path} at "
                f"{fetched.identity} (constraints.{key})"
            )
        return found

    upper = in_tree(constraints.upper, "upper")
    assert upper is not None
    resolved_constraints = dataclasses.replace(
        constraints,
        upper=upper,
        global_requirements=in_tree(constraints.global_requirements, "global"),
        revision=fetched.identity,
    )
    pipeline = dataclasses.replace(resolved.pipeline, constraints=resolved_constraints)
    return dataclasses.replace(resolved, pipeline=pipeline)


def fetch_sources(
    resolved: ResolvedPipeline, nodes: Iterable[str], settings: Settings
) -> dict[str, FetchedSource]:
    """Fetch the sources of the selected service nodes into the state directory's cache."""
    cache = settings.state_dir / "sources"
    network = network_of(settings)
    fetched: dict[str, FetchedSource] = {}
    log = structlog.get_logger()
    for name in nodes:
        service = resolved.services.get(name)
        if service is None:
            continue
        try:
            fetched[name] = fetch(service.source, cache, network)
        except OSError as exc:  # the cache, not the network (those are FetchErrors)
            raise FetchError(
                f"{service.source.describe()}: cannot use the source cache {cache}: "
                f"{exc.strerror or exc}"
            ) from None
        log.debug("source ready", node=name, identity=fetched[name].identity)
    return fetched


def plan_inputs(
    resolved: ResolvedPipeline,
    sources: dict[str, FetchedSource],
    scripts_dir: Path = SCRIPTS_DIR,
) -> PlanInputs:
    """Read what planning needs from disk: digests of the scripts and of every file the
    pipeline names, hashes of child build contexts, the upper-constraints text."""
    pipeline = resolved.pipeline
    named = [pipeline.constraints.upper]
    if pipeline.constraints.global_requirements is not None:
        named.append(pipeline.constraints.global_requirements)
    for service in resolved.services.values():
        named += [step.script for step in service.extra_steps if step.script is not None]
    named += [child.containerfile for child in resolved.children.values()]
    spec = pipeline.requirements
    named += [path for path in (spec.pins, spec.runtime_packages) if path is not None]
    try:
        scripts = {p.name: file_digest(p) for p in sorted(scripts_dir.iterdir()) if p.is_file()}
        files = {path: file_digest(path) for path in named}
        upper = pipeline.constraints.upper.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(exc.filename or pipeline.path), "", f"cannot read: {exc.strerror}"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(pipeline.constraints.upper), "", f"not UTF-8 text (byte {exc.start})"
        ) from None
    for service in resolved.services.values():
        project = service.project
        for field, script in [("steps", s) for s in project.steps] + [
            ("acceptance", project.acceptance)
        ]:
            if script and script not in scripts:
                raise ConfigError(
                    project.origin or str(CATALOG_PATH),
                    f"projects.{project.name}.{field}",
                    f"no script {script!r} in {scripts_dir}",
                )
    _check_constraints(pipeline.constraints.upper, upper)
    trees = {child.context: tree_hash(child.context) for child in resolved.children.values()}
    runtime: tuple[str, ...] = ()
    if spec.runtime_packages is not None:
        # "<distribution> <package>...": the packages, for refresh: updates.
        lines = spec.runtime_packages.read_text(encoding="utf-8", errors="replace").splitlines()
        runtime = tuple(dict.fromkeys(p for line in lines for p in line.split()[1:]))
    return PlanInputs(
        scripts_dir=scripts_dir,
        scripts=scripts,
        files=files,
        trees=trees,
        upper_constraints=upper,
        sources=sources,
        runtime_packages=runtime,
    )


def read_pins(folder: Path) -> dict[str, dict[str, str]]:
    """The versions a rebuild is held to (``apt_pins``, as ``verify`` writes them: one
    ``<node>.txt`` of ``name=version`` lines per node), by node.

    Raises:
        ConfigError: the folder or a file cannot be read.
    """
    try:
        return {
            path.stem: dict(
                line.split("=", 1) for line in path.read_text().splitlines() if "=" in line
            )
            for path in sorted(folder.glob("*.txt"))
        }
    except OSError as exc:
        raise ConfigError("setting 'apt_pins'", "", f"{folder}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "setting 'apt_pins'", "", f"{folder}: a file is not UTF-8 text (byte {exc.start})"
        ) from None
