"""Commands that read or vouch for images: ``trust``, ``diff``, ``verify``, ``sbom`` and
``wheels export``.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import (
    limit_option,
    local_storage,
    options,
    output_option,
    request_of,
    state_dir_of,
)
from orchestrator.cli.group import cli
from orchestrator.engine import naming, signing
from orchestrator.engine.emulation import host_platform
from orchestrator.engine.naming import RUN_ID_RE, new_run_id
from orchestrator.engine.runner import ShRunner, require_tool
from orchestrator.engine.storage import Storage
from orchestrator.errors import (
    EXIT_DOWNGRADE,
    EXIT_INTERRUPTED,
    ConfigError,
)
from orchestrator.execution.engines import any_registry, lookaside_of
from orchestrator.files import write_atomically
from orchestrator.inspection import image_contents, image_diff, published_sbom, sbom, sbom_diff
from orchestrator.inspection.wheel_index import export_wheels
from orchestrator.model.pipeline import AllowedDowngrades
from orchestrator.records.history import History
from orchestrator.records.housekeeping import wheels_image_of
from orchestrator.workflows import verify


@cli.command("trust")
@click.argument("dest", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--lookaside-url",
    metavar="URL",
    default=None,
    help="Where pullers read the signatures: the lookaside folder served over https:// "
    "(or file:// on a shared disk) [default: file:// of the lookaside folder].",
)
@options("registry", "sign_by", "provenance_key", "lookaside", "state_dir")
@click.pass_context
def trust_cmd(ctx: click.Context, /, dest: Path, lookaside_url: str | None, **values: Any) -> int:
    """Write what a consumer of the registry's images installs to trust them. With sign_by:
    DIR/policy.json (podman, buildah and skopeo pull images under the registry prefix only
    when signed by that GPG key; others as before) and DIR/registries.d/orchestrate.yaml
    (where the signatures are); install them as /etc/containers/policy.json (merged with
    yours) and in /etc/containers/registries.d/. With provenance_key: DIR/provenance.pub, the
    public key `orchestrate provenance verify REF --key DIR/provenance.pub` checks each
    image's signed provenance with."""
    settings = request_of(ctx, values, None).settings({})
    scope, fingerprint = settings.registry, settings.sign_by
    provenance_key = settings.provenance_key
    if not provenance_key and (not scope or not fingerprint):
        raise ConfigError(
            "trust", "", "needs --registry and --sign-by, or --provenance-key (or their variables)"
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(str(dest), "", f"cannot write there: {exc.strerror or exc}") from None
    if fingerprint:
        if not scope:
            raise ConfigError("trust", "", "--sign-by needs --registry (or its variable)")
        url = lookaside_url or f"file://{lookaside_of(settings).resolve()}"
        public_key = signing.public_key(ShRunner(), fingerprint)
        policy = json.dumps(signing.policy(scope, public_key), indent=2)
        write_atomically(dest / "policy.json", policy)
        registries_d = signing.registries_d(scope, url)
        write_atomically(dest / "registries.d" / "orchestrate.yaml", registries_d)
        click.echo(
            f"{dest}/policy.json: images under {scope} must be signed by {fingerprint}\n"
            f"{dest}/registries.d/orchestrate.yaml: their signatures are read from {url}"
        )
    if provenance_key:
        from orchestrator.provenance import keys  # cryptography, for this command only

        pem, key_id = keys.public_pem(Path(provenance_key))
        write_atomically(dest / "provenance.pub", pem.decode())
        example = f"{scope}/NODE:TAG" if scope else "REGISTRY/NAMESPACE/NODE:TAG"
        click.echo(
            f"{dest}/provenance.pub: the provenance key ({key_id[:16]}); a consumer checks an "
            f"image with: orchestrate provenance verify {example} --key {dest}/provenance.pub"
        )
    return 0


@cli.command("diff")
@click.argument("image_a", metavar="IMAGE_A|NEW")
@click.argument("image_b", metavar="[IMAGE_B]", required=False)
@click.option(
    "--against",
    metavar="REF",
    help="Compare NEW with the published REF by their SBOMs instead (usually a release tag "
    "in the registry): NEW and REF are each a local image, a registry reference "
    "(REG/repo:tag, REG/repo@sha256:...; the SBOM pushed beside it) or an SBOM file (*.json).",
)
@click.option(
    "--allow-downgrade",
    "allowed",
    multiple=True,
    metavar="NAME",
    help="With --against: a package or distribution whose downgrade does not fail (exit 1, "
    "not 8); repeatable.",
)
@limit_option("per kind")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@options("tls_verify", "cert_dir", "authfile")
@click.pass_context
def diff_cmd(
    ctx: click.Context,
    /,
    image_a: str,
    image_b: str | None,
    against: str | None,
    allowed: tuple[str, ...],
    limit: int,
    as_json: bool,
    **values: Any,
) -> int:
    """Compare two local images: distro packages (versions), Python distributions (versions,
    per site folder) and files (type, mode, owner, content; not times), e.g. yesterday's
    nightly and today's. Exits 0 when they are the same, 1 when they differ (as diff does).

    With --against REF: what NEW changes against the published REF, from their SBOMs: Debian
    packages and Python distributions (per site folder) added, removed, upgraded and
    DOWNGRADED, in Debian's and PEP 440's version order. Exits 0 when they hold the same
    versions, 1 when they differ, 8 when NEW downgrades something --allow-downgrade does not
    name."""
    if against is None:
        if image_b is None:
            raise click.UsageError("give IMAGE_B, or --against REF", ctx=ctx)
        if allowed:
            raise click.UsageError("--allow-downgrade goes with --against REF", ctx=ctx)
        found = image_diff.diff_images(
            image_a, image_b, ShRunner(), run_id=new_run_id(datetime.now(UTC))
        )
        if as_json:
            click.echo(json.dumps(found.as_dict(), indent=2))
        else:
            click.echo(image_diff.render(found, limit=limit))
        return 0 if found.identical else 1
    if image_b is not None:
        raise click.UsageError("give IMAGE_B or --against REF, not both", ctx=ctx)
    settings = request_of(ctx, values, None).settings({})
    runner = ShRunner()
    registry = any_registry(settings, runner)  # REF and NEW are full references
    storage = Storage(runner) if shutil.which("buildah") else None
    old = published_sbom.read_sbom(
        against, registry=registry, storage=storage, argument="--against"
    )
    new = published_sbom.read_sbom(image_a, registry=registry, storage=storage, argument="NEW")
    changes = sbom_diff.diff_sboms(old, new, names=(against, image_a))
    allowance = AllowedDowngrades(names=allowed)
    if as_json:
        click.echo(json.dumps(changes.as_dict(allowance), indent=2))
    else:
        click.echo(sbom_diff.render(changes, allowance=allowance, limit=limit))
    if changes.refused(allowance):
        return EXIT_DOWNGRADE
    return 0 if changes.identical else 1


@cli.command("verify")
@click.argument("target", metavar="[RUN|IMAGE]", required=False)
@options("state_dir")
@limit_option("per kind and node")
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
    state_dir = state_dir_of(ctx, values)
    with History(state_dir) as history:
        found = verify.find_target(history, local_storage(), target)
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
@output_option()
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
        with History(state_dir_of(ctx, values)) as history:
            image = wheels_image_of(history, source, host_platform().suffix)
    done = export_wheels(image, dest, ShRunner(), run_id=new_run_id(datetime.now(UTC)))
    click.echo(
        f"{done.wheels} wheels of {done.projects} projects from {image} in {done.path}: "
        f"pip install --index-url file://{done.path.resolve()}/simple"
    )
    return 0
