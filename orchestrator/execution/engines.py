"""The engine objects a run's settings call for: the registry it pushes to, the folder its
signatures go to, the signer (its key checked before anything starts) and the provenance
writer (its key loaded before anything starts)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.buildah import RegistryAccess
from orchestrator.engine.registry import Registry
from orchestrator.engine.runner import Runner
from orchestrator.engine.signing import Signer
from orchestrator.model.settings import Settings
from orchestrator.provenance.collect import Attestor, Builds


def registry_of(settings: Settings, runner: Runner) -> Registry | None:
    """The registry of the ``registry`` setting, with its TLS and authfile options."""
    if not settings.registry:
        return None
    return any_registry(settings, runner)


def any_registry(settings: Settings, runner: Runner) -> Registry:
    """Lookups in whatever registry a full reference names (``diff --against``, ``provenance
    verify``), with the settings' TLS and authfile options."""
    access = RegistryAccess(
        tls_verify=settings.tls_verify, cert_dir=settings.cert_dir, authfile=settings.authfile
    )
    return Registry(runner, access)


def lookaside_of(settings: Settings) -> Path:
    """The folder signatures are written to: ``lookaside``, or sigstore/ in the state dir."""
    return Path(settings.lookaside or settings.state_dir / "sigstore").expanduser()


def signer_of(settings: Settings, runner: Runner) -> Signer | None:
    """The signer of the ``sign_by`` setting (its key checked), or None when signing is off.

    Raises:
        ConfigError: signing is on without a registry, or the key is not in the keyring.
    """
    fingerprint = settings.sign_by
    if not fingerprint:
        return None
    settings.check("sign_by")
    signer = Signer(runner, fingerprint, lookaside_of(settings))
    signer.check_key()
    return signer


def attestor_of(
    settings: Settings,
    runner: Runner,
    pipeline: Path,
    registry: Registry | None,
    builds: Builds | None,
) -> Attestor:
    """The provenance writer of a run: signing with ``provenance_key`` when it is set.

    Raises:
        ConfigError: the key cannot be read or used.
    """
    # Imported here: cryptography and securesystemslib only for a run that signs.
    from orchestrator.provenance.keys import load_signer

    key = settings.provenance_key
    return Attestor(
        runner=runner,
        signer=load_signer(Path(key)) if key else None,
        state_dir=settings.state_dir,
        pipeline=pipeline,
        registry=registry,
        builds=builds,
    )


def check_keys(settings: Settings, runner: Runner) -> None:
    """The keys a run will sign with are there and usable, checked before the run is
    recorded: a bad one is one line and exit 2, and no run is left behind.

    Raises:
        ConfigError: the GPG key (``sign_by``, when pushing) or the provenance key is not.
    """
    if settings.push:
        signer_of(settings, runner)
    if settings.provenance_key:
        from orchestrator.provenance.keys import load_signer  # cryptography: only here

        load_signer(Path(settings.provenance_key))
