"""``registry prune``: the registry's dated release tags, kept to a number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import SELECTION, options, request_of
from orchestrator.cli.group import cli
from orchestrator.engine.runner import ShRunner, require_tool
from orchestrator.errors import ConfigError
from orchestrator.execution.engines import lookaside_of, registry_of
from orchestrator.execution.retention import NodePrune, prune_pipeline, report
from orchestrator.loading.load import find_pipeline, load
from orchestrator.planning.graph import graph_for


@cli.group("registry")
def registry_group() -> None:
    """What orchestrate keeps in the registry."""


@registry_group.command("prune")
@click.argument("pipeline", required=False, type=click.Path(path_type=Path))
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    metavar="N",
    help="How many dated tags (a tag template with {date}, e.g. master-{date}) to keep per "
    "image, the newest. Default: the pipeline's retention.keep.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@options(
    *SELECTION, "profiles_dir", "registry", "tls_verify", "cert_dir", "authfile", "lookaside",
    "state_dir",
)  # fmt: skip
@click.pass_context
def prune_cmd(
    ctx: click.Context, /, pipeline: Path | None, keep: int | None, dry_run: bool, **values: Any
) -> int:
    """Delete the older dated release tags of PIPELINE's images in the registry, keeping the
    KEEP newest of each image, with each deleted image's SBOM artifact and its signatures in
    the lookaside. A registry deletes manifests, not tags: an older tag whose image another
    tag (master, 2026.1, any tag but a dated, SBOM or key tag) or a kept tag still points to
    is held, never deleted.
    Prints what it deleted (with --dry-run, what it would delete) and what it held. A
    pipeline with retention: {keep: N} is pruned so after each promotion."""
    request = request_of(ctx, values, pipeline)
    path = find_pipeline(pipeline)
    resolved = load(path, request.profiles_dir)
    keep = keep or resolved.pipeline.retention
    if keep is None:
        raise ConfigError("--keep", "", f"pass --keep N or set retention.keep in {path}")
    settings = request.settings(resolved.pipeline.settings)
    registry = registry_of(settings, ShRunner())
    if registry is None:
        raise ConfigError(
            "registry", "", "no registry to prune: pass --registry or set ORCHESTRATE_REGISTRY"
        )
    require_tool("skopeo")
    graph = graph_for(resolved, request.selection)
    lookaside = lookaside_of(settings)
    results: list[NodePrune] = []
    try:
        # One repository per image: a multi-platform graph has a node per platform.
        prune_pipeline(
            resolved,
            (str(graph.nodes[n].get("image", n)) for n in graph.nodes),
            registry,
            registry_url=settings.registry,
            keep=keep,
            dry_run=dry_run,
            lookaside=lookaside,
            results=results,
        )
    finally:  # what was deleted is said, also when the registry failed halfway
        for line in report(results, dry_run=dry_run):
            click.echo(line)
    return 0
