"""Commands about pipeline files: ``graph``, ``export``, ``list`` and ``validate``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import SELECTION, options, output_option, request_of
from orchestrator.cli.group import cli
from orchestrator.errors import (
    EXIT_USAGE,
    ConfigError,
    OrchestrateError,
)
from orchestrator.exporting import FORMATS
from orchestrator.exporting import render as render_export
from orchestrator.exporting.spec import checkout_path, from_graph
from orchestrator.files import write_atomically
from orchestrator.loading.load import DEFAULT_PIPELINE, check_output, find_pipeline, load
from orchestrator.model.catalog import load_catalog
from orchestrator.model.profiles import load_profile, looks_like_profile
from orchestrator.model.request import Request
from orchestrator.planning.describe import describe_nodes
from orchestrator.planning.graph import graph_for, render


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
@output_option()
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
    request = request_of(ctx, values, Path(given_path))
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
        gate=bool(resolved.pipeline.gate),
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
    click.echo("\n".join(describe_nodes(resolved, graph_for(resolved))))
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
