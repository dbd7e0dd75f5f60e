"""The ``orchestrate`` command line.

``orchestrate --parallel 9`` builds pipelines/full-stack.yaml; ``orchestrate build PIPELINE``
builds any other. Exit codes: 0 all good, 1 a node failed, 2 bad usage or config, 130
interrupted. Only :func:`main` catches errors.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from orchestrator.engine import process as engine
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_USAGE, ConfigError, OrchestrateError
from orchestrator.execution import run as build
from orchestrator.execution.buildah_executor import image_key
from orchestrator.loading.workflow import find_pipeline, graph_for, load
from orchestrator.logsetup import configure_logging
from orchestrator.model.catalog import load_catalog
from orchestrator.model.pipeline import REQUIREMENTS_NODE, load_pipeline
from orchestrator.model.profiles import load_profile
from orchestrator.model.settings import OPTION_BY_NAME, OPTIONS, Option, resolve_settings
from orchestrator.planning.graph import order, render
from orchestrator.records import resume
from orchestrator.records.history import History, RunRecord
from orchestrator.records.prune import Policy, apply_prune, plan_prune
from orchestrator.reporting.history_view import run_detail, runs_table
from orchestrator.reporting.html import write_report

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
    """Add one flag per run setting (see orchestrator.model.settings.OPTIONS)."""
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
        "--junit",
        type=click.Path(path_type=Path),
        default=None,
        help="Also write the run as JUnit XML (one testcase per node) to this file.",
    )(func)
    func = click.option(
        "--summary-json",
        type=click.Path(path_type=Path),
        default=None,
        help="Also write the run summary as JSON to this file (schema: "
        "orchestrator/data/summary.schema.json).",
    )(func)
    func = click.option(
        "--profiles-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder of profile files (default: the project's profiles/).",
    )(func)
    return selection_options(setting_options(func))


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
@click.option(
    "--progress",
    type=click.Choice(["auto", "live", "plain"]),
    default="auto",
    envvar="ORCHESTRATE_PROGRESS",
    show_default=True,
    help="While building: a live table of the nodes (on a terminal, outside CI: auto) or "
    "plain timestamped lines.",
)
@build_options
@click.version_option(package_name="orchestrate")
@click.pass_context
def cli(
    ctx: click.Context, /, log_format: str, verbose: bool, progress: str, **options: Any
) -> int | None:
    """Build the OCI images of an OpenStack cloud with buildah, as one DAG.

    Without a command, builds pipelines/full-stack.yaml: base, requirements (wheels) and the
    nine service images, e.g. `orchestrate --parallel 9`.
    """
    configure_logging(log_format, verbose=verbose)  # type: ignore[arg-type]
    options.update(log_format=log_format, verbose=verbose, progress=progress)
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


@cli.command("build")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@build_options
@click.option(
    "--resume",
    "resume_run",
    is_flag=True,
    help="Continue the last run (of PIPELINE, if given) that failed, was interrupted or "
    "killed: only its unfinished nodes are built.",
)
@click.pass_context
def build_cmd(
    ctx: click.Context, /, pipeline: Path | None, resume_run: bool, **options: Any
) -> int:
    """Build PIPELINE (default: pipelines/full-stack.yaml)."""
    merged = _merged(ctx, options)
    if resume_run:
        return _resume(None, pipeline, merged)
    return _build(pipeline, merged)


def _build(pipeline: Path | None, options: dict[str, Any]) -> int:
    prepared = build.prepare(pipeline, options, tools=not options.get("dry_run"))
    if options.get("dry_run"):
        click.echo("\n".join(build.explain(prepared, options)))
        return 0
    return build.execute(prepared, options)


def _state_dir(pipeline: Path | None, options: dict[str, Any]) -> Path:
    """The state directory from the flags, the environment, PIPELINE's settings if given."""
    pipeline_settings = load_pipeline(pipeline).settings if pipeline is not None else {}
    return resolve_settings(pipeline_settings, build.cli_settings(options)).state_dir


def _resume(run_id: str | None, pipeline: Path | None, overrides: dict[str, Any]) -> int:
    state_dir = _state_dir(pipeline, overrides)
    with History(state_dir) as history:
        build.clean_up_dead_runs(history, state_dir)
        record = resume.find_run(history, state_dir, run_id, pipeline)
        options = resume.restored_options(record, overrides)
        resume.limit_no_cache(history, record, options)
        done_before = resume.finished_nodes(history, record)
    path = Path(options.pop("pipeline", record.pipeline))
    click.echo(f"resuming run {record.id} ({record.result}) of {path}")
    prepared = build.prepare(path, options)
    return build.execute(prepared, options, resumed_from=record.id, done_before=done_before)


@cli.command("plan")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@click.option(
    "--profiles-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of profile files (default: the project's profiles/).",
)
@click.option(
    "--no-cache-for",
    "no_cache_for",
    multiple=True,
    metavar="NODES",
    help="Plan these nodes as rebuilt even if an image with their key exists.",
)
@click.option("--no-cache", is_flag=True, default=None, help="Plan every node as rebuilt.")
@selection_options
@setting_options
def plan_cmd(pipeline: Path | None, **options: Any) -> int:
    """Print each node's key, image and every buildah command it would run, then whether
    each will be built or reused, and why: which of its inputs changed since its last build."""
    options["dry_run"] = True
    return _build(pipeline, options)


@cli.command("resume")
@click.argument("run_id", metavar="RUN")
@setting_options
@click.pass_context
def resume_cmd(ctx: click.Context, /, run_id: str, **options: Any) -> int:
    """Continue RUN (see `orchestrate history`): build what it did not finish.

    The run's pipeline and options are used again; settings given here take precedence
    (credentials are never stored: give a proxy with credentials again).
    """
    return _resume(run_id, None, _merged(ctx, options))


def state_option(func: F) -> F:
    """--state-dir for the commands that only read or tidy the state directory."""
    return _setting_option(OPTION_BY_NAME["state_dir"])(func)


@cli.command("history")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many runs to list.",
)
@click.option(
    "--pipeline",
    "pipeline",
    type=click.Path(path_type=Path),
    default=None,
    help="Only runs of this pipeline file.",
)
@state_option
@click.pass_context
def history_cmd(ctx: click.Context, /, limit: int, pipeline: Path | None, **options: Any) -> int:
    """List recent runs, newest first, with their result and node counts."""
    state_dir = _state_dir(None, _merged(ctx, options))
    with History(state_dir) as history:
        key = str(pipeline.resolve()) if pipeline is not None else None
        records = history.runs(limit=limit, pipeline=key)
        counts = history.status_counts([r.id for r in records])
    click.echo(runs_table(records, counts))
    return 0


@cli.command("show")
@click.argument("run_id", metavar="RUN")
@state_option
@click.pass_context
def show_cmd(ctx: click.Context, /, run_id: str, **options: Any) -> int:
    """Show one run node by node: status, key, image, time, log and error (`latest` for the
    newest run)."""
    state_dir = _state_dir(None, _merged(ctx, options))
    with History(state_dir) as history:
        record = _find_record(history, run_id)
        nodes = history.nodes(record.id)
    click.echo(run_detail(record, nodes))
    return 0


@cli.command("logs")
@click.argument("run_id", metavar="RUN")
@click.argument("node")
@click.option(
    "-n",
    "--tail",
    type=click.IntRange(min=1),
    default=None,
    metavar="LINES",
    help="Only the last LINES lines.",
)
@state_option
@click.pass_context
def logs_cmd(
    ctx: click.Context, /, run_id: str, node: str, tail: int | None, **options: Any
) -> int:
    """Print NODE's build log from RUN (`latest` for the newest run)."""
    state_dir = _state_dir(None, _merged(ctx, options))
    with History(state_dir) as history:
        record = _find_record(history, run_id)
        recorded = {n.node: n.log_path for n in history.nodes(record.id)}
    if node not in record.nodes:
        raise ConfigError(
            "NODE", "", f"run {record.id} has no node {node!r}: {', '.join(record.nodes)}"
        )
    path = Path(recorded.get(node) or Path(record.log_dir) / f"{node}.log")
    if not path.is_file():
        why = "it never started" if node not in recorded else "its logs were pruned"
        raise ConfigError("NODE", "", f"no log of {node} in run {record.id} ({why}): {path}")
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    click.echo("".join(lines[-tail:] if tail else lines), nl=False)
    return 0


def _find_record(history: History, run_id: str) -> RunRecord:
    """A run by id, or the newest for ``latest``."""
    if run_id == "latest":
        newest = history.runs(limit=1)
        if not newest:
            raise ConfigError("RUN", "", f"no runs yet in {history.path}")
        return newest[0]
    record = history.run(run_id)
    if record is None:
        raise ConfigError("RUN", "", f"no run {run_id!r} in {history.path}")
    return record


@cli.command("report")
@click.argument("run_id", metavar="RUN")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@state_option
@click.pass_context
def report_cmd(ctx: click.Context, /, run_id: str, output: Path, **options: Any) -> int:
    """Write one self-contained HTML page about RUN (`latest` for the newest): its DAG, a
    timeline with the critical path and idle workers, and every node with a link to its log."""
    state_dir = _state_dir(None, _merged(ctx, options))
    with History(state_dir) as history:
        record = _find_record(history, run_id)
        nodes = history.nodes(record.id)
    write_report(record, nodes, output)
    click.echo(f"wrote {output}")
    return 0


@cli.command("prune")
@click.option(
    "--keep-runs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Keep the images of this many latest successful runs of each pipeline.",
)
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0),
    default=None,
    metavar="DAYS",
    help="Only remove images built more than DAYS ago.",
)
@click.option(
    "--keep-logs",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Keep the run folders (logs, summaries) of this many latest runs.",
)
@click.option(
    "--logs-older-than",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="DAYS",
    help="Also remove run folders older than DAYS.",
)
@click.option("--dry-run", "dry_run", is_flag=True, help="Only list what would be removed.")
@state_option
@click.pass_context
def prune_cmd(
    ctx: click.Context,
    /,
    keep_runs: int,
    older_than: float | None,
    keep_logs: int,
    logs_older_than: float,
    dry_run: bool,
    **options: Any,
) -> int:
    """Remove superseded images and old run folders.

    An image goes when a newer build of its repository exists, it is not from the latest
    successful run of any pipeline, and (with --older-than) it is old enough. Only images
    orchestrate built are touched, and none while a run is in progress.
    """
    state_dir = _state_dir(None, _merged(ctx, options))
    policy = Policy(
        keep_runs=keep_runs,
        older_than_days=older_than,
        keep_logs=keep_logs,
        logs_older_than_days=logs_older_than,
    )
    with History(state_dir) as history:
        plan = plan_prune(history, state_dir, policy, now=time.time(), image_key=image_key)
        if plan.live_runs:
            click.echo(f"run in progress ({', '.join(plan.live_runs)}): images are kept")
        if dry_run:
            lines = [
                f"would remove image {b.image} ({b.node}, run {b.run_id})" for b in plan.images
            ]
            lines += [f"would remove run folder {p}" for p in plan.run_dirs]
        else:
            engine.require_tool("buildah")
            lines = apply_prune(
                plan, history, remove_image=lambda ref: engine.capture(["buildah", "rmi", ref])
            )
    click.echo("\n".join(lines) if lines else "nothing to prune")
    return 0


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
    click.echo(render(graph_for(resolved, build.selection_of(options)), fmt))
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
