"""The ``orchestrate`` command line: parse flags, build the request, call, map errors.

``orchestrate --parallel 9`` builds pipelines/full-stack.yaml; ``orchestrate build PIPELINE``
builds any other. Every flag comes from the option table (:mod:`orchestrator.model.options`).
Exit codes: 0 all good, 1 a node failed, 2 bad usage or config, 70 an internal error (a bug;
the traceback goes to a file under the state directory), 130 interrupted. Only :func:`main`
catches errors.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from orchestrator.engine import naming, signing
from orchestrator.engine.emulation import host_platform
from orchestrator.engine.naming import RUN_ID_RE, new_run_id
from orchestrator.engine.runner import ShRunner, require_tool
from orchestrator.engine.storage import Storage
from orchestrator.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ConfigError,
    OrchestrateError,
)
from orchestrator.execution import run
from orchestrator.exporting import FORMATS
from orchestrator.exporting import render as render_export
from orchestrator.exporting.spec import checkout_path, from_graph
from orchestrator.files import write_atomically
from orchestrator.inspection import image_contents, image_diff, sbom
from orchestrator.inspection.wheel_index import export_wheels
from orchestrator.loading.load import DEFAULT_PIPELINE, check_output, find_pipeline, load
from orchestrator.logsetup import configure_logging
from orchestrator.model.catalog import load_catalog
from orchestrator.model.options import OPTIONS, SETTINGS, Option, default_state_dir, given
from orchestrator.model.pipeline import BUILDER_NODE, REQUIREMENTS_NODE, SHARED_NODE
from orchestrator.model.pipeline_file import load_pipeline
from orchestrator.model.profiles import load_profile, looks_like_profile
from orchestrator.model.request import Request
from orchestrator.planning.graph import graph_for, order, render
from orchestrator.records import resume
from orchestrator.records.history import History
from orchestrator.records.housekeeping import clean_up_dead_runs, find_record, log_of
from orchestrator.records.prune import Policy, apply_prune, plan_prune
from orchestrator.redaction import redact
from orchestrator.reporting.console import report_run
from orchestrator.reporting.history_view import run_detail, runs_table
from orchestrator.reporting.html import write_report
from orchestrator.workflows import verify

F = Callable[..., Any]

SELECTION = tuple(o.name for o in OPTIONS if o.scope == "selection")
BUILD = (
    *(o.name for o in SETTINGS),
    *SELECTION,
    "profiles_dir",
    "dry_run",
    "no_cache",
    "no_cache_for",
    "summary_json",
    "junit",
)
OUTPUT = ("log_format", "progress", "verbose")


def _storage(storage_conf: Path | None = None) -> Storage:
    """Local image storage, through buildah: that of ``storage_conf`` (a run's
    ``storage_root``), else the host's."""
    return Storage(ShRunner(storage_conf))


def _click_option(option: Option) -> Callable[[F], F]:
    help_text = option.help + (f" [env: {option.env}]" if option.has_env else "")
    names = [option.short] if option.short else []
    match option.kind:
        case "bool":
            decls = [f"{option.flag}/--no-{option.flag[2:]}", option.name]
            return click.option(*decls, default=None, help=help_text)
        case "flag":
            return click.option(
                *names, option.flag, option.name, is_flag=True, default=None, help=help_text
            )
        case "int":
            kind: click.ParamType[Any] = click.IntRange(min=option.minimum)
        case "choice":
            kind = click.Choice(option.choices)
        case "path":
            kind = click.Path(path_type=Path)
        case "list" | "names":
            return click.option(
                option.flag, option.name, multiple=True, metavar=option.metavar, help=help_text
            )
        case "str":
            kind = click.STRING
    if option.scope != "setting" and option.default is not None:
        help_text += f"  [default: {option.default}]"
    return click.option(
        *names,
        option.flag,
        option.name,
        type=kind,
        default=None,
        metavar=option.metavar,
        help=help_text,
    )


def options(*names: str) -> Callable[[F], F]:
    """Add these options of the table to a command, in the table's order."""

    def decorate(func: F) -> F:
        for option in reversed([o for o in OPTIONS if o.name in names]):
            func = _click_option(option)(func)
        return func

    return decorate


def _given(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """Subcommand options over the group's (``orchestrate --parallel 4 build X`` works too)."""
    return {**(ctx.obj or {}), **given(values)}


def _request(ctx: click.Context, values: dict[str, Any], pipeline: Path | None) -> Request:
    return Request.from_options(_given(ctx, values), environ=os.environ, pipeline=pipeline)


def _state_dir(ctx: click.Context, values: dict[str, Any], pipeline: Path | None = None) -> Path:
    """The state directory from the flags, the environment, PIPELINE's settings if given."""
    request = _request(ctx, values, pipeline)
    pipeline_settings = load_pipeline(pipeline).settings if pipeline is not None else {}
    return request.settings(pipeline_settings).state_dir


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@options(*OUTPUT, *BUILD)
@click.version_option(package_name="orchestrate")
@click.pass_context
def cli(ctx: click.Context, /, **values: Any) -> int | None:
    """Build the OCI images of an OpenStack cloud with buildah, as one DAG.

    Without a command, builds pipelines/full-stack.yaml: base, requirements (wheels) and the
    nine service images, e.g. `orchestrate --parallel 9`.
    """
    request = Request.from_options(values, environ=os.environ)
    configure_logging(request.display.log_format, verbose=request.display.verbose)
    ctx.obj = request.given
    if ctx.invoked_subcommand is None:
        return _build(request)
    return None


@cli.command("build")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options(*BUILD)
@click.option(
    "--resume",
    "resume_run",
    is_flag=True,
    help="Continue the last run (of PIPELINE, if given) that failed, was interrupted or "
    "killed: only its unfinished nodes are built.",
)
@click.pass_context
def build_cmd(ctx: click.Context, /, pipeline: Path | None, resume_run: bool, **values: Any) -> int:
    """Build PIPELINE (default: pipelines/full-stack.yaml)."""
    if resume_run:
        return _resume(ctx, values, None, pipeline)
    return _build(_request(ctx, values, pipeline))


def _build(request: Request, **resumed: Any) -> int:
    prepared = run.prepare(request, check_tools=not request.dry_run)
    if request.dry_run:
        click.echo("\n".join(run.explain(prepared, _storage(prepared.storage_conf))))
        return 0
    result = run.execute(prepared, ShRunner(prepared.storage_conf), **resumed)
    report_run(
        result,
        prepared.nodes,
        pipeline=prepared.path,
        pipeline_name=prepared.resolved.pipeline.name,
        run_dir=prepared.run_dir,
        outputs=request.outputs,
    )
    return result.exit_code


def _resume(
    ctx: click.Context, values: dict[str, Any], run_id: str | None, pipeline: Path | None
) -> int:
    given = _given(ctx, values)
    state_dir = _state_dir(ctx, values, pipeline)
    dry_run = bool(given.get("dry_run"))
    history = History.existing(state_dir) if dry_run else History(state_dir)
    if history is None:
        raise ConfigError("--resume", "", f"no runs yet in {state_dir}: nothing to resume")
    with history:
        if not dry_run:  # a dry run changes nothing, dead runs' leftovers included
            clean_up_dead_runs(history, _storage())
        record = resume.find_run(history, run_id, pipeline)
        request = resume.resumed_request(history, record, given, os.environ)
        done_before = resume.finished_nodes(history, record)
    if request.dry_run:
        click.echo(f"would resume run {record.id} ({record.result}) of {request.pipeline}")
        return _build(request)
    click.echo(f"resuming run {record.id} ({record.result}) of {request.pipeline}")
    return _build(request, resumed_from=record.id, done_before=done_before)


@cli.command("plan")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options(*SELECTION, "profiles_dir", "no_cache", "no_cache_for", *(o.name for o in SETTINGS))
@click.pass_context
def plan_cmd(ctx: click.Context, /, pipeline: Path | None, **values: Any) -> int:
    """Print each node's key, image and every buildah command it would run, then whether
    each will be built or reused, and why: which of its inputs changed since its last build."""
    return _build(_request(ctx, {**values, "dry_run": True}, pipeline))


@cli.command("promote")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options(*SELECTION, "profiles_dir", *(o.name for o in SETTINGS))
@click.pass_context
def promote_cmd(ctx: click.Context, /, pipeline: Path | None, **values: Any) -> int:
    """Point the release tags of PIPELINE's selected nodes at their key tags in the registry,
    only if every one of those key tags is there (nothing moves otherwise): the last job of
    a pipeline that built one node per job (see `orchestrate export`)."""
    request = _request(ctx, values, pipeline)
    prepared = run.prepare(request, check_tools=False)
    require_tool("skopeo")
    for line in run.promote_release_tags(prepared, ShRunner(prepared.storage_conf)):
        click.echo(f"promoted: {line}")
    return 0


@cli.command("trust")
@click.argument("dest", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--lookaside-url",
    metavar="URL",
    default=None,
    help="Where pullers read the signatures: the lookaside folder served over https:// "
    "(or file:// on a shared disk) [default: file:// of the lookaside folder].",
)
@options("registry", "sign_by", "lookaside", "state_dir")
@click.pass_context
def trust_cmd(ctx: click.Context, /, dest: Path, lookaside_url: str | None, **values: Any) -> int:
    """Write what makes podman, buildah and skopeo pull only signed images from the registry:
    DIR/policy.json (images under the registry prefix must be signed by the sign_by key;
    others as before) and DIR/registries.d/orchestrate.yaml (where their signatures are).
    Install them as /etc/containers/policy.json (merged with yours) and in
    /etc/containers/registries.d/."""
    settings = _request(ctx, values, None).settings({})
    scope, fingerprint = settings.registry, settings.sign_by
    if not scope or not fingerprint:
        raise ConfigError("trust", "", "needs --registry and --sign-by (or their variables)")
    url = lookaside_url or f"file://{run.lookaside_of(settings).resolve()}"
    public_key = signing.public_key(ShRunner(), fingerprint)
    write_atomically(dest / "policy.json", json.dumps(signing.policy(scope, public_key), indent=2))
    write_atomically(dest / "registries.d" / "orchestrate.yaml", signing.registries_d(scope, url))
    click.echo(
        f"{dest}/policy.json: images under {scope} must be signed by {fingerprint}\n"
        f"{dest}/registries.d/orchestrate.yaml: their signatures are read from {url}"
    )
    return 0


def _limit_option(per: str) -> Callable[[F], F]:
    """``--limit``: how many differing items ``diff`` and ``verify`` show."""
    return click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=50,
        show_default=True,
        help=f"Show at most this many differing items {per} (0: all).",
    )


@cli.command("diff")
@click.argument("image_a", metavar="IMAGE_A")
@click.argument("image_b", metavar="IMAGE_B")
@_limit_option("per kind")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff_cmd(image_a: str, image_b: str, limit: int, as_json: bool) -> int:
    """Compare two local images: distro packages (versions), Python distributions (versions,
    per site folder) and files (type, mode, owner, content; not times), e.g. yesterday's
    nightly and today's. Exits 0 when they are the same, 1 when they differ (as diff does)."""
    found = image_diff.diff_images(
        image_a, image_b, ShRunner(), run_id=new_run_id(datetime.now(UTC))
    )
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
    else:
        click.echo(image_diff.render(found, limit=limit))
    return 0 if found.identical else 1


@cli.command("verify")
@click.argument("target", metavar="[RUN|IMAGE]", required=False)
@options("state_dir")
@_limit_option("per kind and node")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option("--keep", is_flag=True, help="Keep the scratch storage and state (path printed).")
@click.pass_context
def verify_cmd(
    ctx: click.Context, /, target: str | None, limit: int, as_json: bool, keep: bool, **values: Any
) -> int:
    """Rebuild a run's images (RUN, `latest`, or the run that built IMAGE; default: the newest
    run) from nothing in a scratch storage, as of the run's date and with apt held to the
    package versions each image holds, and compare: `identical` when the rebuilt image has
    the same id (config digest, hence every layer's), else the files, packages, Python
    distributions, config fields and layer entries that differ. Exits 0 when every node is
    identical, 1 when one differs or could not be rebuilt, 130 when interrupted."""
    require_tool("buildah")
    require_tool("skopeo")  # reads layer archives where two images differ
    state_dir = _state_dir(ctx, values)
    with History(state_dir) as history:
        found = verify.find_target(history, _storage(), target)
    click.echo(
        f"verifying run {found.record.id}: rebuilding {', '.join(found.originals)} "
        "from nothing in a scratch storage",
        err=True,
    )
    verdicts, rebuild, scratch = verify.verify(
        found, ShRunner, state_dir=state_dir, environ=os.environ, keep=keep
    )
    if as_json:
        click.echo(json.dumps([v.as_dict() for v in verdicts], indent=2))
    else:
        click.echo(verify.render(verdicts, limit=limit))
    if keep:
        click.echo(f"scratch storage and state kept in {scratch}", err=True)
    if rebuild is not None and rebuild.interrupted:
        return EXIT_INTERRUPTED
    return 0 if all(v.result == verify.IDENTICAL for v in verdicts) else 1


@cli.command("sbom")
@click.argument("image", required=False)
@click.option("--container", metavar="NAME", help="A working container instead of an image.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file (atomically) instead of stdout.",
)
@click.option("--name", default=None, help="The image's name in the SBOM [default: IMAGE].")
@click.option("--version", "version", default="", help="The image's version in the SBOM.")
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="NAME=VALUE",
    help="A property of the image (orchestrate:NAME), e.g. key=...; repeatable.",
)
def sbom_cmd(
    image: str | None,
    container: str | None,
    output: Path | None,
    name: str | None,
    version: str,
    properties: tuple[str, ...],
) -> int:
    """The CycloneDX 1.6 SBOM of a local IMAGE (or a working container): every dpkg package
    and Python distribution with versions, licences where known and wheel hashes, the
    project's source. Builds write it into every image at /etc/image_info/sbom.cdx.json."""
    if (image is None) == (container is None):
        raise ConfigError("sbom", "", "give an IMAGE or --container NAME, not both")
    props = {}
    for item in properties:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError("--property", "", f"expected NAME=VALUE, got {item!r}")
        props[key] = value
    runner = ShRunner()
    storage = Storage(runner)
    label = name or image or container or ""
    if container is not None:
        with storage.mounted_container(container) as root:
            text = sbom.sbom_json(root, name=label, version=version, properties=props)
    else:
        assert image is not None
        image_contents.require_local(storage, image, "IMAGE")
        throwaway = naming.container_name(new_run_id(datetime.now(UTC)), "sbom")
        with storage.mounted(image, throwaway) as root:
            text = sbom.sbom_json(root, name=label, version=version, properties=props)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomically(output, text)
    return 0


@cli.command("resume")
@click.argument("run_id", metavar="RUN")
@options(*(o.name for o in SETTINGS), "dry_run")
@click.pass_context
def resume_cmd(ctx: click.Context, /, run_id: str, **values: Any) -> int:
    """Continue RUN (see `orchestrate history`; `latest` for the newest): build what it did
    not finish.

    The run's pipeline and options are used again; settings given here take precedence
    (credentials are never stored: give a proxy with credentials again).
    """
    return _resume(ctx, values, run_id, None)


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
@options("state_dir")
@click.pass_context
def history_cmd(ctx: click.Context, /, limit: int, pipeline: Path | None, **values: Any) -> int:
    """List recent runs, newest first, with their result and node counts."""
    with History(_state_dir(ctx, values)) as history:
        key = str(pipeline.resolve()) if pipeline is not None else None
        records = history.runs(limit=limit, pipeline=key)
        counts = history.status_counts([r.id for r in records])
    click.echo(runs_table(records, counts))
    return 0


@cli.command("show")
@click.argument("run_id", metavar="RUN")
@options("state_dir")
@click.pass_context
def show_cmd(ctx: click.Context, /, run_id: str, **values: Any) -> int:
    """Show one run node by node: status, key, image, time, log and error (`latest` for the
    newest run)."""
    with History(_state_dir(ctx, values)) as history:
        record = find_record(history, run_id)
        nodes = history.nodes(record.id)
    click.echo(run_detail(record, nodes))
    return 0


@cli.group("wheels")
def wheels_group() -> None:
    """The wheels image: export it as a package index."""


@wheels_group.command("export")
@click.argument("source", metavar="RUN|IMAGE")
@click.argument("dest", metavar="DIR", type=click.Path(path_type=Path))
@options("state_dir")
@click.pass_context
def wheels_export_cmd(ctx: click.Context, /, source: str, dest: Path, **values: Any) -> int:
    """Write the wheels image of RUN (a run id, or `latest`) or IMAGE as a PEP 503 simple
    index in DIR (new or empty): DIR/simple/<project>/ with sha256 fragments, DIR/wheels/,
    the resolved pins (DIR/resolved.txt) and the constraints (DIR/constraints/). Use it with
    `pip install --index-url file://DIR/simple` or any static web server."""
    image = source
    if RUN_ID_RE.match(source) or source == "latest":
        with History(_state_dir(ctx, values)) as history:
            record = find_record(history, source)
            nodes = {n.node: n for n in history.nodes(record.id)}
        # Of a run of several platforms, this host's wheels (another's: pass its IMAGE).
        native = f"{REQUIREMENTS_NODE}{host_platform().suffix}"
        node = nodes.get(native) or nodes.get(REQUIREMENTS_NODE)
        if node is None or not node.image:
            raise ConfigError("RUN", "", f"run {record.id} has no wheels image (requirements)")
        image = node.image
    done = export_wheels(image, dest, ShRunner(), run_id=new_run_id(datetime.now(UTC)))
    click.echo(
        f"{done.wheels} wheels of {done.projects} projects from {image} in {done.path}: "
        f"pip install --index-url file://{done.path.resolve()}/simple"
    )
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
@options("state_dir")
@click.pass_context
def logs_cmd(ctx: click.Context, /, run_id: str, node: str, tail: int | None, **values: Any) -> int:
    """Print NODE's build log from RUN (`latest` for the newest run)."""
    with History(_state_dir(ctx, values)) as history:
        path = log_of(history, find_record(history, run_id), node)
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    click.echo("".join(lines[-tail:] if tail else lines), nl=False)
    return 0


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
@options("state_dir")
@click.pass_context
def report_cmd(ctx: click.Context, /, run_id: str, output: Path, **values: Any) -> int:
    """Write one self-contained HTML page about RUN (`latest` for the newest): its DAG, a
    timeline with the critical path and idle workers, and every node with a link to its log."""
    check_output("--output", output)
    with History(_state_dir(ctx, values)) as history:
        record = find_record(history, run_id)
        nodes = history.nodes(record.id)
    try:
        write_report(record, nodes, output)
    except OSError as exc:
        raise ConfigError("--output", "", f"cannot write {output}: {exc.strerror}") from None
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
@options("state_dir")
@click.pass_context
def prune_cmd(
    ctx: click.Context,
    /,
    keep_runs: int,
    older_than: float | None,
    keep_logs: int,
    logs_older_than: float,
    dry_run: bool,
    **values: Any,
) -> int:
    """Remove superseded images and old run folders.

    An image goes when a newer build of its repository exists, it is not from the latest
    successful run of any pipeline, and (with --older-than) it is old enough. Only images
    orchestrate built are touched, and none while a run is in progress.
    """
    policy = Policy(
        keep_runs=keep_runs,
        older_than_days=older_than,
        keep_logs=keep_logs,
        logs_older_than_days=logs_older_than,
    )
    storage = _storage()
    with History(_state_dir(ctx, values)) as history:
        plan = plan_prune(
            history,
            policy,
            now=time.time(),
            image_key=storage.key_of,
            host=host_platform().name,
        )
        if plan.live_runs:
            click.echo(f"run in progress ({', '.join(plan.live_runs)}): images are kept")
        if dry_run:
            lines = [
                f"would remove image {b.image} ({b.node}, run {b.run_id})" for b in plan.images
            ]
            lines += [f"would remove run folder {p}" for p in plan.run_dirs]
        else:
            require_tool("buildah")
            lines = apply_prune(
                plan, history, remove_image=lambda ref: storage.remove_images([ref])
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
@options(*SELECTION, "profiles_dir")
@click.pass_context
def graph_cmd(ctx: click.Context, /, pipeline: Path | None, fmt: str, **values: Any) -> int:
    """Show the image graph of PIPELINE."""
    request = Request.from_options(values, environ=os.environ, pipeline=pipeline)
    resolved = load(find_pipeline(pipeline), request.profiles_dir)
    click.echo(render(graph_for(resolved, request.selection), fmt))
    return 0


@cli.command("export")
@click.argument("pipeline", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="The CI engine: zuul (one file to load as .zuul.yaml or zuul.d/orchestrate.yaml; "
    "its jobs run this repository's playbooks/zuul/orchestrate.yaml), tekton (a "
    "tekton.dev/v1 Pipeline), argo (an Argo Workflow), gitlab (a .gitlab-ci.yml).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file (atomically) instead of stdout.",
)
@click.option(
    "--job-image",
    metavar="IMAGE",
    default=None,
    help="Image the jobs run in (orchestrate, buildah, git) [default: <registry>/"
    "orchestrate:latest, or localhost/orchestrate/orchestrate:latest without a registry]; "
    "Zuul jobs run on their node instead.",
)
@options(*SELECTION, "profiles_dir", "registry", "tls_verify")
@click.pass_context
def export_cmd(
    ctx: click.Context,
    /,
    pipeline: str | None,
    fmt: str,
    output: Path | None,
    job_image: str | None,
    **values: Any,
) -> int:
    """Write PIPELINE's graph as a Zuul, Tekton, Argo or GitLab CI pipeline.

    The engine then builds it on many hosts: one job per selected node runs `orchestrate
    build PIPELINE --only NODE --push` after its parents' jobs; a last job, after all of
    them, runs `orchestrate promote PIPELINE`. Run it from the repository root: PIPELINE is
    written as given, relative to the checkout the jobs run in. Registry, TLS and
    credentials come from the engine's own parameters and secrets as ORCHESTRATE_*
    variables; no credential is written. Each job keeps its own buildah storage and state
    dir. The secrets each engine needs: docs/ci.md ("CI engines and many hosts" in the
    documentation site, nox -s docs).
    """
    given_path = checkout_path("PIPELINE", pipeline or str(DEFAULT_PIPELINE))
    check_output("--output", output)
    request = _request(ctx, values, Path(given_path))
    profiles_dir = request.profiles_dir
    if profiles_dir is not None:
        checkout_path("--profiles-dir", str(profiles_dir))
    resolved = load(find_pipeline(request.pipeline if pipeline else None), profiles_dir)
    settings = request.settings(resolved.pipeline.settings)
    settings.check("registry")
    spec = from_graph(
        graph_for(resolved, request.selection),
        pipeline=given_path,
        name=resolved.pipeline.name,
        job_image=job_image,
        registry=settings.registry,
        tls_verify=settings.tls_verify,
        selection=request.selection,
        profiles_dir=str(profiles_dir) if profiles_dir is not None else None,
    )
    text = render_export(spec, fmt)
    if output is None:
        click.echo(text, nl=False)
        return 0
    try:
        write_atomically(output, text)
    except OSError as exc:
        raise ConfigError("--output", "", f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}")
    return 0


@cli.command("list")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@options("profiles_dir")
def list_cmd(pipeline: Path | None, profiles_dir: Path | None) -> int:
    """List the nodes of PIPELINE with their project, source and profiles."""
    resolved = load(find_pipeline(pipeline), profiles_dir)
    graph = graph_for(resolved)
    width = max(15, *(len(str(node)) for node in graph))
    for node in order(graph):
        kind = graph.nodes[node]["kind"].value
        image = str(graph.nodes[node]["image"])  # keystone@arm64's and the list's: keystone
        service = resolved.services.get(image)
        if service is not None:
            detail = (
                f"{service.project.pypi} from {service.source.describe()}; profiles: "
                f"{', '.join(service.profiles) or '-'}"
            )
        elif image == REQUIREMENTS_NODE:
            detail = f"wheels ({resolved.pipeline.requirements.scope})"
        elif image == BUILDER_NODE:
            detail = "compilers, -dev packages and the builder venv of the wheels"
        elif image == SHARED_NODE:
            detail = "what two services or more install (layering: shared)"
        elif image in resolved.pipeline.shared_nodes:
            members = ", ".join(resolved.pipeline.shared_nodes[image])
            detail = f"distro packages two or more of {members} install"
        elif image in resolved.children:
            detail = f"FROM {resolved.children[image].parent}"
        else:
            base = resolved.pipeline.base
            detail = base.image if base.kind == "image" else f"mmdebstrap {base.suite}"
        platform = graph.nodes[node]["platform"]
        if resolved.multi_platform:
            detail = f"{platform}: {detail}" if platform else f"manifest list: {detail}"
        click.echo(f"{node:<{width}} {kind:<13} {detail}")
    return 0


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@options("profiles_dir")
def validate_cmd(files: tuple[Path, ...], profiles_dir: Path | None) -> int:
    """Check pipeline and profile files without building; one line per file."""
    bad = 0
    projects = frozenset(load_catalog().projects)
    for path in files:
        try:
            if looks_like_profile(path):
                load_profile(path, projects)
            else:
                graph_for(load(path, profiles_dir))
        except OrchestrateError as exc:
            bad += 1
            click.echo(f"error: {exc}", err=True)
        else:
            click.echo(f"ok: {path}")
    return EXIT_USAGE if bad else 0


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
    except Exception as exc:  # a bug: never reported as a failed build or bad input
        where = _crash_report(exc)
        click.echo(
            f"orchestrate: internal error (a bug in orchestrate): {type(exc).__name__}: "
            f"{redact(str(exc))[:200]}; traceback in {where}; please report it",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else 0)


def _crash_report(exc: BaseException) -> Path:
    """Write the traceback (credentials masked) under the state directory, else /tmp."""
    text = redact("".join(traceback.format_exception(exc)))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    state_dir = os.environ.get("ORCHESTRATE_STATE_DIR") or default_state_dir(os.environ)
    for folder in (Path(state_dir).expanduser(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / name, text, mode=0o600)
            return folder / name
        except OSError:
            continue
    return Path("(nowhere: no writable folder)")


__all__ = ["cli", "main"]
