"""One build run: prepare (load, select, fetch, plan), then execute (schedule, record).

No click here: the CLI turns flags into a :class:`~orchestrator.model.request.Request`, calls
:func:`prepare` and :func:`execute`, and hands the result to
:mod:`orchestrator.reporting.console`. Every node's end state goes to the history database as
it ends, so a run killed with SIGKILL leaves a record that ``orchestrate resume`` continues.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import networkx as nx
import structlog

from orchestrator.engine import naming
from orchestrator.engine.emulation import check_runnable
from orchestrator.engine.registry import Registry
from orchestrator.engine.runner import Runner, ShRunner, check_space, require_tool
from orchestrator.engine.signing import Signer
from orchestrator.engine.storage import Storage
from orchestrator.engine.storageconf import conf_path, make_storage_root
from orchestrator.errors import (
    ConfigError,
    FetchError,
    OrchestrateError,
    StateError,
    ToolMissingError,
)
from orchestrator.execution.buildah_executor import BuildahExecutor
from orchestrator.execution.engines import (
    attestor_of,
    check_keys,
    lookaside_of,
    registry_of,
    signer_of,
)
from orchestrator.execution.promote import DowngradeError, Promotion, PromotionError, promote
from orchestrator.execution.recording import (
    record_gate,
    record_node,
    record_unstarted,
    run_state,
    start_run,
)
from orchestrator.execution.release import check_images, gate_and_release
from orchestrator.execution.retention import NodePrune, prune_pipeline, report
from orchestrator.execution.scheduler import Limits, Scheduler
from orchestrator.loading.archive import archive_for
from orchestrator.loading.load import (
    check_output,
    check_settings,
    fetch_constraints,
    fetch_sources,
    find_pipeline,
    load,
    network_of,
    plan_inputs,
    read_pins,
)
from orchestrator.loading.resolution import wheel_sets
from orchestrator.logsetup import redirected
from orchestrator.model.debs import DebIndex
from orchestrator.model.pipeline import REQUIREMENTS_NODE
from orchestrator.model.platforms import named_in
from orchestrator.model.request import Request
from orchestrator.model.resolve import ResolvedPipeline, unique
from orchestrator.model.results import GateResult, NodeResult, RunResult
from orchestrator.model.settings import Settings
from orchestrator.model.states import NodeKind, RunState
from orchestrator.planning.builder import apt_cache_dir, project_wheels_dir
from orchestrator.planning.describe import describe_plan
from orchestrator.planning.graph import graph_for, order
from orchestrator.planning.nodeplan import NodePlan, PlanContext, PreviousBuild
from orchestrator.planning.plan import plan_all
from orchestrator.planning.requirements import wheeled_services
from orchestrator.planning.reuse import Decision
from orchestrator.records import runs
from orchestrator.records.history import History
from orchestrator.records.housekeeping import clean_up_dead_runs
from orchestrator.reporting.progress import ConsoleFile, LiveProgress, PlainProgress, use_live
from orchestrator.reporting.tables import columns


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A planned run: the request, pipeline, settings, selected graph and every node's plan,
    and the storage.conf of its ``storage_root`` (None: the host's image storage), which
    every runner of the run is made with."""

    request: Request
    path: Path
    resolved: ResolvedPipeline
    settings: Settings
    graph: nx.DiGraph
    nodes: list[str]
    plans: dict[str, NodePlan]
    run_id: str
    started: datetime
    storage_conf: Path | None = None

    @property
    def run_dir(self) -> Path:
        return self.settings.state_dir / "runs" / self.run_id

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"


def prepare(
    request: Request,
    *,
    check_tools: bool = True,
    now: datetime | None = None,
    archive_dir: Path | None = None,
) -> Prepared:
    """Load and check the pipeline, fetch its sources and plan every selected node, as of
    ``now`` (default: the present; ``verify`` plans as of the run it rebuilds). The archive's
    indexes (``refresh: updates``) are cached in ``archive_dir`` (default: the state
    directory's ``archive/``).

    Raises:
        OrchestrateError: bad config, a missing tool (when ``check_tools``), a source that
            can't be fetched.
    """
    path = find_pipeline(request.pipeline)
    resolved = load(path, request.profiles_dir)
    settings = request.settings(resolved.pipeline.settings)
    storage_conf = None
    if settings.storage_root:
        storage_conf = storage_root(Path(settings.storage_root), dry_run=request.dry_run)
    graph = graph_for(resolved, request.selection)
    nodes = order(graph)
    settings.check("push")
    kinds = {graph.nodes[node]["kind"] for node in graph}
    check_settings(settings, nodes, writes=not request.dry_run)
    check_output("--summary-json", request.outputs.summary_json)
    check_output("--junit", request.outputs.junit)
    unknown = sorted(request.no_cache_for - set(nodes))
    if unknown:
        raise ConfigError("--no-cache-for", "", f"no such node in this run: {', '.join(unknown)}")
    if check_tools:
        # The keys it will sign with, before the run is recorded: a bad one leaves no run.
        check_keys(settings, ShRunner(storage_conf))
        require_tool("buildah")
        if settings.registry:
            require_tool("skopeo")
        check_space(str(settings.state_dir), storage_conf)
        if NodeKind.BASE in kinds and resolved.pipeline.base.kind == "mmdebstrap":
            require_tool("mmdebstrap")
        # Before anything starts: not at the first arm64 step, minutes in.
        wanted = {graph.nodes[node]["platform"] for node in graph}
        check_runnable(
            (p for p in resolved.platforms if p.name in wanted),
            native=resolved.native,
            where=f"{path}: platforms",
        )
    run_id = naming.new_run_id(datetime.now(UTC))
    now = now or datetime.now(UTC)
    try:
        # The wheels image needs the requirements of every service it is made for, built
        # in this run or not.
        wheeled = wheeled_services(resolved, graph) if NodeKind.REQUIREMENTS in kinds else []
        resolved = fetch_constraints(resolved, settings)
        images = [str(graph.nodes[node]["image"]) for node in nodes]
        sources = fetch_sources(resolved, unique(images, wheeled), settings)
        archive = _archive(resolved, graph, settings, archive_dir)
        read = plan_inputs(resolved, sources)
        # What the wheels image resolves to: its key (and so every key after it) holds
        # the pins of what it installs, not every line of upper-constraints.
        resolutions = wheel_sets(resolved, graph, settings, read, now)
    except FetchError as exc:
        if request.dry_run or not record_unstarted(
            request, path, settings, graph, run_id, now, exc
        ):
            raise
        raise FetchError(
            f"{exc} (run {run_id} recorded as failed; the same command, or "
            f"'orchestrate resume {run_id}', tries again)"
        ) from None
    if not request.dry_run:
        try:
            apt_cache_dir(settings.state_dir, resolved.pipeline.base).mkdir(
                parents=True, exist_ok=True
            )
            project_wheels_dir(settings.state_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"state directory {settings.state_dir}: cannot create the package or wheel cache "
                f"({exc.strerror})"
            ) from None
    inputs = dataclasses.replace(
        read,
        archive=archive,
        pinned=read_pins(Path(settings.apt_pins)) if archive and settings.apt_pins else {},
        wheel_sets=resolutions,
    )
    ctx = PlanContext(
        run_id=run_id,
        run_dir=settings.state_dir / "runs" / run_id / "work",
        settings=settings,
        inputs=inputs,
        now=now,
        previous=previous_builds(
            settings, _previous_wheels_for(request, graph), ShRunner(storage_conf)
        ),
        no_cache=request.no_cache,
        no_cache_for=frozenset(request.no_cache_for),
    )
    return Prepared(
        request=request,
        path=path,
        resolved=resolved,
        settings=settings,
        graph=graph,
        nodes=nodes,
        plans=plan_all(resolved, graph, ctx),
        run_id=run_id,
        started=now,
        storage_conf=storage_conf,
    )


def _archive(
    resolved: ResolvedPipeline, graph: nx.DiGraph, settings: Settings, cache: Path | None
) -> dict[str, DebIndex]:
    """With ``refresh: updates``, what the base's suites offer now for each Debian
    architecture of the graph: every node's key holds the versions it installs."""
    base = resolved.pipeline.base
    if base.refresh != "updates" or base.kind != "mmdebstrap":
        return {}
    wanted = {graph.nodes[node]["platform"] for node in graph}
    arches = {p.debian_arch for p in resolved.platforms if p.name in wanted}
    cache = cache or settings.state_dir / "archive"
    return archive_for(base, arches, network_of(settings), cache, settings.apt_mirror)


def _previous_wheels_for(request: Request, graph: nx.DiGraph) -> dict[str, str]:
    """{wheels node: its platform} for the wheels nodes that may take what they can from the
    previous wheels image: not under ``--no-cache`` (or ``--no-cache-for`` the node), which
    builds from nothing."""
    if request.no_cache:
        return {}
    return {
        str(node): str(graph.nodes[node]["platform"])
        for node in graph
        if graph.nodes[node]["kind"] == NodeKind.REQUIREMENTS
        and not named_in(node, request.no_cache_for)
    }


def previous_builds(
    settings: Settings, nodes: Mapping[str, str], runner: Runner
) -> dict[str, list[PreviousBuild]]:
    """For each wheels node of ``nodes`` ({node: platform}), the wheels images of its
    platform this state directory built last (five at most), newest first, that are still
    in the local storage ``runner`` uses: the node takes the wheels of unchanged pins from
    the newest built with its builder, toolchain and binary policy."""
    if not nodes:
        return {}
    out: dict[str, list[PreviousBuild]] = {}
    try:
        history = History.existing(settings.state_dir)
        if history is None:
            return {}
        storage = Storage(runner)
        namespace = settings.namespace.rstrip("/")
        with history:
            for node, platform in nodes.items():
                recent = history.recent_builds(
                    f"{namespace}/{REQUIREMENTS_NODE}", {"platform": platform}
                )
                # Those still there (a nightly's benchmark, or an operator, may have removed
                # the last one); planning takes the newest built as this one will be.
                out[node] = [
                    PreviousBuild(image=b.image, inputs=dict(b.inputs))
                    for b in recent
                    if storage.image_id(b.image) is not None
                ]
    except OrchestrateError:  # no readable history, no buildah: a cold build
        return {}
    return out


def explain(prepared: Prepared, storage: Storage) -> list[str]:
    """``orchestrate plan``: every node's commands, then a table of build or reuse and why."""
    lines: list[str] = []
    for node in prepared.nodes:
        lines.extend(describe_plan(prepared.plans[node]))
    rows = [("NODE", "ACTION", "KEY", "WHY")]
    request = prepared.request
    # Read-only: a dry run records nothing, not even an empty history.
    history = History.existing(prepared.settings.state_dir)
    # The executor's own decisions (local storage, then the registry), made the same way
    # a build makes them, with nothing built.
    deciding = BuildahExecutor(
        runner=storage.runner,
        host_env={},
        no_cache=request.no_cache,
        no_cache_for=request.no_cache_for,
        history=history,
        registry=registry_of(prepared.settings, storage.runner),
    )
    decisions: dict[str, Decision] = {}
    missing = ""
    try:
        decisions = deciding.decide_run(prepared.plans, children_of(prepared.graph))
    except ToolMissingError as exc:
        missing = f"{exc.tool} is not installed"
    except FetchError as exc:
        missing = f"registry lookup failed: {exc}"
    finally:
        if history is not None:
            history.close()
    for node in prepared.nodes:
        plan = prepared.plans[node]
        decision = decisions.get(node)
        if decision is None:
            rows.append((node, "?", plan.key[:12], missing))
        else:
            rows.append((node, decision.action, plan.key[:12], decision.why))
    return [*lines, "", *columns(rows)]


def execute(
    prepared: Prepared,
    runner: Runner,
    *,
    resumed_from: str | None = None,
    done_before: Mapping[str, str] | None = None,
) -> RunResult:
    """Run the plans with buildah and record everything in the history. ``runner`` runs
    every command: one made with ``prepared.storage_conf``, or a fake in tests.

    The run is recorded with its request (credentials withheld, see
    :meth:`~orchestrator.model.request.Request.stored`) and the command line.
    """
    log = structlog.get_logger()
    settings = prepared.settings
    run_id = prepared.run_id
    prepared.log_dir.mkdir(parents=True, exist_ok=True)
    pid_file = runs.mark_running(prepared.run_dir)
    storage = Storage(runner)
    with History(settings.state_dir) as history:
        clean_up_dead_runs(history, storage)
        start_run(
            history,
            prepared.request,
            prepared.path,
            prepared.graph,
            run_id=run_id,
            started=prepared.started,
            resumed_from=resumed_from,
        )
        registry = registry_of(settings, runner)
        gate = prepared.resolved.pipeline.gate
        executor = BuildahExecutor(
            runner=runner,
            host_env={k: v for k, v in settings.proxies.items() if v},
            no_cache=prepared.request.no_cache,
            no_cache_for=prepared.request.no_cache_for,
            history=history,
            done_before=done_before,
            registry=registry,
            push_parallel=settings.push_parallel,
            signer=signer_of(settings, runner) if settings.push else None,
            step_slots=settings.build_slots,
            hold_release=bool(gate),
            attestor=attestor_of(settings, runner, prepared.path, registry, history),
        )
        try:
            executor.decide_run(prepared.plans, children_of(prepared.graph))
        except FetchError as exc:
            history.finish_run(
                run_id,
                result=RunState.FAILED,
                exit_code=exc.exit_code,
                finished=time.time(),
                error=str(exc),
            )
            pid_file.unlink(missing_ok=True)
            raise
        limits = Limits(
            parallel=settings.parallel,
            retries=settings.retries,
            timeout=settings.timeout,
            fail_fast=settings.fail_fast,
        )
        log.info(
            "run started",
            run=run_id,
            pipeline=str(prepared.path),
            nodes=len(prepared.nodes),
            parallel=limits.parallel,
            logs=str(prepared.log_dir),
            resumes=resumed_from,
        )
        progress = _progress(prepared, history)

        def on_result(result: NodeResult) -> None:
            record_node(history, run_id, prepared.plans, result)
            progress.on_result(result)

        scheduler = Scheduler(
            prepared.graph,
            prepared.plans,
            executor,
            run_id=run_id,
            log_dir=prepared.log_dir,
            limits=limits,
            on_event=progress.on_event,
            on_result=on_result,
        )
        with _sigterm_as_interrupt(), progress, _log_through(progress):
            try:
                result = scheduler.run()
            finally:
                executor.close()
        if gate and not result.interrupted:
            with _sigterm_as_interrupt():
                gate_and_release(
                    checks=gate,
                    run_gate_checks=settings.gate,
                    plans=prepared.plans,
                    result=result,
                    runner=runner,
                    registry=registry,
                    folder=prepared.path.parent,
                    run_dir=prepared.run_dir,
                    storage_conf=prepared.storage_conf,
                )
            if result.gate is not None:
                record_gate(history, run_id, result.gate)
            result.finished = time.time()
        promoting = settings.push and settings.promote
        released = not gate or (
            result.gate is not None and result.gate.passed and not result.promotion_error
        )
        if registry is not None and promoting and not result.interrupted and released:
            _promote(prepared, registry, result, executor.signer)
        try:
            history.finish_run(
                run_id,
                result=run_state(result),
                exit_code=result.exit_code,
                finished=time.time(),
                error=result.promotion_error
                or (result.gate.message() if result.gate and not result.gate.passed else ""),
            )
        except StateError as exc:  # a full disk: the next run marks this one killed
            log.error("could not record the end of the run in the history", error=str(exc))
            return result
    pid_file.unlink(missing_ok=True)
    return result


def children_of(graph: nx.DiGraph) -> dict[str, list[str]]:
    return {str(node): [str(c) for c in graph.successors(node)] for node in graph}


def _promote(
    prepared: Prepared, registry: Registry, result: RunResult, signer: Signer | None
) -> None:
    """Release tags in the registry once every node succeeded; none otherwise."""
    log = structlog.get_logger()
    failed = sorted(n for n, r in result.results.items() if not r.status.ok)
    if failed:
        result.promotion_error = (
            f"release tags not promoted: {len(failed)} node(s) did not succeed "
            f"({', '.join(failed)}); every release tag stays where it was"
        )
        log.warning("release tags not promoted", failed=failed)
        return
    try:
        done = promote(
            prepared.plans,
            registry,
            parallel=prepared.settings.push_parallel,
            signer=signer,
            allowed=prepared.resolved.pipeline.allow_downgrades,
            pipeline=str(prepared.path),
        )
    except PromotionError as exc:
        result.promotion_error = str(exc)
        result.downgrade_refused = isinstance(exc, DowngradeError)
        log.error("release tags not promoted", error=str(exc))
        return
    for note in done.notes:
        log.warning("promotion", note=note)
    result.promoted = done.promoted
    log.info("release tags promoted", tags=len(done.promoted), unchanged=len(done.unchanged))
    result.retention, result.retention_error = apply_retention(prepared, registry)


def apply_retention(prepared: Prepared, registry: Registry) -> tuple[list[str], str]:
    """The pipeline's ``retention`` after its release tags were promoted: the older dated
    tags of the run's images deleted from the registry (:mod:`.retention`). Returns what was
    deleted and held, and why it stopped if the registry failed (the run's images and tags
    are in place either way: that is a warning, not a failed run)."""
    keep = prepared.resolved.pipeline.retention
    if keep is None:
        return [], ""
    graph = prepared.graph
    results: list[NodePrune] = []
    error = ""
    try:
        prune_pipeline(
            prepared.resolved,
            (str(graph.nodes[node].get("image", node)) for node in graph),
            registry,
            registry_url=prepared.settings.registry,
            keep=keep,
            lookaside=lookaside_of(prepared.settings),
            results=results,
        )
    except (OrchestrateError, OSError) as exc:  # the registry; the lookaside's folders
        error = f"retention not applied: {exc}"
        structlog.get_logger().warning("retention not applied", error=str(exc))
    return report(results, dry_run=False), error


def promote_release_tags(prepared: Prepared, runner: Runner) -> tuple[Promotion, Registry]:
    """``orchestrate promote``: the selected nodes' release tags in the registry, once every
    key tag is there (a CI engine's last job, after one job per node); the registry, for
    :func:`apply_retention`.

    Raises:
        ConfigError: no registry is set.
        DowngradeError: a new image downgrades what the pipeline does not allow (nothing
            moved).
        PromotionError: a key tag is missing (nothing moved), or the registry failed.
    """
    registry = registry_of(prepared.settings, runner)
    if registry is None:
        raise ConfigError(
            "setting 'registry'",
            "",
            "promote needs a registry: pass --registry or set ORCHESTRATE_REGISTRY",
        )
    done = promote(
        prepared.plans,
        registry,
        parallel=prepared.settings.push_parallel,
        signer=signer_of(prepared.settings, runner),
        allowed=prepared.resolved.pipeline.allow_downgrades,
        pipeline=str(prepared.path),
    )
    return done, registry


def gate_only(prepared: Prepared, runner: Runner) -> GateResult:
    """``orchestrate gate``: the pipeline's gate checks on the selected nodes' images (local,
    else pulled from the registry by key tag), under ``<run>/gate``; no tag moves.

    Raises:
        ConfigError: the pipeline has no gate.
        FetchError: an image is neither local nor in the registry.
    """
    checks = prepared.resolved.pipeline.gate
    if not checks:
        raise ConfigError(str(prepared.path), "gate", "the pipeline lists no gate checks")
    with _sigterm_as_interrupt():
        return check_images(
            checks,
            prepared.plans,
            runner,
            registry=registry_of(prepared.settings, runner),
            folder=prepared.path.parent,
            run_dir=prepared.run_dir,
            storage_conf=prepared.storage_conf,
        )


def storage_root(root: Path, *, dry_run: bool) -> Path:
    """The storage.conf of image storage under ``root``, made if need be; a dry run where it
    does not exist yet looks at an empty throwaway storage instead of creating it."""
    if dry_run and not conf_path(root).is_file():
        scratch = Path(tempfile.mkdtemp(prefix="orchestrate-plan-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        return make_storage_root(scratch)
    return make_storage_root(root)


def _progress(prepared: Prepared, history: History) -> LiveProgress | PlainProgress:
    """A live table on a terminal (log events printed above it), else plain lines."""
    display = prepared.request.display
    live = use_live(
        display.progress,  # type: ignore[arg-type]
        log_format=display.log_format,
        stream_is_tty=sys.stderr.isatty(),
    )
    if not live:
        return PlainProgress(prepared.graph)
    images = {node: (plan.image, plan.key) for node, plan in prepared.plans.items()}
    graph = prepared.graph
    cost = {str(node): float(graph.nodes[node].get("cost", 1.0)) for node in graph}
    estimates = history.estimates(images, cost)
    return LiveProgress(graph, run_id=prepared.run_id, estimates=estimates)


@contextmanager
def _log_through(progress: LiveProgress | PlainProgress) -> Iterator[None]:
    """While a live table draws, log events (warnings and errors) print above it."""
    if isinstance(progress, LiveProgress):
        with redirected(ConsoleFile(progress.console), quiet=True):  # type: ignore[arg-type]
            yield
    else:
        yield


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the run like Ctrl-C: running commands stopped, containers removed."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
