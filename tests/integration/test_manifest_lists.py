"""A manifest-list node for real, in seconds: two tiny images (amd64 and arm64, no emulation
needed to make them) named as keystone@amd64's and keystone@arm64's key images, the list
node's steps and push run with buildah, the release tag promoted with skopeo, and each
platform pulled back from the one tag with ``podman pull --arch``. The whole chain under
emulation is ``nox -s multiarch``'s."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.engine.buildah import RegistryAccess
from orchestrator.engine.registry import Registry
from orchestrator.engine.runner import ShRunner
from orchestrator.engine.storage import Storage
from orchestrator.execution.buildah_executor import BuildahExecutor
from orchestrator.execution.promote import promote
from tests.integration.conftest import ROOT, tags
from tests.unit.test_plan import plans_of

# buildah pushes an OCI index for OCI members (a Docker list for Docker ones).
LISTS = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout.strip()


def tiny_image(arch: str, name: str, folder: Path) -> None:
    """A scratch image of ``arch`` holding one file that names it."""
    payload = folder / f"hello-{arch}"
    payload.write_text(arch)
    container = sh("buildah", "from", "--arch", arch, "--os", "linux", "scratch")
    try:
        sh("buildah", "copy", container, str(payload), "/hello")
        sh("buildah", "commit", "--quiet", container, name)
    finally:
        sh("buildah", "rm", container)


@pytest.fixture
def namespace() -> Iterator[str]:
    """A namespace of this test's own; every image in it is removed after."""
    name = f"localhost/orchestrate-lists-{uuid.uuid4().hex[:8]}"
    yield name
    listed = sh("buildah", "images", "--format", "{{.Name}}:{{.Tag}}").split()
    mine = [image for image in listed if image.startswith(f"{name}/")]
    storage = Storage(ShRunner())
    lists = [image for image in mine if storage.is_manifest_list(image)]
    storage.remove_images(lists)
    rest = [image for image in mine if image not in lists]
    if rest:
        subprocess.run(["buildah", "rmi", "--force", *rest], capture_output=True, check=False)


def test_one_tag_serves_each_platform(registry: str, namespace: str, tmp_path: Path) -> None:
    pipeline = tmp_path / "multi.yaml"
    text = (ROOT / "pipelines" / "keystone-multiarch.yaml").read_text()
    pipeline.write_text(text.replace("../constraints", str(ROOT / "constraints")))
    plans = plans_of(
        pipeline,
        cli={
            "namespace": namespace,
            "push": True,
            "registry": f"{registry}/lists",
            "tls_verify": False,
        },
        state=tmp_path / "state",
    )
    members = {arch: plans[f"keystone@{arch}"] for arch in ("amd64", "arm64")}
    for arch, plan in members.items():
        tiny_image(arch, plan.image, tmp_path)
    listed = plans["keystone"]
    for step in (*listed.steps, *listed.push, *listed.release):
        sh(*step.argv)
    storage = Storage(ShRunner())
    assert storage.is_manifest_list(listed.image)
    assert not storage.is_manifest_list(listed.candidate)  # untagged, never rmi'd
    # Both members are still there (``rmi`` of a list would have removed the host's).
    assert all(storage.image_id(plan.image) for plan in members.values())
    executor = BuildahExecutor(runner=ShRunner(), host_env={})
    assert executor.decide(listed).reuse  # a second run reuses the list

    access = RegistryAccess(tls_verify=False)
    done = promote({"keystone": listed}, Registry(ShRunner(), access), parallel=1)
    assert done.promoted == [f"{registry}/lists/keystone:2026.1"]
    assert {"2026.1", listed.key_tag} <= tags(registry, "lists/keystone")
    raw = json.loads(sh("skopeo", "inspect", "--raw", "--tls-verify=false",
                        f"docker://{registry}/lists/keystone:2026.1"))  # fmt: skip
    assert raw["mediaType"] in LISTS
    assert sorted(m["platform"]["architecture"] for m in raw["manifests"]) == ["amd64", "arm64"]

    pulled = f"{registry}/lists/keystone:2026.1"
    try:
        for arch in ("arm64", "amd64"):
            image_id = sh("podman", "pull", "-q", "--tls-verify=false", "--arch", arch, pulled)
            facts = sh("podman", "image", "inspect", "--format", "{{.Architecture}}", image_id)
            assert facts == arch
            assert image_id == storage.image_id(members[arch].image)  # that platform's image
    finally:
        subprocess.run(["podman", "untag", pulled, pulled], capture_output=True, check=False)
    # Removing the list by name leaves its members.
    storage.remove_images([listed.image])
    assert not storage.is_manifest_list(listed.image)
    assert all(storage.image_id(plan.image) for plan in members.values())
