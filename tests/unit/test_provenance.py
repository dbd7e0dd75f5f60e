"""Provenance: the statement fits in-toto's and SLSA's definitions, its envelope verifies with
the site's key only, and the checks against an image's digest and SBOM name the first thing
that does not match. Real keys (securesystemslib, cryptography), a real SBOM (sbom_json)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from orchestrator.engine.registry import Manifest
from orchestrator.errors import ConfigError
from orchestrator.inspection.sbom import sbom_json
from orchestrator.model.materials import identity_digest
from orchestrator.provenance import check, keys, lookup
from orchestrator.provenance.collect import envelope_path, forget
from orchestrator.provenance.envelope import EnvelopeError, open_envelope, sign
from orchestrator.provenance.statement import BuildFacts, Descriptor, statement, validate
from tests.unit.test_cli import invoke
from tests.unit.test_sbom import WHEEL, image_root

IMAGE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
CONSTRAINTS = "sha256:" + "5" * 64


def write_key(folder: Path, private: object, name: str = "site") -> tuple[Path, Path]:
    """PEM files of a private key and its public half."""
    key = folder / f"{name}.key"
    key.write_bytes(
        private.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub = folder / f"{name}.pub"
    pub.write_bytes(
        private.public_key().public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def facts(**changes: object) -> BuildFacts:
    values: dict[str, object] = {
        "subjects": [
            Descriptor(name="reg.example/ns/keystone:abc", digest={"sha256": IMAGE[7:]}),
        ],
        "node": "keystone",
        "platform": "linux/amd64",
        "pipeline": "pipelines/keystone.yaml",
        "pipeline_sha256": "1" * 64,
        "key": "abc",
        "inputs": {"project": "keystone", "toolchain": "pip==25.3"},
        "materials": [
            Descriptor(
                name="source",
                uri="https://pypi.org/project/keystone/29.1.0/",
                digest={"sha256": "9" * 64},
            ),
            Descriptor(name="constraints", uri="upper.txt", digest={"sha256": CONSTRAINTS[7:]}),
            Descriptor(
                name=f"wheel:{WHEEL}",
                uri="pkg:pypi/oslo-utils@10.0.1",
                digest={"sha256": "c" * 64},
                annotations={"name": "oslo-utils", "version": "10.0.1"},
            ),
        ],
        "byproducts": [],
        "run_id": "20261207-000000-abcd",
        "started": datetime(2026, 12, 7, 4, 0, tzinfo=UTC),
        "finished": datetime(2026, 12, 7, 4, 1, tzinfo=UTC),
        "builder_version": {"orchestrate": "0.1.0"},
    }
    values.update(changes)
    return BuildFacts(**values)  # type: ignore[arg-type]


def sbom(tmp_path: Path, key: str = "abc") -> bytes:
    """A real SBOM's bytes (keystone's shape, one wheel installed)."""
    props = {"key": key, "constraints": CONSTRAINTS}
    root = image_root(tmp_path / f"root-{key}")
    return sbom_json(root, name="keystone", version="2026.1", properties=props).encode()


def naming_sbom(document: bytes, **changes: object) -> BuildFacts:
    """``facts()`` whose statement names ``document`` as its SBOM byproduct."""
    byproduct = Descriptor(name="sbom", digest={"sha256": hashlib.sha256(document).hexdigest()})
    return facts(byproducts=[byproduct], **changes)


@pytest.mark.parametrize(
    "private",
    [
        ed25519.Ed25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa"],
)
def test_each_key_type_signs_an_envelope_its_public_key_opens(
    tmp_path: Path, private: object
) -> None:
    key, pub = write_key(tmp_path, private)
    document = statement(facts())
    opened = open_envelope(sign(document, keys.load_signer(key, {})), keys.load_public(pub))
    assert opened == json.loads(json.dumps(document))
    assert opened["predicateType"] == "https://slsa.dev/provenance/v1"
    assert opened["predicate"]["runDetails"]["metadata"] == {
        "invocationId": "20261207-000000-abcd",
        "startedOn": "2026-12-07T04:00:00Z",
        "finishedOn": "2026-12-07T04:01:00Z",
    }


def test_a_tampered_envelope_fails(tmp_path: Path) -> None:
    key, pub = write_key(tmp_path, ed25519.Ed25519PrivateKey.generate())
    envelope = json.loads(sign(statement(facts()), keys.load_signer(key, {})))
    document = json.loads(base64.b64decode(envelope["payload"]))
    document["predicate"]["buildDefinition"]["internalParameters"]["key"] = "forged"
    envelope["payload"] = base64.b64encode(json.dumps(document).encode()).decode()
    with pytest.raises(EnvelopeError, match="no valid signature"):
        open_envelope(json.dumps(envelope).encode(), keys.load_public(pub))


def test_another_key_fails(tmp_path: Path) -> None:
    key, _ = write_key(tmp_path, ed25519.Ed25519PrivateKey.generate(), "site")
    _, other_pub = write_key(tmp_path, ed25519.Ed25519PrivateKey.generate(), "other")
    signed = sign(statement(facts()), keys.load_signer(key, {}))
    with pytest.raises(EnvelopeError, match="no valid signature"):
        open_envelope(signed, keys.load_public(other_pub))


def test_an_unsigned_or_foreign_envelope_fails(tmp_path: Path) -> None:
    _, pub = write_key(tmp_path, ed25519.Ed25519PrivateKey.generate())
    public = keys.load_public(pub)
    payload = base64.b64encode(b"{}").decode()
    unsigned = {"payload": payload, "payloadType": "application/vnd.in-toto+json", "signatures": []}
    with pytest.raises(EnvelopeError, match="not signed"):
        open_envelope(json.dumps(unsigned).encode(), public)
    with pytest.raises(EnvelopeError, match="payloadType"):
        open_envelope(json.dumps(unsigned | {"payloadType": "text/plain"}).encode(), public)
    with pytest.raises(EnvelopeError, match="not a DSSE envelope"):
        open_envelope(b"not json", public)


def test_the_statement_is_checked_against_in_totos_definitions() -> None:
    document = statement(facts())
    wrong = copy.deepcopy(document)
    wrong["predicate"]["buildDefinition"]["resolvedDepndencies"] = []
    with pytest.raises(ValueError, match="resolvedDepndencies"):
        validate(wrong)
    with pytest.raises(ValueError, match="digest"):
        statement(facts(subjects=[Descriptor(name="x", digest={})]))


def test_the_provenance_of_the_image_agrees_with_its_sbom(tmp_path: Path) -> None:
    document = sbom(tmp_path)
    assert check.first_mismatch(statement(naming_sbom(document)), IMAGE, document) is None


def test_the_provenance_of_another_image_is_refused(tmp_path: Path) -> None:
    document = sbom(tmp_path)
    found = check.first_mismatch(statement(naming_sbom(document)), OTHER, document)
    assert found is not None and found.what == "subject"
    assert f"not of {OTHER}" in str(found)


def test_an_sbom_replaced_cut_or_missing_is_refused(tmp_path: Path) -> None:
    """The SBOM is bound to the signed statement by its sha256: one that says less (its
    Python distributions cut, every hash dropped) or nothing fails before its contents are
    read."""
    document = sbom(tmp_path)
    signed = statement(naming_sbom(document))
    cut = json.loads(document)
    cut["components"] = [c for c in cut["components"] if "pypi" not in c.get("purl", "")]
    found = check.first_mismatch(signed, IMAGE, json.dumps(cut).encode())
    assert found is not None and found.what == "sbom" and "the SBOM found is" in str(found)
    found = check.first_mismatch(signed, IMAGE, None)
    assert found is not None and found.what == "sbom" and "none was found" in str(found)
    # A statement that names no SBOM (an image built without one): the subject alone.
    assert check.first_mismatch(statement(facts()), IMAGE, None) is None


def test_a_wheel_that_does_not_match_is_named(tmp_path: Path) -> None:
    sbom_bytes = sbom(tmp_path)
    document = statement(naming_sbom(sbom_bytes))
    document["predicate"]["buildDefinition"]["resolvedDependencies"][2]["digest"] = {
        "sha256": "d" * 64
    }
    found = check.first_mismatch(document, IMAGE, sbom_bytes)
    assert str(found) == (
        f"material wheel: oslo-utils==10.0.1: the SBOM says sha256:{'c' * 64}, "
        f"the provenance sha256:{'d' * 64}"
    )


@pytest.mark.parametrize(
    ("material", "what"),
    [("source", "material source"), ("constraints", "material constraints")],
)
def test_a_source_or_constraints_that_does_not_match_is_named(
    tmp_path: Path, material: str, what: str
) -> None:
    sbom_bytes = sbom(tmp_path)
    document = statement(naming_sbom(sbom_bytes))
    for entry in document["predicate"]["buildDefinition"]["resolvedDependencies"]:
        if entry["name"] == material:
            entry["digest"] = {"sha256": "0" * 64}
    found = check.first_mismatch(document, IMAGE, sbom_bytes)
    assert found is not None and found.what == what, found


def test_a_provenance_of_another_key_is_named(tmp_path: Path) -> None:
    other = sbom(tmp_path, key="other")
    found = check.first_mismatch(statement(naming_sbom(other)), IMAGE, other)
    assert found is not None and found.what == "key"


def test_a_wheels_images_wheels_are_its_byproducts(tmp_path: Path) -> None:
    root = tmp_path / "wheels-root"
    (root / "wheels").mkdir(parents=True)
    (root / "wheels" / WHEEL).write_bytes(b"wheel bytes")
    sha = hashlib.sha256(b"wheel bytes").hexdigest()
    document = sbom_json(
        root, name="requirements", version="2026.1", properties={"key": "abc"}
    ).encode()
    named = Descriptor(name="sbom", digest={"sha256": hashlib.sha256(document).hexdigest()})
    made = facts(
        materials=[], byproducts=[named, Descriptor(name=f"wheel:{WHEEL}", digest={"sha256": sha})]
    )
    assert check.first_mismatch(statement(made), IMAGE, document) is None
    forged = facts(
        materials=[],
        byproducts=[named, Descriptor(name=f"wheel:{WHEEL}", digest={"sha256": "e" * 64})],
    )
    found = check.first_mismatch(statement(forged), IMAGE, document)
    assert found is not None and found.what == "byproduct wheel"


def test_key_files_that_cannot_sign_are_named(tmp_path: Path) -> None:
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ConfigError, match="PASSPHRASE"):
        keys.load_signer(encrypted, {})
    assert keys.load_signer(encrypted, {keys.PASSPHRASE_ENV: "secret"}) is not None
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    with pytest.raises(ConfigError, match=r"garbage\.key.*not a usable private key"):
        keys.load_signer(garbage, {})
    with pytest.raises(ConfigError, match="cannot read"):
        keys.load_public(tmp_path / "missing.pub")


def test_source_identities_become_digest_sets() -> None:
    assert identity_digest("sha256:" + "f" * 64) == (("sha256", "f" * 64),)
    assert identity_digest("git:" + "1" * 40) == (("gitCommit", "1" * 40),)
    assert identity_digest("tree:" + "2" * 64) == (("dirHash", "2" * 64),)


def test_trust_writes_the_public_key_consumers_verify_with(tmp_path: Path) -> None:
    key, pub = write_key(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    dest = tmp_path / "trust"
    proc = invoke(
        "trust", str(dest), "--provenance-key", str(key), "--registry", "reg.example/openstack",
        "--state-dir", str(tmp_path / "state"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (dest / "provenance.pub").read_bytes() == pub.read_bytes()
    assert "orchestrate provenance verify reg.example/openstack/NODE:TAG" in proc.stdout
    assert not (dest / "policy.json").exists()  # no GPG key: no pull policy
    bare = invoke("trust", str(dest), "--state-dir", str(tmp_path / "state"))
    assert bare.returncode == 2
    assert "--provenance-key" in bare.stderr
    nowhere = invoke("trust", "/proc/nope", "--provenance-key", str(key))
    assert nowhere.returncode == 2, nowhere.stderr
    assert (
        nowhere.stderr.strip()
        == "orchestrate: error: /proc/nope: cannot write there: No such file or directory"
    )


def test_prune_forgets_an_images_envelope_under_each_subject(tmp_path: Path) -> None:
    key, _ = write_key(tmp_path, ed25519.Ed25519PrivateKey.generate())
    local = "sha256:" + "c" * 64
    made = facts(
        subjects=[
            Descriptor(name="reg.example/ns/keystone:abc", digest={"sha256": IMAGE[7:]}),
            Descriptor(name="localhost/ns/keystone:abc", digest={"sha256": local[7:]}),
        ]
    )
    signed = sign(statement(made), keys.load_signer(key, {}))
    state = tmp_path / "state"
    for digest in (IMAGE, local):
        envelope_path(state, digest).parent.mkdir(parents=True, exist_ok=True)
        envelope_path(state, digest).write_bytes(signed)
    other = envelope_path(state, OTHER)
    other.write_bytes(signed)
    forget(state, local)
    assert sorted(p.name for p in (state / "provenance").iterdir()) == [other.name]
    broken = envelope_path(state, local)
    broken.write_text("not json")
    forget(state, local)
    assert not broken.exists() and other.exists()


def test_a_consumer_is_told_plainly_what_is_wrong_with_a_file(tmp_path: Path) -> None:
    key, pub = write_key(tmp_path, ec.generate_private_key(ec.SECP521R1()))
    assert keys.load_public(pub).scheme == "ecdsa-sha2-nistp521"
    with pytest.raises(ConfigError, match=r"site\.key: a private key: give its public half"):
        keys.load_public(key)
    public = keys.load_public(pub)
    for garbage in (b"{}", b"[]", b"null", b"\xff\xfe", json.dumps({"payload": 1}).encode()):
        with pytest.raises(EnvelopeError, match=r"^not a DSSE envelope \(JSON with payload"):
            open_envelope(garbage, public)


class _NoImages:
    def manifest_digest(self, image: str) -> None:
        return None


class _Registry:
    def __init__(self, raw: bytes | None) -> None:
        self.raw = raw

    def manifest(self, ref: str) -> Manifest | None:
        if self.raw is None:
            return None
        return Manifest(ref=ref, digest=IMAGE, size=0, raw=self.raw)


def test_a_name_is_looked_up_where_it_says(tmp_path: Path) -> None:
    """A local name never goes to a registry; a registry's name is read there; a manifest
    list is refused with its platforms' images to verify instead."""
    state = tmp_path / "state"
    with pytest.raises(ConfigError, match=r"^localhost/x:1: no such local image"):
        lookup.find(
            "localhost/x:1", storage=_NoImages(), registry=_Registry(b"{}"), state_dir=state
        )  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^r\.example/x:1: no such manifest in the registry"):
        lookup.find("r.example/x:1", storage=_NoImages(), registry=_Registry(None), state_dir=state)  # type: ignore[arg-type]
    index = {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"digest": IMAGE, "platform": {"architecture": "amd64"}},
            {"digest": OTHER, "platform": {"architecture": "arm64"}},
        ],
    }
    listed = _Registry(json.dumps(index).encode())
    with pytest.raises(
        ConfigError,
        match=rf"a manifest list: verify each platform's image, amd64: r\.example/x@{IMAGE}; "
        rf"arm64: r\.example/x@{OTHER}",
    ):
        lookup.find("r.example/x:1", storage=_NoImages(), registry=listed, state_dir=state)  # type: ignore[arg-type]


def test_a_build_with_an_unusable_key_stops_before_a_run_is_recorded(tmp_path: Path) -> None:
    """Checked with the tools and the disk, before the run is recorded: exit 2, one line,
    no run left "running" in the history."""
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    state = tmp_path / "state"
    for key in (tmp_path / "missing.key", garbage):
        proc = invoke(
            "build", "pipelines/keystone.yaml", "--only", "base", "--provenance-key", str(key),
            "--state-dir", str(state),
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"orchestrate: error: {key}: "), proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (state / "runs").exists() or not any((state / "runs").iterdir())
