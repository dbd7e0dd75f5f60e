"""``outdated``: which images have newer Debian packages available, or pins that moved."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import SELECTION, options, request_of
from orchestrator.cli.group import cli
from orchestrator.engine.naming import new_run_id
from orchestrator.engine.runner import ShRunner, require_tool
from orchestrator.engine.storage import Storage
from orchestrator.errors import EXIT_OK, EXIT_OUTDATED, ConfigError
from orchestrator.execution.retention import undated_tags
from orchestrator.inspection import outdated as report
from orchestrator.inspection.image_contents import require_local
from orchestrator.loading.archive import Archive, mirror_map
from orchestrator.loading.load import fetch_constraints, find_pipeline, load, network_of
from orchestrator.model.pipeline import BaseSpec
from orchestrator.model.request import Selection
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.model.settings import Settings
from orchestrator.model.states import NodeKind
from orchestrator.planning.graph import graph_for
from orchestrator.records.history import History
from orchestrator.workflows.outdated import outdated

PIPELINE_SUFFIXES = (".yaml", ".yml")


@cli.command("outdated")
@click.argument("targets", nargs=-1, metavar="[PIPELINE|IMAGE...]")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@options(
    *SELECTION, "profiles_dir", "state_dir", "namespace", "apt_mirror", "http_proxy",
    "https_proxy", "ca_bundle",
)  # fmt: skip
@click.pass_context
def outdated_cmd(
    ctx: click.Context, /, targets: tuple[str, ...], as_json: bool, **values: Any
) -> int:
    """For each image of PIPELINE (each node's newest local image, as the history knows it;
    default: the full stack) or each local IMAGE: every installed Debian package with a newer
    version in the suites the image was built from (its apt sources: the suite, -updates,
    -security), and whether that is a security update; for a pipeline, every Python
    distribution whose version differs from the pipeline's current upper-constraints and
    toolchain pins. Reads each image's SBOM and the archive's indexes (cached by their
    Release hashes); starts nothing, builds nothing. Exits 0 when nothing is outdated, 6 when
    something is."""
    pipelines = [t for t in targets if t.endswith(PIPELINE_SUFFIXES)]
    if pipelines and len(targets) > 1:
        raise ConfigError(
            "outdated", "", f"give one PIPELINE or IMAGEs, not both: {', '.join(targets)}"
        )
    request = request_of(ctx, values, Path(pipelines[0]) if pipelines else None)
    notes: list[str] = []
    if targets and not pipelines:
        if request.selection != Selection():
            raise ConfigError("--only/--skip/--match", "", "select nodes of a PIPELINE, not images")
        settings = request.settings({})
        require_tool("buildah")
        storage = Storage(ShRunner())
        for image in targets:
            require_local(storage, image, image)
        images = [(image, image) for image in targets]
        pins, mirror = None, BaseSpec.mirror
    else:
        resolved = load(find_pipeline(request.pipeline), request.profiles_dir)
        settings = request.settings(resolved.pipeline.settings)
        resolved = fetch_constraints(resolved, settings)
        require_tool("buildah")
        images, notes = _pipeline_images(resolved, settings, request.selection)
        pipeline = resolved.pipeline
        pins = "\n".join([pipeline.constraints.upper.read_text(), *pipeline.toolchain.builder()])
        mirror = pipeline.base.mirror
    mirrors = mirror_map(mirror, settings.apt_mirror)
    archive = Archive(network_of(settings), settings.state_dir / "archive", mirrors)
    reports = outdated(
        images, ShRunner(), archive, upper_constraints=pins, run_id=new_run_id(datetime.now(UTC))
    )
    if archive.stale:
        notes.append(
            "archive unreachable: compared with the Release files an earlier run read "
            f"({', '.join(archive.stale)})"
        )
    if as_json:
        click.echo(json.dumps({**report.as_json(reports), "notes": notes}, indent=2))
    else:
        click.echo(report.render(reports))
        for note in notes:
            click.echo(note)
    return EXIT_OUTDATED if any(r.outdated for r in reports) else EXIT_OK


def _pipeline_images(
    resolved: ResolvedPipeline, settings: Settings, selection: Selection
) -> tuple[list[tuple[str, str]], list[str]]:
    """Each selected node's newest local image: the last build the history records for its
    repository (per platform), else its local release tag; and a note for each node that has
    none.

    Raises:
        ConfigError: not one of them is in local storage.
    """
    graph = graph_for(resolved, selection)
    storage = Storage(ShRunner())
    namespace = settings.namespace.rstrip("/")
    found, notes = [], []
    with History(settings.state_dir) as history:
        for node in graph.nodes:
            attributes = graph.nodes[node]
            if attributes.get("kind") is NodeKind.MANIFEST:
                continue
            repository = f"{namespace}/{attributes.get('image', node)}"
            platform = str(attributes.get("platform", ""))
            record = history.last_build(repository, {"platform": platform} if platform else None)
            candidates = [record.image] if record is not None else []
            candidates += [
                f"{repository}:{tag}"
                for tag in undated_tags(
                    resolved.pipeline.tags, release=resolved.pipeline.release, node=node
                )
            ]
            image = next((c for c in candidates if storage.image_id(c) is not None), None)
            if image is None:
                notes.append(f"{node}: not built here (no image of {repository} in local storage)")
            else:
                found.append((node, image))
    if not found:
        raise ConfigError(
            str(resolved.pipeline.path),
            "",
            "no image of the pipeline is in local storage: build it first",
        )
    return found, notes
