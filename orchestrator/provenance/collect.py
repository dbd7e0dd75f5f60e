"""The executor's side of provenance: gather one image's facts, write its statement (signed
with the site's key when it has one), and push the envelope beside a pushed image.

Where it goes:

- ``<state>/runs/<run>/work/<node>/provenance.intoto.json``: the DSSE envelope of this run's
  image, or, with no ``provenance_key``, ``provenance.json``, the statement unsigned (local
  builds keep a record of how each image was made either way);
- ``<state>/provenance/sha256-<hex>.intoto.json``: the same envelope under each subject's
  digest, where ``orchestrate provenance verify IMAGE`` finds a local image's;
- ``<registry>/<node>:sha256-<hex>.att``: the envelope beside the pushed image (an OCI
  artifact, cosign's convention), unless the registry has one there already.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from orchestrator.engine import attachments, naming
from orchestrator.engine.registry import Manifest, Registry
from orchestrator.engine.runner import Runner
from orchestrator.engine.storage import Storage
from orchestrator.files import write_atomically
from orchestrator.inspection.image_files import SBOM_PATH, ImageFiles, read_image
from orchestrator.model.materials import Material
from orchestrator.model.states import NodeKind
from orchestrator.planning.nodeplan import NodePlan
from orchestrator.provenance import envelope
from orchestrator.provenance.statement import BuildFacts, Descriptor, payload, statement
from orchestrator.redaction import redact

if TYPE_CHECKING:
    from securesystemslib.signer import Signer

ENVELOPE_NAME = "provenance.intoto.json"
STATEMENT_NAME = "provenance.json"


class Builds(Protocol):
    """Where the run that built a key is found (:class:`orchestrator.records.history.History`)."""

    def build_of(self, key: str) -> _Built | None: ...


class _Built(Protocol):
    @property
    def run_id(self) -> str: ...
    @property
    def built(self) -> float: ...


@dataclass(frozen=True, kw_only=True)
class Invocation:
    """The run that built an image, and when: ``built_now`` for this run's own build; an
    earlier run's (``run_id`` "" when this host's history does not know it) has no start and
    no orchestrate version recorded. ``attesting`` is this run (its containers' names)."""

    run_id: str
    started: datetime | None
    finished: datetime | None
    built_now: bool
    attesting: str


def envelope_path(state_dir: Path, digest: str) -> Path:
    """Where the envelope of the image of manifest ``digest`` is kept on this host."""
    algorithm, hexdigest = digest.split(":", 1)
    return state_dir / "provenance" / f"{algorithm}-{hexdigest}.intoto.json"


def forget(state_dir: Path, digest: str) -> None:
    """Remove this host's envelope of the image of local manifest ``digest``, under each of
    its subjects' digests (``prune``, as the image goes)."""
    path = envelope_path(state_dir, digest)
    if not path.is_file():
        return
    digests = {digest}
    try:
        statement = json.loads(base64.b64decode(json.loads(path.read_bytes())["payload"]))
        for subject in statement.get("subject", []):
            digests |= {f"{alg}:{value}" for alg, value in subject.get("digest", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError):  # unreadable: this file only
        pass
    for each in digests:
        envelope_path(state_dir, each).unlink(missing_ok=True)


class Attestor:
    """Writes (and pushes) the provenance of the images of one run."""

    def __init__(
        self,
        *,
        runner: Runner,
        signer: Signer | None,
        state_dir: Path,
        pipeline: Path,
        registry: Registry | None = None,
        builds: Builds | None = None,
    ) -> None:
        self.runner = runner
        self.storage = Storage(runner)
        self.signer = signer
        self.state_dir = state_dir
        self.pipeline = pipeline
        self.pipeline_sha256 = hashlib.sha256(pipeline.read_bytes()).hexdigest()
        self.registry = registry
        self.builds = builds
        self._sums: dict[str, dict[str, str]] = {}  # wheels image id -> file -> sha256
        self._lock = threading.Lock()  # nodes finish on several threads
        self._remote: dict[str, str] = {}  # a parent's key tag -> its digest in the registry

    def invocation_of(self, plan: NodePlan, run_id: str, started: datetime | None) -> Invocation:
        """This run, for an image it built (``started`` given); else the run the history says
        built the key (a key gives the same image, whichever run built it), else unknown."""
        if started is not None:
            return Invocation(
                run_id=run_id,
                started=started,
                finished=datetime.now(UTC),
                built_now=True,
                attesting=run_id,
            )
        record = self.builds.build_of(plan.key) if self.builds is not None else None
        return Invocation(
            run_id=record.run_id if record else "",
            started=None,
            finished=datetime.fromtimestamp(record.built, UTC) if record else None,
            built_now=False,
            attesting=run_id,
        )

    def attest(
        self,
        plan: NodePlan,
        invocation: Invocation,
        out: IO[str],
        files: ImageFiles,
        pushed: Manifest | None = None,
        *,
        envelope_missing: bool = False,
    ) -> None:
        """Write the provenance of ``plan``'s local image, whose documents are ``files`` (and
        of its pushed manifest, pushing the envelope beside it unless a good one is there:
        ``envelope_missing`` when the caller asked :meth:`needs_envelope` already).

        Raises:
            StepFailedError: the image could not be read, or the registry failed.
        """
        if plan.kind == NodeKind.MANIFEST:
            return
        local = self.storage.manifest_digest(plan.image)
        if local is None:
            out.write(f"{plan.image} is not in local storage: no provenance written\n")
            return
        subjects = [Descriptor(name=plan.image, digest=_digest_set(local))]
        if pushed is not None:
            subjects.insert(0, Descriptor(name=plan.remote_key, digest=_digest_set(pushed.digest)))
        recorded = files.wheels_record  # the wheels of the wheelhouse its venv holds
        own_sums = files.wheel_sums if plan.kind == NodeKind.REQUIREMENTS else {}
        sbom_bytes = files.sbom or b""
        sbom_sha = hashlib.sha256(sbom_bytes).hexdigest() if sbom_bytes else ""
        materials = [self._material(m) for m in plan.materials]
        if plan.wheels_image and files.installed:
            materials += self._wheel_materials(
                plan, recorded, files.installed, invocation.attesting
            )
        byproducts = []
        if sbom_sha:
            byproducts.append(
                Descriptor(
                    name="sbom",
                    uri=SBOM_PATH,
                    digest={"sha256": sbom_sha},
                    media_type=attachments.CYCLONEDX_JSON,
                )
            )
        byproducts += [
            Descriptor(name=f"wheel:{name}", digest={"sha256": sha})
            for name, sha in sorted(own_sums.items())
        ]
        document = statement(
            BuildFacts(
                subjects=subjects,
                node=plan.node,
                platform=plan.inputs.get("platform", ""),
                pipeline=str(self.pipeline),
                pipeline_sha256=self.pipeline_sha256,
                key=plan.key,
                inputs={name: redact(value) for name, value in plan.inputs.items()},
                materials=materials,
                byproducts=byproducts,
                run_id=invocation.run_id,
                started=invocation.started,
                finished=invocation.finished,
                builder_version={
                    "orchestrate" if invocation.built_now else "orchestrate-attesting": _version()
                },
            )
        )
        if self.signer is None:
            write_atomically(plan.run_dir / STATEMENT_NAME, payload(document).decode() + "\n")
            out.write(f"wrote its provenance (unsigned: no provenance_key) to {plan.run_dir}\n")
            return
        signed = envelope.sign(document, self.signer)
        write_atomically(plan.run_dir / ENVELOPE_NAME, signed.decode())
        for digest in [local, *([pushed.digest] if pushed else [])]:
            write_atomically(envelope_path(self.state_dir, digest), signed.decode())
        out.write(f"wrote its signed provenance to {plan.run_dir / ENVELOPE_NAME}\n")
        if pushed is not None:
            self._push(plan, pushed, signed, out, envelope_missing=envelope_missing)

    def needs_envelope(self, plan: NodePlan, pushed: Manifest) -> bool:
        """Whether the registry lacks a good envelope beside ``pushed``: none, or one this
        site's key did not sign for that digest (an older key, a broken write).

        Raises:
            StepFailedError: the registry failed.
        """
        if self.signer is None or self.registry is None or plan.kind == NodeKind.MANIFEST:
            return False
        ref = f"{plan.remote}:{attachments.attestation_tag(pushed.digest)}"
        try:
            there = attachments.read_artifact(self.registry, ref, attachments.DSSE_JSON)
        except ValueError:
            return True
        if there is None:
            return True
        try:
            document = envelope.open_envelope(there, self.signer.public_key)
        except envelope.EnvelopeError:
            return True
        algorithm, _, value = pushed.digest.partition(":")
        return not any(
            s.get("digest", {}).get(algorithm) == value for s in document.get("subject", [])
        )

    def _push(
        self,
        plan: NodePlan,
        pushed: Manifest,
        signed: bytes,
        out: IO[str],
        *,
        envelope_missing: bool,
    ) -> None:
        assert self.registry is not None
        destination = f"{plan.remote}:{attachments.attestation_tag(pushed.digest)}"
        if not envelope_missing and not self.needs_envelope(plan, pushed):
            out.write(f"{destination} is there already, signed by this key: not pushed again\n")
            return
        with tempfile.TemporaryDirectory(prefix="orchestrate-att-") as folder:
            attachments.write_layout(Path(folder), signed, media_type=attachments.DSSE_JSON)
            self.runner.capture(
                attachments.push_layout(Path(folder), destination, self.registry.access)
            )
        out.write(f"pushed its provenance as {destination}\n")

    def _material(self, material: Material) -> Descriptor:
        """A planned material, resolved: an image by its manifest digest where its ``uri``
        names it (its key tag in the registry, else the local image), with its id."""
        digest = dict(material.digest)
        annotations = dict(material.annotations)
        uri = redact(material.uri)
        if material.image:
            uri, manifest = self._image_digest(material)
            image_id = self.storage.image_id(material.image)
            if manifest:
                digest.update(_digest_set(manifest))
            if image_id:
                annotations["imageId"] = f"sha256:{image_id.removeprefix('sha256:')}"
            if not manifest:
                annotations["absent"] = f"{material.image} was not in local storage"
        return Descriptor(
            name=material.name, uri=uri, digest=digest, annotations=annotations or None
        )

    def _image_digest(self, material: Material) -> tuple[str, str | None]:
        """(uri, manifest digest) of an image material: its registry name and the registry's
        digest when the registry has it (pushed by this run or an earlier one), else the
        local name and local storage's."""
        if self.registry is not None and material.uri != material.image:
            with self._lock:
                if material.uri not in self._remote:  # not there yet: asked again next time
                    found = self.registry.manifest(material.uri)
                    if found is not None:
                        self._remote[material.uri] = found.digest
            if material.uri in self._remote:
                return material.uri, self._remote[material.uri]
        return material.image, self.storage.manifest_digest(material.image)

    def _wheel_materials(
        self,
        plan: NodePlan,
        recorded: Mapping[str, str],
        installed: frozenset[tuple[str, str]],
        run_id: str,
    ) -> list[Descriptor]:
        """Each wheel the image's distributions were installed from (of the wheelhouse the
        image records), with the sha256 its wheels image holds: the hashes come from the
        wheels image, not from the image's own record."""
        sums = self._wheels_sums(plan.wheels_image, run_id)
        out = []
        for filename in sorted(recorded):
            try:
                name, version, _, _ = parse_wheel_filename(filename)
            except InvalidWheelFilename:
                continue
            if (str(canonicalize_name(name)), str(version)) not in installed:
                continue
            sha = sums.get(filename)
            out.append(
                Descriptor(
                    name=f"wheel:{filename}",
                    uri=f"pkg:pypi/{name}@{version}",
                    digest={"sha256": sha} if sha else {},
                    annotations={"name": str(name), "version": str(version)}
                    | ({} if sha else {"absent": f"not in {plan.wheels_image}"}),
                )
            )
        return out

    def _wheels_sums(self, image: str, run_id: str) -> dict[str, str]:
        image_id = self.storage.image_id(image) or image
        with self._lock:
            if image_id not in self._sums:
                self._sums[image_id] = self._read_sums(image, image_id, run_id)
        return self._sums[image_id]

    def _read_sums(self, image: str, image_id: str, run_id: str) -> dict[str, str]:
        """The wheels image's ``SHA256SUMS`` (its mount failing fails the node: a statement
        without the wheels' hashes would be signed and pushed for good)."""
        container = naming.container_name(run_id, f"wheels-{image_id[:12]}-provenance")
        return read_image(self.storage, image, container).wheel_sums


def _version() -> str:
    """orchestrate's version, as ``orchestrate --version`` says it."""
    try:
        return importlib.metadata.version("orchestrate")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown"


def _digest_set(digest: str) -> dict[str, str]:
    algorithm, _, value = digest.partition(":")
    return {algorithm: value}
