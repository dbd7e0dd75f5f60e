"""``provenance verify``: whether an image's signed provenance is its own and agrees with its
SBOM."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import local_storage, options, request_of
from orchestrator.cli.group import cli
from orchestrator.engine.buildah import RegistryAccess
from orchestrator.engine.naming import new_run_id
from orchestrator.engine.registry import Registry
from orchestrator.engine.runner import ShRunner, require_tool
from orchestrator.errors import EXIT_PROVENANCE
from orchestrator.provenance import check, keys, lookup
from orchestrator.provenance.envelope import EnvelopeError, open_envelope


@cli.group("provenance")
def provenance_group() -> None:
    """The signed SLSA provenance of each image (how it was made)."""


@provenance_group.command("verify")
@click.argument("target", metavar="IMAGE|REF")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The site's public key (PEM), e.g. provenance.pub as `orchestrate trust` writes it.",
)
@click.option(
    "--envelope",
    "envelope_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the envelope from this file instead of the registry (REF) or this host's "
    "record (IMAGE).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verified statement as JSON.")
@options("tls_verify", "cert_dir", "authfile", "state_dir")
@click.pass_context
def verify_cmd(
    ctx: click.Context,
    /,
    target: str,
    key_path: Path,
    envelope_file: Path | None,
    as_json: bool,
    **values: Any,
) -> int:
    """Check IMAGE's (local) or REF's (in a registry) provenance: the DSSE envelope is signed
    by the key, its subject is the image's manifest digest, and its materials agree with the
    image's SBOM (cache key, constraints, source digest, every wheel's sha256). Exits 0, or 7
    with one line naming the first thing that does not match."""
    require_tool("skopeo")
    key = keys.load_public(key_path)
    settings = request_of(ctx, values, None).settings({})
    found = lookup.local(local_storage(), target, settings.state_dir, new_run_id(datetime.now(UTC)))
    if found is None:
        access = RegistryAccess(
            tls_verify=settings.tls_verify, cert_dir=settings.cert_dir, authfile=settings.authfile
        )
        found = lookup.remote(Registry(ShRunner(), access), target)
    if found is None:
        return _refuse(target, "no such image here and no such manifest in a registry")
    data = envelope_file.read_bytes() if envelope_file else found.envelope
    if data is None:
        return _refuse(target, f"no provenance: none at {found.looked_in}")
    try:
        statement = open_envelope(data, key)
    except EnvelopeError as exc:
        return _refuse(target, f"signature: {exc}")
    mismatch = check.first_mismatch(statement, found.digest, found.sbom)
    if mismatch is not None:
        return _refuse(target, str(mismatch))
    if as_json:
        click.echo(json.dumps(statement, indent=2))
        return 0
    predicate = statement["predicate"]
    materials = predicate["buildDefinition"]["resolvedDependencies"]
    wheels = sum(1 for m in materials if str(m.get("name", "")).startswith("wheel:"))
    made = len(predicate["runDetails"].get("byproducts", []))
    run = predicate["runDetails"]["metadata"].get("invocationId", "?")
    version = predicate["runDetails"]["builder"].get("version", {}).get("orchestrate", "?")
    sbom = "agrees with its SBOM" if found.sbom else "(the image carries no SBOM to compare)"
    click.echo(
        f"{target} ({found.digest}): provenance verified with key {key.keyid[:16]}: "
        f"subject matches; what it names ({len(materials)} materials, {wheels} of them "
        f"wheels; {made} byproducts) {sbom}; built in run {run} by orchestrate {version}"
    )
    return 0


def _refuse(target: str, why: str) -> int:
    click.echo(f"orchestrate provenance verify: {target}: {why}", err=True)
    return EXIT_PROVENANCE
