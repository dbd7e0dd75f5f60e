"""The ``orchestrate`` command line.

``orchestrate --parallel 9`` builds pipelines/full-stack.yaml; ``orchestrate build PIPELINE``
builds any other. Exit codes: 0 all good, 1 a node failed, 2 bad usage or config, 130
interrupted. Only :func:`main` catches errors.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
import structlog
import yaml

from orchestrator import engine, runs, summary
from orchestrator.buildah_executor import (
    BuildahExecutor,
    existing_containers,
    remove_containers,
)
from orchestrator.catalog import load_catalog
from orchestrator.config import REQUIREMENTS_NODE
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_USAGE, ConfigError, OrchestrateError
from orchestrator.graph import order, render
from orchestrator.logsetup import configure_logging
from orchestrator.plan import describe_plan
from orchestrator.profiles import load_profile
from orchestrator.resolve import ResolvedPipeline
from orchestrator.scheduler import Limits, Scheduler
from orchestrator.settings import OPTIONS, Option, Settings, resolve_settings
from orchestrator.workflow import (
    Selection,
    fetch_sources,
    find_pipeline,
    graph_for,
    load,
    make_plans,
    new_run_id,
)

F = Callable[..., Any]


def _setting_option(option: Option) -> Callable[[F], F]:
    flag = "--" + option.name.replace("_", "-")
    help_text = f"{option.help} [env: {option.env}]"
    match option.kind:
        case "bool":
            return click.option(
                f"{flag}/--no-{flag[2:]}", option.name, default=None, help=help_text
            )
        case "int":
            return click.option(
                flag,
                option.name,
                type=click.IntRange(min=option.minimum),
                default=None,
                help=help_text,
            )
        case "choice":
            return click.option(
                flag, option.name, type=click.Choice(option.choices), default=None, help=help_text
            )
        case "list":
            return click.option(flag, option.name, multiple=True, help=help_text)
        case "str":
            return click.option(flag, option.name, default=None, help=help_text)


def setting_options(func: F) -> F:
    """Add one flag per run setting (see orchestrator.settings.OPTIONS)."""
    for option in reversed(OPTIONS):
        func = _setting_option(option)(func)
    return func


def selection_options(func: F) -> F:
    """Add --only/--skip/--match."""
    func = click.option(
        "--match",
        "match",
        metavar="REGEX",
        default=None,
        help="Build the nodes whose name matches REGEX, with their ancestors.",
    )(func)
    func = click.option(
        "--skip",
        "skip",
        multiple=True,
        metavar="NODES",
        help="Leave out these nodes (comma-separated) and all their dependents.",
    )(func)
    func = click.option(
        "--only",
        "only",
        multiple=True,
        metavar="NODES",
        help="Build only these nodes (comma-separated) and their ancestors.",
    )(func)
    return func


def build_options(func: F) -> F:
    """Options of a build (shared by ``orchestrate`` and ``orchestrate build``)."""
    func = click.option(
        "--no-cache-for",
        "no_cache_for",
        multiple=True,
        metavar="NODES",
        help="Rebuild these nodes even if an image with their key exists.",
    )(func)
    func = click.option(
        "--no-cache",
        is_flag=True,
        default=None,
        help="Rebuild every node even if an image with its key exists.",
    )(func)
    func = click.option(
        "--dry-run",
        is_flag=True,
        default=None,
        help="Print the plan (every buildah command) and build nothing.",
    )(func)
    func = click.option(
        "--summary-json",
        type=click.Path(path_type=Path),
        default=None,
        help="Also write the run summary as JSON to this file.",
    )(func)
    func = click.option(
        "--profiles-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder of profile files (default: the project's profiles/).",
    )(func)
    return selection_options(setting_options(func))


def _cli_settings(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for option in OPTIONS:
        value = values.get(option.name)
        if option.kind == "list":
            out[option.name] = tuple(value) if value else None
        else:
            out[option.name] = value
    return out


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    envvar="ORCHESTRATE_LOG_FORMAT",
    show_default=True,
    help="Log events for people (auto/console) or as one JSON object per line.",
)
@click.option("-v", "--verbose", is_flag=True, help="Also log every command before it runs.")
@build_options
@click.version_option(package_name="orchestrate")
@click.pass_context
def cli(ctx: click.Context, /, log_format: str, verbose: bool, **options: Any) -> int | None:
    """Build the OCI images of an OpenStack cloud with buildah, as one DAG.

    Without a command, builds pipelines/full-stack.yaml: base, requirements (wheels) and the
    nine service images, e.g. `orchestrate --parallel 9`.
    """
    configure_logging(log_format, verbose=verbose)  # type: ignore[arg-type]
    ctx.obj = options
    if ctx.invoked_subcommand is None:
        return _build(None, options)
    return None


def _merged(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """Subcommand options over the group's (``orchestrate --parallel 4 build X`` works too)."""
    parent: dict[str, Any] = ctx.obj or {}
    merged = dict(parent)
    for key, value in options.items():
        if value not in (None, ()):
            merged[key] = value
        else:
            merged.setdefault(key, value)
    return merged


def _settings_for(
    pipeline_path: Path, options: dict[str, Any]
) -> tuple[ResolvedPipeline, Settings]:
    resolved = load(pipeline_path, options.get("profiles_dir"))
    settings = resolve_settings(resolved.pipeline.settings, _cli_settings(options))
    return resolved, settings


def _selection(options: dict[str, Any]) -> Selection:
    return Selection(
        only=tuple(options.get("only") or ()),
        skip=tuple(options.get("skip") or ()),
        match=options.get("match"),
    )


@cli.command("build")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@build_options
@click.pass_context
def build_cmd(ctx: click.Context, /, pipeline: Path | None, **options: Any) -> int:
    """Build PIPELINE (default: pipelines/full-stack.yaml)."""
    return _build(pipeline, _merged(ctx, options))


def _build(pipeline: Path | None, options: dict[str, Any]) -> int:
    log = structlog.get_logger()
    path = find_pipeline(pipeline)
    resolved, settings = _settings_for(path, options)
    graph = graph_for(resolved, _selection(options))
    nodes = order(graph)
    if settings.get_bool("push") and not settings.get_str("registry"):
        raise ConfigError(
            f"setting 'push' (from {settings.origins['push']})",
            "",
            "pushing is on but no registry is set: pass --registry, set ORCHESTRATE_REGISTRY "
            "or settings.registry, or --no-push",
        )
    if not options.get("dry_run"):
        engine.require_tool("buildah")
        if "base" in graph and resolved.pipeline.base.kind == "mmdebstrap":
            engine.require_tool("mmdebstrap")
    now = datetime.now(UTC)
    run_id = new_run_id(now)
    sources = fetch_sources(resolved, nodes, settings)
    plans = make_plans(resolved, graph, settings, sources, run_id=run_id, now=now)
    if options.get("dry_run"):
        for node in nodes:
            click.echo("\n".join(describe_plan(plans[node])))
        return 0
    run_dir = settings.state_dir / "runs" / run_id
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    pid_file = runs.mark_running(run_dir)
    stale = runs.orphans(settings.state_dir, existing_containers())
    if stale:
        remove_containers(stale)
        log.warning("removed working containers of dead runs", containers=stale)
    host_env = {k: settings.get_str(k) for k in ("http_proxy", "https_proxy", "no_proxy")}
    executor = BuildahExecutor(
        host_env={k: v for k, v in host_env.items() if v},
        no_cache=bool(options.get("no_cache")),
        no_cache_for=frozenset(
            n.strip() for v in options.get("no_cache_for") or () for n in v.split(",") if n.strip()
        ),
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
        pipeline=str(path),
        nodes=len(nodes),
        parallel=limits.parallel,
        logs=str(log_dir),
    )
    scheduler = Scheduler(graph, plans, executor, run_id=run_id, log_dir=log_dir, limits=limits)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        result = scheduler.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        pid_file.unlink(missing_ok=True)
    click.echo(summary.table(result, nodes))
    document = summary.to_json(result, nodes, pipeline=str(path), log_dir=log_dir)
    summary.write_json(run_dir / "summary.json", document)
    if options.get("summary_json"):
        summary.write_json(options["summary_json"], document)
    click.echo(f"logs: {log_dir}")
    for node in nodes:
        r = result.results.get(node)
        if r is not None and r.error:
            click.echo(f"\n{node} failed: {r.error}", err=True)
            if r.error_tail:
                click.echo(
                    "\n".join("    " + line for line in r.error_tail.splitlines()[-15:]), err=True
                )
            click.echo(f"    full log: {r.log_path}", err=True)
    return result.exit_code


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@cli.command("plan")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@click.option(
    "--profiles-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of profile files (default: the project's profiles/).",
)
@selection_options
@setting_options
def plan_cmd(pipeline: Path | None, **options: Any) -> int:
    """Print each node's key, image and every buildah command it would run."""
    options["dry_run"] = True
    return _build(pipeline, options)


@cli.command("graph")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "dot", "mermaid", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--profiles-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of profile files (default: the project's profiles/).",
)
@selection_options
def graph_cmd(pipeline: Path | None, fmt: str, profiles_dir: Path | None, **options: Any) -> int:
    """Show the image graph of PIPELINE."""
    resolved = load(find_pipeline(pipeline), profiles_dir)
    click.echo(render(graph_for(resolved, _selection(options)), fmt))
    return 0


@cli.command("list")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@click.option(
    "--profiles-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of profile files (default: the project's profiles/).",
)
def list_cmd(pipeline: Path | None, profiles_dir: Path | None) -> int:
    """List the nodes of PIPELINE with their project, source and profiles."""
    resolved = load(find_pipeline(pipeline), profiles_dir)
    graph = graph_for(resolved)
    for node in order(graph):
        kind = graph.nodes[node]["kind"].value
        service = resolved.services.get(node)
        if service is not None:
            detail = (
                f"{service.project.pypi} from {service.source.describe()}; profiles: "
                f"{', '.join(service.profiles) or '-'}"
            )
        elif node == REQUIREMENTS_NODE:
            detail = f"wheels ({resolved.pipeline.requirements.scope})"
        elif node in resolved.children:
            detail = f"FROM {resolved.children[node].parent}"
        else:
            base = resolved.pipeline.base
            detail = base.image if base.kind == "image" else f"mmdebstrap {base.suite}"
        click.echo(f"{node:<14} {kind:<13} {detail}")
    return 0


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--profiles-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of profile files pipelines are checked against.",
)
def validate_cmd(files: tuple[Path, ...], profiles_dir: Path | None) -> int:
    """Check pipeline and profile files without building; one line per file."""
    bad = 0
    projects = frozenset(load_catalog().projects)
    for path in files:
        try:
            if _is_profile(path):
                load_profile(path, projects)
            else:
                resolved = load(path, profiles_dir)
                graph_for(resolved)
        except OrchestrateError as exc:
            bad += 1
            click.echo(f"error: {exc}", err=True)
        else:
            click.echo(f"ok: {path}")
    return EXIT_USAGE if bad else 0


def _is_profile(path: Path) -> bool:
    """Profiles live in a profiles/ folder, or are mappings without pipeline keys."""
    if path.parent.name == "profiles":
        return True
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False  # the pipeline loader reports it, with the file and line
    return (
        isinstance(data, dict)
        and "images" not in data
        and ("projects" in data or "default" in data)
    )


def main() -> None:
    """Entry point: run the CLI and map every error to its exit code and a one-line message."""
    try:
        rv = cli.main(prog_name="orchestrate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("orchestrate: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except OrchestrateError as exc:
        click.echo(f"orchestrate: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("orchestrate: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["cli", "main"]
