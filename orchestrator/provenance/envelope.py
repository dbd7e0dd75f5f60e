"""DSSE envelopes of provenance statements, signed and checked with securesystemslib.

The envelope is the one cosign, Tekton Chains and slsa-verifier exchange: ``payloadType``
``application/vnd.in-toto+json``, the statement in ``payload`` (base64), and one signature
per key, each with the key's id (securesystemslib's: the sha256 of the key's canonical form).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.provenance.statement import PAYLOAD_TYPE, payload, validate

if TYPE_CHECKING:  # securesystemslib is imported where an envelope is made or opened
    from securesystemslib.signer import Key, Signer

MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


class EnvelopeError(ValueError):
    """An envelope that is not one, is not signed by the key, or holds no provenance."""


def sign(document: Mapping[str, Any], signer: Signer) -> bytes:
    """The DSSE envelope of ``document`` signed by ``signer``, as JSON bytes."""
    from securesystemslib.dsse import Envelope

    envelope = Envelope(payload(document), PAYLOAD_TYPE, {})
    envelope.sign(signer)
    return json.dumps(envelope.to_dict(), sort_keys=True, indent=2).encode() + b"\n"


def open_envelope(data: bytes, key: Key) -> dict[str, Any]:
    """The statement in ``data``, once its signature by ``key`` is checked.

    Raises:
        EnvelopeError: not a DSSE envelope of an in-toto statement, no valid signature by
            ``key``, or the statement is not SLSA provenance v1.
    """
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError

    try:
        envelope = Envelope.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # UnicodeDecodeError too
        shape = "JSON with payload, payloadType and signatures"
        raise EnvelopeError(f"not a DSSE envelope ({shape}): {type(exc).__name__}") from None
    if envelope.payload_type != PAYLOAD_TYPE:
        raise EnvelopeError(f"payloadType is {envelope.payload_type!r}, not {PAYLOAD_TYPE}")
    if not envelope.signatures:
        raise EnvelopeError("the envelope is not signed")
    try:
        envelope.verify([key], 1)
    except VerificationError:
        ids = ", ".join(keyid[:16] for keyid in sorted(envelope.signatures))
        raise EnvelopeError(
            f"no valid signature by key {key.keyid[:16]} (signed by {ids}): "
            "another key, or the envelope was changed after signing"
        ) from None
    try:
        document: dict[str, Any] = json.loads(envelope.payload)
        validate(document)
    except ValueError as exc:
        raise EnvelopeError(f"the signed payload is not SLSA provenance: {exc}") from None
    return document
