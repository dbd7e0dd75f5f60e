"""``orchestrate diff NEW --against REF`` against a real registry (Debian's docker-registry on
loopback): each side's SBOM read from the artifact pushed beside its image, as a pushing
build leaves it, with skopeo; no image is pulled or built."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine.attachments import push_layout, sbom_tag, write_layout
from orchestrator.engine.buildah import RegistryAccess
from tests.integration.conftest import ROOT, orchestrate
from tests.unit.test_release_diff import sbom

PLAIN = RegistryAccess(tls_verify=False)


def push(folder: Path, document: bytes, destination: str) -> str:
    """``document`` as a one-layer OCI artifact at ``destination``; its manifest digest."""
    digest = write_layout(folder, document)
    subprocess.run(push_layout(folder, destination, PLAIN), check=True, capture_output=True)
    return digest


def publish(registry: str, tmp_path: Path, tag: str, sbom_document: dict[str, Any] | None) -> str:
    """A stand-in image at ``openstack/keystone-diff:tag`` (an artifact: only its digest matters
    here) with ``sbom_document`` beside it, as a pushing build leaves them."""
    repository = f"{registry}/openstack/keystone-diff"
    digest = push(tmp_path / tag, f'{{"image": "{tag}"}}'.encode(), f"{repository}:{tag}")
    if sbom_document is not None:
        beside = f"{repository}:{sbom_tag(digest)}"
        push(tmp_path / f"{tag}-sbom", json.dumps(sbom_document).encode(), beside)
    return f"{repository}:{tag}"


def test_a_downgrade_against_the_published_release_exits_8(registry: str, tmp_path: Path) -> None:
    released = publish(
        registry, tmp_path, "2026.1", sbom([("libssl3", "3.0.15-1")], [("oslo.config", "9.7")])
    )
    nightly = publish(
        registry, tmp_path, "nightly", sbom([("libssl3", "3.0.11-1")], [("oslo.config", "9.8")])
    )
    state = tmp_path / "state"
    proc = orchestrate("diff", nightly, "--against", released, "--no-tls-verify", state_dir=state)
    assert proc.returncode == 8, proc.stdout + proc.stderr
    assert "DOWNGRADED  libssl3" in proc.stdout
    allowed = orchestrate(
        "diff", nightly, "--against", released, "--no-tls-verify",
        "--allow-downgrade", "libssl3", "--json", state_dir=state,
    )  # fmt: skip
    assert allowed.returncode == 1, allowed.stdout + allowed.stderr
    found = json.loads(allowed.stdout)
    assert [d["name"] for d in found["python"]["upgraded"]] == ["oslo-config"]
    assert found["packages"]["downgraded"][0]["allowed"] is True


def test_an_image_with_no_sbom_beside_it_is_named(registry: str, tmp_path: Path) -> None:
    released = publish(registry, tmp_path, "2025.2", None)
    nightly = tmp_path / "nightly.cdx.json"
    nightly.write_text(json.dumps(sbom([("libssl3", "3.0.15-1")])))
    proc = orchestrate(
        "diff", str(nightly), "--against", released, "--no-tls-verify",
        state_dir=tmp_path / "state",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"orchestrate: error: --against: {released}: no SBOM beside it")


@pytest.mark.provenance_release
def test_promote_refuses_a_downgrade_unless_the_pipeline_allows_it(
    registry: str, state_dir: Path, tmp_path: Path
) -> None:
    """In ``nox -s provenance``. The base pushed by a real build; its release tag in the
    registry points at a stand-in whose SBOM holds a newer libc6 than the base. ``orchestrate
    promote`` moves nothing and exits 8, until a copy of the pipeline says
    ``allow_downgrades: [libc6]``."""
    prefix = f"{registry}/release"
    flags = ["--registry", prefix, "--no-tls-verify", "--only", "base"]
    built = orchestrate(
        "build", "pipelines/keystone.yaml", "--push", "--no-promote", *flags, state_dir=state_dir
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    repository = f"{prefix}/base"
    stand_in = push(tmp_path / "published", b'{"image": "published"}', f"{repository}:2026.1")
    newer = sbom([("libc6", "9:2.99-1")])
    push(tmp_path / "published-sbom", json.dumps(newer).encode(),
         f"{repository}:{sbom_tag(stand_in)}")  # fmt: skip

    refused = orchestrate("promote", "pipelines/keystone.yaml", *flags, state_dir=state_dir)
    assert refused.returncode == 8, refused.stdout + refused.stderr
    assert "would downgrade libc6 9:2.99-1 ->" in refused.stderr, refused.stderr
    assert digest_of(f"{repository}:2026.1") == stand_in  # nothing moved

    allowing = tmp_path / "keystone.yaml"
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints/", str(ROOT / "constraints") + "/")
    allowing.write_text(text + "allow_downgrades: [libc6]\n")
    allowed = orchestrate("promote", str(allowing), *flags, state_dir=state_dir)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert digest_of(f"{repository}:2026.1") != stand_in


def digest_of(ref: str) -> str:
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return "sha256:" + hashlib.sha256(raw).hexdigest()
