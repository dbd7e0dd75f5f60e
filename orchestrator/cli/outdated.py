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
from orchestrator.errors import EXIT_OK, EXIT_OUTDATED
from orchestrator.execution import run
from orchestrator.inspection import outdated as report
from orchestrator.loading.archive import Archive
from orchestrator.loading.load import network_of
from orchestrator.model.options import SETTINGS
from orchestrator.model.pipeline import BaseSpec
from orchestrator.model.states import NodeKind
from orchestrator.workflows.outdated import outdated

PIPELINE_SUFFIXES = (".yaml", ".yml")


@cli.command("outdated")
@click.argument("targets", nargs=-1, metavar="[PIPELINE|IMAGE...]")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@options(*SELECTION, "profiles_dir", *(o.name for o in SETTINGS))
@click.pass_context
def outdated_cmd(
    ctx: click.Context, /, targets: tuple[str, ...], as_json: bool, **values: Any
) -> int:
    """For each image of PIPELINE (its local key images; default: the full stack) or each
    local IMAGE: every installed Debian package with a newer version in the suites the image
    was built from (its apt sources: the suite, -updates, -security), and whether that is a
    security update; for a pipeline, every Python distribution whose version differs from
    the pipeline's current upper-constraints and toolchain pins. Reads each image's SBOM and
    the archive's indexes (cached by their Release hashes). Exits 0 when nothing is outdated,
    6 when something is."""
    pipeline_mode = not targets or (len(targets) == 1 and targets[0].endswith(PIPELINE_SUFFIXES))
    notes: list[str] = []
    if pipeline_mode:
        prepared = run.prepare(
            request_of(ctx, values, Path(targets[0]) if targets else None), check_tools=False
        )
        settings, runner = prepared.settings, ShRunner(prepared.storage_conf)
        require_tool("buildah")
        storage = Storage(runner)
        images = []
        for node, plan in prepared.plans.items():
            if plan.kind is NodeKind.MANIFEST:
                continue
            if storage.image_id(plan.image) is None:
                notes.append(f"{node}: not built ({plan.image} is not in local storage)")
            else:
                images.append((node, plan.image))
        pipeline = prepared.resolved.pipeline
        pins = "\n".join([pipeline.constraints.upper.read_text(), *pipeline.toolchain.builder()])
        mirror = pipeline.base.mirror
    else:
        settings = request_of(ctx, values, None).settings({})
        runner = ShRunner()
        require_tool("buildah")
        images = [(image, image) for image in targets]
        pins, mirror = None, BaseSpec.mirror
    mirrors = {mirror.rstrip("/"): settings.apt_mirror} if settings.apt_mirror else {}
    archive = Archive(network_of(settings), settings.state_dir / "archive", mirrors)
    reports = outdated(
        images, runner, archive, upper_constraints=pins, run_id=new_run_id(datetime.now(UTC))
    )
    if as_json:
        click.echo(json.dumps({**report.as_json(reports), "notes": notes}, indent=2))
    else:
        click.echo(report.render(reports))
        for note in notes:
            click.echo(note)
    return EXIT_OUTDATED if any(r.outdated for r in reports) else EXIT_OK
