"""``provenance verify``: whether an image's signed provenance is its own and agrees with its
SBOM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.flags import local_storage, options, request_of
from orchestrator.cli.group import cli
from orchestrator.engine.runner import ShRunner, require_tool
from orchestrator.errors import EXIT_PROVENANCE
from orchestrator.execution.engines import any_registry


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
    help="Read the envelope from this file instead of beside REF in the registry or this "
    "host's record of IMAGE.",
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
    """Check an image's signed provenance: the DSSE envelope is signed by the key, its
    subject is the image's manifest digest, the SBOM is the one it names, and its materials
    agree with that SBOM (cache key, constraints, source digest, every wheel's sha256).

    REF, a name with a registry (REG/ns/name:tag or @sha256:...), is read in the registry
    (--tls-verify, --cert-dir, --authfile say how to reach it): its manifest digest and the
    envelope and SBOM pushed beside it; nothing is pulled, and a pulled copy in local storage
    is not looked at. Any other name is a local image: its envelope from --state-dir (where
    this host's builds keep them), its SBOM from inside it. A manifest list has none of its
    own: verify each platform's image by digest.

    Exits 0 when it verifies; 7 with one line naming the first thing that does not match
    (or no provenance found); 2 for no such image or a bad key file; 3 when the registry
    cannot be reached."""
    # Imported here, not at every orchestrate start (cryptography, securesystemslib).
    from orchestrator.provenance import check, keys, lookup
    from orchestrator.provenance.envelope import EnvelopeError, open_envelope

    require_tool("skopeo")
    key = keys.load_public(key_path)
    settings = request_of(ctx, values, None).settings({})
    found = lookup.find(
        target,
        storage=local_storage(),
        registry=any_registry(settings, ShRunner()),
        state_dir=settings.state_dir,
    )
    data = envelope_file.read_bytes() if envelope_file else found.envelope
    if data is None:
        return _refuse(target, f"no provenance: none at {found.looked_in}")
    try:
        statement = open_envelope(data, key)
    except EnvelopeError as exc:
        where = f"{envelope_file}: " if envelope_file else ""
        return _refuse(target, f"signature: {where}{exc}")
    mismatch = check.first_mismatch(statement, found.digest, found.sbom)
    if mismatch is not None:
        return _refuse(target, str(mismatch))
    if as_json:
        click.echo(json.dumps(statement, indent=2))
        return 0
    predicate = statement["predicate"]
    materials = predicate["buildDefinition"]["resolvedDependencies"]
    wheels = sum(1 for m in materials if str(m.get("name", "")).startswith("wheel:"))
    made = predicate["runDetails"].get("byproducts", [])
    run = predicate["runDetails"]["metadata"].get("invocationId")
    version = predicate["runDetails"]["builder"].get("version", {})
    built = f"built in run {run}" if run else "built in a run this host's history did not know"
    if "orchestrate" in version:
        built += f" by orchestrate {version['orchestrate']}"
    else:
        built += f", attested later by orchestrate {version.get('orchestrate-attesting', '?')}"
    sbom = (
        "the SBOM it names, which agrees with them"
        if any(b.get("name") == "sbom" for b in made)
        else "no SBOM (the image was built without one)"
    )
    click.echo(
        f"{target} ({found.digest}): provenance verified with key {key.keyid[:16]}: "
        f"subject matches; {len(materials)} materials ({wheels} of them wheels), "
        f"{len(made)} byproducts, {sbom}; {built}"
    )
    return 0


def _refuse(target: str, why: str) -> int:
    click.echo(f"orchestrate provenance verify: {target}: {why}", err=True)
    return EXIT_PROVENANCE
