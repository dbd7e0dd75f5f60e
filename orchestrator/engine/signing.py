"""Signatures of pushed images: containers' "simple signing" with a GPG key, in a lookaside.

A signature claims that the image of one manifest digest is a given reference (``REG/repo:tag``)
and is kept beside the registry, in a folder laid out as containers/image reads it
(``<lookaside>/<repository path>@sha256=<hex>/signature-<n>``, n from 1 with no gap). That
folder is served to pullers (https:// or a shared file://), which ``registries.d`` points
them at and ``policy.json`` makes them require: :func:`policy` and :func:`registries_d`.

Signing runs ``skopeo standalone-sign`` with the key of ``GNUPGHOME``; an identity already
signed for a digest (checked with ``skopeo standalone-verify``) is not signed again.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import threading
from pathlib import Path

import yaml

from orchestrator.engine.runner import Runner
from orchestrator.errors import ConfigError, StepFailedError

_LOCK = threading.Lock()  # signature-<n> numbering, across the run's pushing threads


def repository_path(reference: str) -> str:
    """``REG/ns/name:tag`` (or ``@digest``) -> ``ns/name``: the repository within its registry."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name.rsplit(":", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return name


def signature_dir(lookaside: Path, reference: str, digest: str) -> Path:
    """Where the signatures of ``digest`` in ``reference``'s repository are kept."""
    algorithm, hexdigest = digest.split(":", 1)
    return lookaside / f"{repository_path(reference)}@{algorithm}={hexdigest}"


class Signer:
    """Signs manifests with one GPG key into one lookaside folder."""

    def __init__(self, runner: Runner, fingerprint: str, lookaside: Path) -> None:
        self.runner = runner
        self.fingerprint = fingerprint
        self.lookaside = lookaside

    def check_key(self) -> None:
        """The secret key is in the keyring.

        Raises:
            ConfigError: it is not (or gpg cannot be asked).
        """
        try:
            self.runner.capture(("gpg", "--batch", "--list-secret-keys", self.fingerprint))
        except StepFailedError:
            raise ConfigError(
                "settings",
                "sign_by",
                f"no secret key {self.fingerprint} in the GPG keyring (GNUPGHOME): import it, "
                "or leave signing off",
            ) from None

    def sign(self, manifest: bytes, identity: str) -> bool:
        """Sign ``manifest`` as ``identity`` (a reference with its tag); False if a signature
        of that identity was there already.

        Raises:
            StepFailedError: gpg or skopeo failed (a key needing a passphrase, a full disk).
        """
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        folder = signature_dir(self.lookaside, identity, digest)
        with tempfile.TemporaryDirectory(prefix="orchestrate-sign-") as tmp:
            manifest_file = Path(tmp) / "manifest.json"
            manifest_file.write_bytes(manifest)
            with _LOCK:
                existing = sorted(folder.glob("signature-*"), key=_index)
                if any(self._signs(manifest_file, identity, sig) for sig in existing):
                    return False
                target = folder / f"signature-{len(existing) + 1}"
                partial = Path(tmp) / "signature"
                self.runner.capture(
                    (
                        "skopeo", "standalone-sign", str(manifest_file), identity,
                        self.fingerprint, "--output", str(partial),
                    )
                )  # fmt: skip
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(partial.read_bytes())
                except OSError as exc:  # an unwritable or full lookaside: the node fails
                    raise StepFailedError(
                        "sign", 1, f"cannot write {target}: {exc.strerror or exc}", ""
                    ) from None
        return True

    def _signs(self, manifest_file: Path, identity: str, signature: Path) -> bool:
        try:
            self.runner.capture(
                (
                    "skopeo", "standalone-verify", str(manifest_file), identity,
                    self.fingerprint, str(signature),
                )
            )  # fmt: skip
        except StepFailedError:
            return False
        return True


def _index(path: Path) -> int:
    suffix = path.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def public_key(runner: Runner, fingerprint: str) -> bytes:
    """The public key of ``fingerprint`` (binary OpenPGP), exported from the keyring.

    Raises:
        ConfigError: the keyring has no such key.
    """
    exported = runner.capture(("gpg", "--batch", "--export", "--armor", fingerprint))
    if "BEGIN PGP PUBLIC KEY BLOCK" not in exported:
        raise ConfigError(
            "settings", "sign_by", f"no public key {fingerprint} in the GPG keyring (GNUPGHOME)"
        )
    return exported.encode()


def policy(scope: str, public_key: bytes) -> dict[str, object]:
    """A ``policy.json`` that accepts images under ``scope`` (``REG/namespace``) only when
    signed by ``public_key`` (binary or armored OpenPGP), and anything else as before."""
    return {
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {
            "docker": {
                scope: [
                    {
                        "type": "signedBy",
                        "keyType": "GPGKeys",
                        "keyData": base64.b64encode(public_key).decode(),
                    }
                ]
            },
            "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
        },
    }


def registries_d(scope: str, lookaside_url: str) -> str:
    """A ``registries.d`` file telling pullers where the signatures of ``scope`` are."""
    text: str = yaml.safe_dump({"docker": {scope: {"lookaside": lookaside_url}}}, sort_keys=False)
    return text
