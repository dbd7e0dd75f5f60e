"""The site's provenance key: a PEM private key that signs, its public half that verifies.

Key types (through securesystemslib's ``CryptoSigner`` and ``SSlibKey``): **Ed25519**,
**ECDSA** on P-256, P-384 or P-521 (ecdsa-sha2-nistp256/384/521) and **RSA** (RSASSA-PSS
with SHA-256), as PKCS#8 or traditional PEM, e.g. ``openssl genpkey -algorithm ed25519 -out
provenance.key`` and ``openssl pkey -in provenance.key -pubout -out provenance.pub``. An
encrypted private key takes its passphrase from ``ORCHESTRATE_PROVENANCE_KEY_PASSPHRASE``
(never stored).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from securesystemslib.signer import CryptoSigner, SSlibKey

from orchestrator.errors import ConfigError

PASSPHRASE_ENV = "ORCHESTRATE_PROVENANCE_KEY_PASSPHRASE"
KINDS = "Ed25519, ECDSA P-256/P-384/P-521, RSA"


def load_signer(path: Path, environ: Mapping[str, str] = os.environ) -> CryptoSigner:
    """The signer of the private key in ``path``.

    Raises:
        ConfigError: the file cannot be read, is not a private key of a supported type, or
            its passphrase is missing or wrong.
    """
    return _signer(path, _private(path, environ))


def load_public(path: Path) -> SSlibKey:
    """The public key in ``path`` (PEM ``PUBLIC KEY``).

    Raises:
        ConfigError: the file cannot be read, holds no supported public key, or holds a
            private key (which has no business on a consumer's host).
    """
    data = _read(path, "key")
    if b"PRIVATE KEY" in data:
        raise ConfigError(
            str(path), "", "a private key: give its public half "
            "(openssl pkey -in KEY -pubout, or the provenance.pub orchestrate trust writes)"
        )  # fmt: skip
    try:
        return SSlibKey.from_crypto(serialization.load_pem_public_key(data))
    except ValueError as exc:
        raise ConfigError(str(path), "", f"not a usable public key ({KINDS}): {exc}") from None


def public_pem(path: Path, environ: Mapping[str, str] = os.environ) -> tuple[bytes, str]:
    """The PEM of the public half of the private key in ``path``, for consumers
    (``orchestrate trust``), and its key id.

    Raises:
        ConfigError: as :func:`load_signer`.
    """
    private = _private(path, environ)
    key_id = _signer(path, private).public_key.keyid  # a key type that can sign, or refused
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, key_id


def _private(path: Path, environ: Mapping[str, str]) -> PrivateKeyTypes:
    data = _read(path, "provenance_key")
    passphrase = environ.get(PASSPHRASE_ENV)
    try:
        return serialization.load_pem_private_key(
            data, password=passphrase.encode() if passphrase else None
        )
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for none
        raise ConfigError(str(path), "", f"{exc} (passphrase: {PASSPHRASE_ENV})") from None
    except ValueError as exc:
        raise ConfigError(str(path), "", f"not a usable private key ({KINDS}): {exc}") from None


def _signer(path: Path, private: PrivateKeyTypes) -> CryptoSigner:
    try:
        return CryptoSigner(private)
    except ValueError as exc:  # a key type securesystemslib does not sign with (Ed448, DSA)
        raise ConfigError(str(path), "", f"not a usable private key ({KINDS}): {exc}") from None


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the {what}: {exc.strerror or exc}") from None
