"""``orchestrate registry prune`` against the TLS registry (Debian's docker-registry with a
self-signed certificate and htpasswd auth): a nightly's dated tags of keystone, the older
ones deleted with their SBOM artifact and signatures, the ones a release tag or a kept tag
still needs held, and --dry-run deleting nothing."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.engine.attachments import push_layout, sbom_tag, write_layout
from orchestrator.engine.buildah import RegistryAccess
from orchestrator.engine.signing import signature_dir
from tests.integration.conftest import ROOT, orchestrate
from tests.registry_server import TlsRegistry

NIGHTLY = 'tags: ["master", "master-{date}"]\n'
# date -> the image it points to (one per letter); "master" points to b, "stable" (made by
# hand) to c.
DATED = {
    "20261129": "f",
    "20261130": "e",  # an unchanged image: the same as the newest
    "20261201": "a",
    "20261202": "b",
    "20261203": "c",
    "20261204": "d",
    "20261205": "e",
}
OTHER_TAGS = {"master": "b", "stable": "c"}


def sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def copy(access: RegistryAccess, source: str, destination: str) -> None:
    """A tag copy inside the registry (the manifest only)."""
    sh(
        "skopeo", "copy", "--quiet", "--preserve-digests",
        *access.options(prefix="src-"), *access.options(prefix="dest-"),
        f"docker://{source}", f"docker://{destination}",
    )  # fmt: skip


def tag_list(registry: TlsRegistry, repository: str) -> set[str]:
    out = sh(
        "skopeo", "list-tags", *registry.client_options(),
        f"docker://{registry.address}/{repository}",
    )  # fmt: skip
    return set(json.loads(out)["Tags"])


def push_tiny(registry: TlsRegistry, label: str, destination: str, folder: Path) -> str:
    """A one-label image from scratch pushed to ``destination``; its digest."""
    container = sh("buildah", "from", "scratch")
    image = f"localhost/orchestrate-test/prune-{label}:{os.getpid()}"
    digest = folder / f"{label}.digest"
    try:
        sh("buildah", "config", "--label", f"nightly={label}", container)
        sh("buildah", "commit", "--quiet", container, image)
        sh(
            "buildah", "push", "--quiet", *registry.client_options(),
            "--digestfile", str(digest), image, f"docker://{destination}",
        )  # fmt: skip
        return digest.read_text().strip()
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
        subprocess.run(["buildah", "rmi", image], capture_output=True, check=False)


@pytest.fixture
def nightly_tags(tls_registry: TlsRegistry, tmp_path: Path) -> Iterator[dict[str, str]]:
    """keystone's repository as seven nightlies left it: six tiny images (a to f) under
    dated tags, "master" on b, "stable" on c, a's SBOM artifact and a's signatures in the
    lookaside; letter -> digest."""
    repository = f"{tls_registry.address}/openstack/keystone"
    access = RegistryAccess(
        cert_dir=str(tls_registry.cert_dir), authfile=str(tls_registry.authfile)
    )
    digests: dict[str, str] = {}
    for date, letter in sorted(DATED.items()):
        tag = f"master-{date}"
        if letter in digests:  # the same image again: a tag copy inside the registry
            copy(access, f"{repository}@{digests[letter]}", f"{repository}:{tag}")
            continue
        digests[letter] = push_tiny(tls_registry, letter, f"{repository}:{tag}", tmp_path)
    for tag, letter in OTHER_TAGS.items():
        copy(access, f"{repository}@{digests[letter]}", f"{repository}:{tag}")
    layout = tmp_path / "sbom-layout"
    write_layout(layout, b'{"bomFormat": "CycloneDX"}')
    subprocess.run(
        push_layout(layout, f"{repository}:{sbom_tag(digests['a'])}", access), check=True,
        capture_output=True,
    )  # fmt: skip
    signatures = signature_dir(tmp_path / "lookaside", f"{repository}:master", digests["a"])
    signatures.mkdir(parents=True)
    (signatures / "signature-1").write_bytes(b"signed")
    yield digests


def prune(
    registry: TlsRegistry, pipeline: Path, lookaside: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return orchestrate(
        "registry", "prune", str(pipeline), "--keep", "2",
        "--registry", f"{registry.address}/openstack",
        "--cert-dir", str(registry.cert_dir), "--authfile", str(registry.authfile),
        "--lookaside", str(lookaside), *extra,
        state_dir=lookaside.parent / "state",
    )  # fmt: skip


def test_older_dated_tags_go_with_their_sbom_and_signatures_and_needed_ones_stay(
    tls_registry: TlsRegistry, nightly_tags: dict[str, str], tmp_path: Path
) -> None:
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace('tags: ["{release}"]\n', NIGHTLY)
    assert NIGHTLY in text
    pipeline = tmp_path / "nightly-keystone.yaml"
    pipeline.write_text(text)
    lookaside = tmp_path / "lookaside"
    before = tag_list(tls_registry, "openstack/keystone")
    sbom = sbom_tag(nightly_tags["a"])
    repository = f"{tls_registry.address}/openstack/keystone"
    signatures = signature_dir(lookaside, f"{repository}:master", nightly_tags["a"])
    assert sbom in before and signatures.is_dir()

    dry = prune(tls_registry, pipeline, lookaside, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"would delete {repository}:master-20261201 ({nightly_tags['a'][:19]})" in dry.stdout
    assert f"would delete {repository}:{sbom} (its SBOM)" in dry.stdout
    assert dry.stdout.strip().endswith("2 dated tags would be deleted, 2 kept")
    assert tag_list(tls_registry, "openstack/keystone") == before and signatures.is_dir()

    done = prune(tls_registry, pipeline, lookaside)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"deleted {repository}:master-20261201 ({nightly_tags['a'][:19]})" in lines
    assert f"deleted {repository}:master-20261129 ({nightly_tags['f'][:19]})" in lines
    assert f"held {repository}:master-20261202: tag 'master' points to its image" in lines
    assert f"held {repository}:master-20261203: tag 'stable' points to its image" in lines
    assert (
        f"held {repository}:master-20261130: kept tag 'master-20261205' shares its image" in lines
    )
    assert f"deleted {repository}:{sbom} (its SBOM)" in lines
    assert f"deleted signatures {signatures}" in lines
    assert lines[-1] == "2 dated tags deleted, 2 kept"
    after = tag_list(tls_registry, "openstack/keystone")
    assert after == before - {"master-20261201", "master-20261129", sbom}
    assert not signatures.exists()
    assert tls_registry.digest("openstack/keystone", "master") == nightly_tags["b"]
    assert tls_registry.digest("openstack/keystone", "stable") == nightly_tags["c"]
    # Run again: nothing left to delete.
    again = prune(tls_registry, pipeline, lookaside)
    assert again.stdout.strip().splitlines()[-1] == "0 dated tags deleted, 2 kept"


def test_a_pipelines_retention_prunes_after_its_tags_are_promoted(
    tls_registry: TlsRegistry,
    nightly_tags: dict[str, str],
    keystone_run: dict[str, object],
    state_dir: Path,
    tmp_path: Path,
) -> None:
    """``retention: {keep: 2}``: ``orchestrate promote`` (a CI engine's last job) moves each
    node's master and today's dated tag onto its key tag (pushed by build hosts: stood in for
    here by tiny images, promotion moves tags and never reads layers), then deletes the older
    dated tags no other tag needs."""
    for node in keystone_run["nodes"]:  # type: ignore[attr-defined]
        name, key_tag = str(node["image"]).rsplit("/", 1)[1].split(":")
        destination = f"{tls_registry.address}/openstack/{name}:{key_tag}"
        push_tiny(tls_registry, f"key-{name}", destination, tmp_path)
    repository = f"{tls_registry.address}/openstack/keystone"
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace('tags: ["{release}"]\n', NIGHTLY + "retention: {keep: 2}\n")
    pipeline = tmp_path / "nightly-keystone.yaml"
    pipeline.write_text(text)
    lookaside = tmp_path / "lookaside"
    signatures = signature_dir(lookaside, f"{repository}:master", nightly_tags["a"])
    assert signatures.is_dir()

    proc = orchestrate(
        "promote", str(pipeline), "--only", "keystone",
        "--registry", f"{tls_registry.address}/openstack",
        "--cert-dir", str(tls_registry.cert_dir), "--authfile", str(tls_registry.authfile),
        "--lookaside", str(lookaside),
        state_dir=state_dir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dated = sorted(t for t in tag_list(tls_registry, "openstack/keystone") if "-2026" in t)
    today = dated[-1]
    assert today > "master-20261205"
    lines = proc.stdout.splitlines()
    assert f"promoted: {repository}:master" in lines and f"promoted: {repository}:{today}" in lines
    # master moved off b, so b's tag goes too; c is held by stable, 20261130 by the kept e.
    for date, letter in (
        ("20261129", "f"),
        ("20261201", "a"),
        ("20261202", "b"),
        ("20261204", "d"),
    ):
        deleted = f"retention: deleted {repository}:master-{date} ({nightly_tags[letter][:19]})"
        assert deleted in lines, proc.stdout
    assert f"retention: held {repository}:master-20261203: tag 'stable' points to its image" in (
        lines
    )
    assert f"retention: deleted signatures {signatures}" in lines
    # keystone keeps two; base, wheel-builder and requirements their one dated tag, today's.
    kept = 2 + len(keystone_run["nodes"]) - 1  # type: ignore[arg-type]
    assert lines[-1] == f"retention: 4 dated tags deleted, {kept} kept"
    left = {t for t in tag_list(tls_registry, "openstack/keystone") if t.startswith("master-")}
    assert left == {"master-20261130", "master-20261203", "master-20261205", today}
    assert not signatures.exists()
