"""One build run, end to end: plan, clean up after dead runs, schedule, record, report.

The CLI parses options and calls :func:`prepare` then :func:`execute` (or
:func:`explain` for ``orchestrate plan``). Every node's end state goes to the history database
as it ends, so a run killed with SIGKILL leaves a record that ``orchestrate resume`` continues.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
import networkx as nx
import structlog

from orchestrator.engine import process as engine
from orchestrator.errors import ConfigError, OrchestrateError, StateError, ToolMissingError
from orchestrator.execution.buildah_executor import (
    BuildahExecutor,
    existing_containers,
    image_key,
    image_names,
)
from orchestrator.execution.scheduler import Limits, Scheduler
from orchestrator.loading.workflow import (
    Selection,
    fetch_sources,
    find_pipeline,
    graph_for,
    load,
    make_plans,
    new_run_id,
    no_cache_for,
)
from orchestrator.logsetup import configure_logging
from orchestrator.model.results import NodeResult, RunResult, Status
from orchestrator.model.settings import OPTIONS, Settings, resolve_settings
from orchestrator.planning.graph import order
from orchestrator.planning.plan import NodePlan, describe_plan
from orchestrator.planning.resolve import ResolvedPipeline
from orchestrator.planning.reuse import decide
from orchestrator.records import runs
from orchestrator.records.history import FAILED, INTERRUPTED, SUCCEEDED, History
from orchestrator.records.resume import stored_options
from orchestrator.reporting import summary
from orchestrator.reporting.junit import to_junit, write_junit
from orchestrator.reporting.progress import (
    ConsoleFile,
    LiveProgress,
    PlainProgress,
    use_live,
)


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A planned run: the pipeline, its settings, the selected graph and every node's plan."""

    path: Path
    resolved: ResolvedPipeline
    settings: Settings
    graph: nx.DiGraph
    nodes: list[str]
    plans: dict[str, NodePlan]
    run_id: str
    started: datetime


def cli_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The run settings among CLI option values (lists as tuples, empty as unset)."""
    out: dict[str, Any] = {}
    for option in OPTIONS:
        value = values.get(option.name)
        if option.kind == "list":
            out[option.name] = tuple(value) if value else None
        else:
            out[option.name] = value
    return out


def selection_of(options: Mapping[str, Any]) -> Selection:
    return Selection(
        only=tuple(options.get("only") or ()),
        skip=tuple(options.get("skip") or ()),
        match=options.get("match"),
    )


def prepare(pipeline: Path | None, options: Mapping[str, Any], *, tools: bool = True) -> Prepared:
    """Load and check the pipeline, fetch its sources and plan every selected node.

    Raises:
        OrchestrateError: bad config, a missing tool (when ``tools``), a source that can't be
            fetched.
    """
    path = find_pipeline(pipeline)
    resolved = load(path, options.get("profiles_dir"))
    settings = resolve_settings(resolved.pipeline.settings, cli_settings(options))
    graph = graph_for(resolved, selection_of(options))
    nodes = order(graph)
    if settings.get_bool("push") and not settings.get_str("registry"):
        raise ConfigError(
            f"setting 'push' (from {settings.origins['push']})",
            "",
            "pushing is on but no registry is set: pass --registry, set ORCHESTRATE_REGISTRY "
            "or settings.registry, or --no-push",
        )
    unknown = sorted(no_cache_for(options) - set(nodes))
    if unknown:
        raise ConfigError("--no-cache-for", "", f"no such node in this run: {', '.join(unknown)}")
    if tools:
        engine.require_tool("buildah")
        if "base" in graph and resolved.pipeline.base.kind == "mmdebstrap":
            engine.require_tool("mmdebstrap")
    now = datetime.now(UTC)
    run_id = new_run_id(now)
    sources = fetch_sources(resolved, nodes, settings)
    plans = make_plans(resolved, graph, settings, sources, run_id=run_id, now=now)
    return Prepared(
        path=path,
        resolved=resolved,
        settings=settings,
        graph=graph,
        nodes=nodes,
        plans=plans,
        run_id=run_id,
        started=now,
    )


def explain(prepared: Prepared, options: Mapping[str, Any]) -> list[str]:
    """``orchestrate plan``: every node's commands, then a table of build or reuse and why."""
    lines: list[str] = []
    for node in prepared.nodes:
        lines.extend(describe_plan(prepared.plans[node]))
    rows = [("NODE", "ACTION", "KEY", "WHY")]
    with History(prepared.settings.state_dir) as history:
        for node in prepared.nodes:
            plan = prepared.plans[node]
            try:
                decision = decide(
                    plan,
                    image_key=image_key,
                    history=history,
                    no_cache=bool(options.get("no_cache")),
                    no_cache_for=no_cache_for(options),
                )
            except ToolMissingError:
                rows.append((node, "?", plan.key[:12], "buildah is not installed"))
                continue
            rows.append((node, decision.action, plan.key[:12], decision.why))
    return [*lines, "", *summary.columns(rows)]


def execute(
    prepared: Prepared,
    options: Mapping[str, Any],
    *,
    resumed_from: str | None = None,
    done_before: Mapping[str, str] | None = None,
) -> int:
    """Run the plans with buildah, record everything in the history, print the summary.

    The run is recorded with the command line and the options to repeat it (credentials
    withheld, see :func:`orchestrator.records.resume.stored_options`).

    Returns:
        The run's exit code: 0 all built or reused, 1 a node failed, 130 interrupted.
    """
    log = structlog.get_logger()
    settings = prepared.settings
    run_id = prepared.run_id
    stored, withheld = stored_options({**options, "pipeline": str(prepared.path.resolve())})
    run_dir = settings.state_dir / "runs" / run_id
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    pid_file = runs.mark_running(run_dir)
    with History(settings.state_dir) as history:
        clean_up_dead_runs(history, settings.state_dir)
        history.start_run(
            run_id=run_id,
            pipeline=str(prepared.path.resolve()),
            command=engine.format_argv(["orchestrate", *sys.argv[1:]]),
            options=stored,
            withheld=withheld,
            nodes=prepared.nodes,
            edges=sorted(prepared.graph.edges),
            log_dir=log_dir,
            pid=os.getpid(),
            resumed_from=resumed_from,
            started=prepared.started.timestamp(),
        )
        host_env = {k: settings.get_str(k) for k in ("http_proxy", "https_proxy", "no_proxy")}
        executor = BuildahExecutor(
            host_env={k: v for k, v in host_env.items() if v},
            no_cache=bool(options.get("no_cache")),
            no_cache_for=no_cache_for(options),
            history=history,
            done_before=done_before,
        )
        limits = Limits(
            parallel=settings.get_int("parallel"),
            retries=settings.get_int("retries"),
            timeout=settings.get_int("timeout"),
            fail_fast=settings.get_bool("fail_fast"),
        )
        log.info(
            "run started",
            run=run_id,
            pipeline=str(prepared.path),
            nodes=len(prepared.nodes),
            parallel=limits.parallel,
            logs=str(log_dir),
            resumes=resumed_from,
        )
        progress = _progress(prepared, options, history)

        def on_result(result: NodeResult) -> None:
            _record(history, run_id, prepared.plans, result)
            progress.on_result(result)

        scheduler = Scheduler(
            prepared.graph,
            prepared.plans,
            executor,
            run_id=run_id,
            log_dir=log_dir,
            limits=limits,
            on_event=progress.on_event,
            on_result=on_result,
        )
        previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
        try:
            with progress:
                result = scheduler.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
            if isinstance(progress, LiveProgress):
                configure_logging(
                    options.get("log_format", "auto"), verbose=bool(options.get("verbose"))
                )
        history.finish_run(
            run_id, result=_run_result(result), exit_code=result.exit_code, finished=time.time()
        )
    pid_file.unlink(missing_ok=True)
    _report(prepared, result, options, log_dir, run_dir)
    return result.exit_code


def _progress(
    prepared: Prepared, options: Mapping[str, Any], history: History
) -> LiveProgress | PlainProgress:
    """A live table on a terminal (log events printed above it), else plain lines."""
    log_format = options.get("log_format", "auto")
    live = use_live(
        options.get("progress") or "auto", log_format=log_format, stream_is_tty=sys.stderr.isatty()
    )
    if not live:
        return PlainProgress(prepared.graph)
    images = {node: (plan.image, plan.key) for node, plan in prepared.plans.items()}
    progress = LiveProgress(
        prepared.graph, run_id=prepared.run_id, estimates=history.estimates(images)
    )
    configure_logging(
        log_format,
        verbose=bool(options.get("verbose")),
        file=ConsoleFile(progress.console),  # type: ignore[arg-type]
        quiet=True,
    )
    return progress


def clean_up_dead_runs(history: History, state_dir: Path) -> None:
    """Mark runs whose process died as killed and remove their working containers."""
    log = structlog.get_logger()
    dead = [r.id for r in history.running() if not runs.is_alive(state_dir, r.id)]
    if dead:
        history.mark_killed(dead)
        log.warning("runs ended without finishing (killed)", runs=dead)
    stale = runs.orphans(state_dir, existing_containers())
    if stale:
        with contextlib.suppress(OrchestrateError):
            engine.capture(["buildah", "rm", *stale])
        log.warning("removed working containers of dead runs", containers=stale)
    candidates = runs.orphan_candidates(state_dir, image_names())
    if candidates:
        with contextlib.suppress(OrchestrateError):
            engine.capture(["buildah", "rmi", *candidates])
        log.warning("removed unverified images of dead runs", images=candidates)


def _record(
    history: History, run_id: str, plans: Mapping[str, NodePlan], result: NodeResult
) -> None:
    plan = plans[result.node]
    try:
        history.record_node(run_id, result, plan.key)
        if result.status is Status.BUILT:
            history.record_build(
                key=plan.key,
                node=result.node,
                image=plan.image,
                image_id=result.image_id,
                inputs=plan.inputs,
                run_id=run_id,
                built=result.finished or time.time(),
            )
    except StateError as exc:  # a history write must not stop the builds
        structlog.get_logger().error(
            "could not record the node in the history", node=result.node, error=str(exc)
        )


def _run_result(result: RunResult) -> str:
    if result.interrupted:
        return INTERRUPTED
    return SUCCEEDED if result.exit_code == 0 else FAILED


def _report(
    prepared: Prepared,
    result: RunResult,
    options: Mapping[str, Any],
    log_dir: Path,
    run_dir: Path,
) -> None:
    click.echo(summary.table(result, prepared.nodes))
    document = summary.to_json(result, prepared.nodes, pipeline=str(prepared.path), log_dir=log_dir)
    summary.write_json(run_dir / "summary.json", document)
    if options.get("summary_json"):
        summary.write_json(Path(options["summary_json"]), document)
    if options.get("junit"):
        suite = f"orchestrate.{prepared.resolved.pipeline.name}"
        write_junit(Path(options["junit"]), to_junit(result, prepared.nodes, suite=suite))
    click.echo(f"logs: {log_dir}")
    for node in prepared.nodes:
        r = result.results.get(node)
        if r is not None and r.error:
            click.echo(f"\n{node} failed: {r.error}", err=True)
            if r.error_tail:
                click.echo(
                    "\n".join("    " + line for line in r.error_tail.splitlines()[-15:]), err=True
                )
            click.echo(f"    full log: {r.log_path}", err=True)
    if result.exit_code != 0:
        click.echo(f"\ncontinue this run with: orchestrate resume {result.run_id}", err=True)


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
