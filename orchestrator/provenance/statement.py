"""The provenance of one image: an in-toto Statement v1 whose predicate is SLSA Provenance v1.

- **subject**: the image, by manifest digest: the pushed manifest's (``REG/ns/node``) and the
  local one's (``localhost/ns/node``; local storage keeps the layers uncompressed, so its
  manifest differs from the registry's). A puller's local copy has the registry's manifest.
- **buildDefinition**: ``buildType`` :data:`BUILD_TYPE`; ``externalParameters``: the pipeline
  (path and sha256), the node and its platform; ``internalParameters``: the node's cache key
  and every input of it (scripts' digests, packages, labels, toolchain pins...);
  ``resolvedDependencies``: parent and wheels images (by id, the sha256 of their config),
  the source (sdist sha256 or git commit), the constraints, and each wheel a service's venv
  was installed from, with the hash its wheels image holds.
- **runDetails**: ``builder.id`` :data:`BUILDER_ID` with orchestrate's version, the run id as
  ``invocationId``, when the node started and finished, and the SBOM as a byproduct.

The document is checked against in-toto's own Statement and SLSA Provenance protobuf
definitions (``in-toto-attestation``) before it is signed, so a field misspelt here fails the
build's tests, not a consumer's verifier.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
# What the build's parameters mean: one node of an orchestrate pipeline, built with buildah
# from the pipeline's definition (described in docs/supply-chain.md).
BUILD_TYPE = "urn:orchestrate:buildtype:pipeline-node:v1"
BUILDER_ID = "urn:orchestrate:builder:buildah"


@dataclass(frozen=True, kw_only=True)
class Descriptor:
    """An in-toto ResourceDescriptor: a subject, material or byproduct."""

    name: str = ""
    uri: str = ""
    digest: Mapping[str, str]
    media_type: str = ""
    annotations: Mapping[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.uri:
            out["uri"] = self.uri
        if self.digest:
            out["digest"] = dict(sorted(self.digest.items()))
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out


@dataclass(frozen=True, kw_only=True)
class BuildFacts:
    """Everything one image's provenance says."""

    subjects: Sequence[Descriptor]
    node: str
    platform: str
    pipeline: str
    pipeline_sha256: str
    key: str
    inputs: Mapping[str, str]
    materials: Sequence[Descriptor]
    byproducts: Sequence[Descriptor]
    run_id: str  # "": not known (built before this host's history)
    started: datetime | None  # unknown for an image an earlier run built
    finished: datetime | None
    # The build platform's components and versions: ``{"orchestrate": "0.1.0"}`` for an
    # image built now; ``{"orchestrate-attesting": ...}`` for one an earlier run built, whose
    # orchestrate version is not recorded.
    builder_version: Mapping[str, str]


def statement(facts: BuildFacts) -> dict[str, Any]:
    """The in-toto Statement of ``facts``, checked against in-toto's definitions.

    Raises:
        ValueError: a field does not fit them (a bug here, never bad input).
    """
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "pipeline": {"path": facts.pipeline, "sha256": facts.pipeline_sha256},
                "node": facts.node,
                "platform": facts.platform,
            },
            "internalParameters": {"key": facts.key, "inputs": dict(sorted(facts.inputs.items()))},
            "resolvedDependencies": [m.as_dict() for m in facts.materials],
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": dict(facts.builder_version)},
            "metadata": {
                **({"invocationId": facts.run_id} if facts.run_id else {}),
                **({"startedOn": _timestamp(facts.started)} if facts.started else {}),
                **({"finishedOn": _timestamp(facts.finished)} if facts.finished else {}),
            },
            "byproducts": [b.as_dict() for b in facts.byproducts],
        },
    }
    document = {
        "_type": STATEMENT_TYPE,
        "subject": [s.as_dict() for s in facts.subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    validate(document)
    return document


def validate(document: Mapping[str, Any]) -> None:
    """``document`` is an in-toto Statement v1 with an SLSA Provenance v1 predicate.

    Raises:
        ValueError: it is not, saying where.
    """
    # Imported here: protobuf and in-toto's bindings cost every orchestrate start 20 ms
    # otherwise, and only a build that attests or a verify needs them.
    import google.protobuf.json_format as pb_json
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    if document.get("_type") != STATEMENT_TYPE:
        raise ValueError(f"not an in-toto Statement v1 (_type {document.get('_type')!r})")
    if document.get("predicateType") != PREDICATE_TYPE:
        kind = document.get("predicateType")
        raise ValueError(f"not SLSA provenance v1 (predicateType {kind!r})")
    try:
        subjects = [
            pb_json.ParseDict(s, ResourceDescriptor().pb) for s in document.get("subject", [])
        ]
        Statement(subjects, PREDICATE_TYPE, dict(document.get("predicate", {}))).validate()
        pb_json.ParseDict(document["predicate"], provenance_pb2.Provenance())
    except (pb_json.ParseError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not SLSA provenance v1: {exc}") from None


def payload(document: Mapping[str, Any]) -> bytes:
    """The bytes signed: compact JSON, keys sorted (the same statement, the same bytes)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
