"""Provenance on real images: keystone rebuilt with a site key carries a signed SLSA statement
that `orchestrate provenance verify` accepts, and a wrong key, a changed envelope, another
image's envelope and a material that disagrees with the SBOM are each refused (exit 7); the
base pushed to a real docker-registry has its envelope beside it, verified from the registry
alone."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from orchestrator.engine.attachments import CYCLONEDX_JSON, push_layout, read_layout, write_layout
from orchestrator.engine.buildah import RegistryAccess
from orchestrator.errors import EXIT_PROVENANCE
from orchestrator.provenance import keys
from orchestrator.provenance.envelope import sign
from tests.integration.conftest import orchestrate, tags


def key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    private = ed25519.Ed25519PrivateKey.generate()
    key, pub = folder / f"{name}.key", folder / f"{name}.pub"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def test_a_built_image_carries_provenance_that_verifies_and_forgeries_do_not(
    keystone_run: dict[str, Any], site_key: tuple[Path, Path], state_dir: Path, tmp_path: Path
) -> None:
    key, pub = site_key
    _, other_pub = key_pair(tmp_path, "other")
    images = {n["node"]: n["image"] for n in keystone_run["nodes"]}
    statuses = {n["node"]: n["status"] for n in keystone_run["nodes"]}
    run_id = str(keystone_run["run_id"])
    keystone = images["keystone"]
    if statuses["keystone"] != "built":
        # The session reused keystone (built before, without this key): build it with it.
        summary = tmp_path / "summary.json"
        proc = orchestrate(
            "build", "pipelines/keystone.yaml", "--only", "keystone", "--no-cache-for",
            "keystone", "--provenance-key", str(key), "--summary-json", str(summary),
            state_dir=state_dir,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        run_id = json.loads(summary.read_text())["run_id"]
    written = state_dir / "runs" / run_id / "work" / "keystone" / "provenance.intoto.json"
    assert written.is_file()

    ok = orchestrate("provenance", "verify", keystone, "--key", str(pub), state_dir=state_dir)
    assert ok.returncode == 0, ok.stderr
    assert "provenance verified" in ok.stdout, ok.stdout
    statement = json.loads(
        orchestrate(
            "provenance", "verify", keystone, "--key", str(pub), "--json", state_dir=state_dir
        ).stdout
    )
    materials = {m["name"]: m for m in statement["predicate"]["buildDefinition"][
        "resolvedDependencies"]}  # fmt: skip
    assert materials["source"]["digest"]["sha256"] == (
        "9090a34976c48b518dec21d73260d3af76029c05bd40bfe2cb097dfd7d343bc1"
    )
    assert "constraints" in materials
    assert any(name.startswith("parent:") for name in materials)
    assert sum(name.startswith("wheel:") for name in materials) > 50
    assert statement["predicate"]["runDetails"]["metadata"]["invocationId"] == run_id

    def refused(*extra: str, image: str = keystone, public: Path = pub) -> str:
        proc = orchestrate(
            "provenance", "verify", image, "--key", str(public), *extra, state_dir=state_dir
        )
        assert proc.returncode == EXIT_PROVENANCE, proc.stdout + proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        return proc.stderr

    assert "signature: no valid signature" in refused(public=other_pub)

    envelope = json.loads(written.read_text())
    document = json.loads(base64.b64decode(envelope["payload"]))
    changed = dict(envelope)
    forged = json.loads(json.dumps(document))
    forged["predicate"]["buildDefinition"]["internalParameters"]["key"] = "0" * 64
    changed["payload"] = base64.b64encode(json.dumps(forged).encode()).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(changed))
    assert "signature: " in refused("--envelope", str(tampered))
    assert f"{tampered}: no valid signature" in refused("--envelope", str(tampered))

    # keystone's envelope, offered for the base image: the subject is not the base's.
    assert "subject: the provenance is of" in refused(
        "--envelope", str(written), image=images["base"]
    )

    # Signed by the right key, but a wheel's hash is not the one the image's SBOM records.
    for material in forged["predicate"]["buildDefinition"]["resolvedDependencies"]:
        if material["name"].startswith("wheel:"):
            material["digest"] = {"sha256": "0" * 64}
            break
    forged["predicate"]["buildDefinition"]["internalParameters"]["key"] = document["predicate"][
        "buildDefinition"
    ]["internalParameters"]["key"]
    resigned = tmp_path / "resigned.json"
    resigned.write_bytes(sign(forged, keys.load_signer(key, {})))
    assert "material wheel:" in refused("--envelope", str(resigned))


@pytest.mark.usefixtures("keystone_run", "no_leftovers")
def test_a_pushed_image_has_its_provenance_beside_it(
    registry: str, state_dir: Path, tmp_path: Path
) -> None:
    key, pub = key_pair(tmp_path, "site")
    prefix = f"{registry}/provenance"
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--only", "base", "--push", "--registry", prefix,
        "--no-tls-verify", "--provenance-key", str(key), state_dir=state_dir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    attached = [t for t in tags(registry, "provenance/base") if t.endswith(".att")]
    assert len(attached) == 1, attached
    # A consumer: the public key from `orchestrate trust`, the image from the registry alone.
    trust = orchestrate(
        "trust", str(tmp_path / "trust"), "--provenance-key", str(key), "--registry", prefix,
        state_dir=state_dir,
    )  # fmt: skip
    assert trust.returncode == 0, trust.stderr
    published = tmp_path / "trust" / "provenance.pub"
    assert published.read_bytes() == pub.read_bytes()
    ok = orchestrate(
        "provenance", "verify", f"{prefix}/base:2026.1", "--key", str(published),
        "--no-tls-verify", state_dir=state_dir,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "subject matches" in ok.stdout and "the SBOM it names, which agrees" in ok.stdout


@pytest.mark.provenance_release
@pytest.mark.usefixtures("keystone_run", "no_leftovers")
def test_an_envelope_is_replaced_when_the_key_changes_and_a_replaced_sbom_is_refused(
    registry: str, state_dir: Path, tmp_path: Path
) -> None:
    """In ``nox -s provenance`` (a base pushed three times: kept out of the default run)."""
    key, pub = key_pair(tmp_path, "site")
    prefix = f"{registry}/provenance-rotation"
    push = ("build", "pipelines/keystone.yaml", "--only", "base", "--push", "--registry", prefix,
            "--no-tls-verify")  # fmt: skip
    proc = orchestrate(*push, "--provenance-key", str(key), state_dir=state_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    attached = [t for t in tags(registry, "provenance-rotation/base") if t.endswith(".att")]
    again = orchestrate(*push, "--provenance-key", str(key), state_dir=state_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [t for t in tags(registry, "provenance-rotation/base") if t.endswith(".att")] == attached

    # The site's key changes: the next push replaces the envelope the old key signed.
    new_key, new_pub = key_pair(tmp_path, "rotated")
    rotated = orchestrate(*push, "--provenance-key", str(new_key), state_dir=state_dir)
    assert rotated.returncode == 0, rotated.stderr[-3000:]
    base = f"{prefix}/base:2026.1"
    verify = ("provenance", "verify", base, "--no-tls-verify")
    assert orchestrate(*verify, "--key", str(new_pub), state_dir=state_dir).returncode == 0
    old = orchestrate(*verify, "--key", str(pub), state_dir=state_dir)
    assert old.returncode == EXIT_PROVENANCE, old.stderr

    # An SBOM replaced beside the image, however plausible, is not the one signed for.
    sbom_tag = attached[0].removesuffix(".att") + ".sbom"
    sbom_ref = f"{prefix}/base:{sbom_tag}"
    folder = tmp_path / "sbom-layout"
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{sbom_ref}",
         f"oci:{folder}"], check=True, capture_output=True,
    )  # fmt: skip
    document = json.loads(read_layout(folder, CYCLONEDX_JSON) or b"{}")
    document["components"] = document["components"][:-1]
    replaced = tmp_path / "replaced-sbom"
    write_layout(replaced, json.dumps(document).encode())
    subprocess.run(
        push_layout(replaced, sbom_ref, RegistryAccess(tls_verify=False)),
        check=True, capture_output=True,
    )  # fmt: skip
    cut = orchestrate(*verify, "--key", str(new_pub), state_dir=state_dir)
    assert cut.returncode == EXIT_PROVENANCE, cut.stdout + cut.stderr
    assert "sbom: the SBOM found is sha256:" in cut.stderr, cut.stderr
