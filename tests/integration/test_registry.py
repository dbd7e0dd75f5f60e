"""Push to a real registry (Debian's docker-registry on loopback) and build on a pulled base."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, orchestrate, tags

OCI = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = f"{OCI}, application/vnd.docker.distribution.manifest.v2+json"


def fetch(address: str, path: str, accept: str) -> bytes:
    """GET ``/v2/<path>`` from a plain-HTTP registry."""
    request = urllib.request.Request(f"http://{address}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
        return body


def test_push_sends_every_tag_of_every_node(registry: str, state_dir: Path) -> None:
    proc = orchestrate(
        "build",
        "pipelines/keystone.yaml",
        "--push",
        "--registry",
        f"{registry}/openstack",
        "--no-tls-verify",
        state_dir=state_dir,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for node in ("base", "wheel-builder", "requirements", "keystone"):
        got = tags(registry, f"openstack/{node}")
        assert "2026.1" in got
        (key_tag,) = [tag for tag in got if len(tag) == 20]  # the cache-key tag
        # Its SBOM beside it: cosign's tag for the key tag's digest, one CycloneDX layer.
        manifest = fetch(registry, f"openstack/{node}/manifests/{key_tag}", MANIFEST_TYPES)
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        assert f"sha256-{digest.split(':')[1]}.sbom" in got, got
        artifact = json.loads(
            fetch(registry, f"openstack/{node}/manifests/sha256-{digest[7:]}.sbom", OCI)
        )
        (layer,) = artifact["layers"]
        assert layer["mediaType"] == "application/vnd.cyclonedx+json"
        sbom = json.loads(fetch(registry, f"openstack/{node}/blobs/{layer['digest']}", "*/*"))
        props = {p["name"]: p["value"] for p in sbom["metadata"]["component"]["properties"]}
        assert props["orchestrate:key"].startswith(key_tag), (props, key_tag)


@pytest.mark.scale_out  # a whole wheels build on the pulled base: minutes, in nox -s scale_out
def test_base_from_a_registry_image(registry: str, state_dir: Path, tmp_path: Path) -> None:
    """A pipeline whose base is pulled (keystone.yaml's, pushed here) builds its wheels on it."""
    pushed = orchestrate(
        "build", "pipelines/keystone.yaml", "--only", "base", "--push", "--registry",
        f"{registry}/openstack", "--no-tls-verify", state_dir=state_dir,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace(
        "base:\n  bootstrap: mmdebstrap\n  suite: bookworm\n",
        f"base:\n  from: {registry}/openstack/base:2026.1\n",
    )
    # What a pulled base holds is not known before it is pulled: no refresh: updates.
    text = re.sub(r"(?m)^  refresh: updates.*$", "  refresh: never", text)
    assert f"from: {registry}" in text
    path = tmp_path / "pulled.yaml"
    path.write_text(text)
    proc = orchestrate(
        "build", str(path), "--no-tls-verify", "--only", "requirements", state_dir=state_dir
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^base +built", proc.stdout, re.M), proc.stdout
    assert re.search(r"^requirements +built", proc.stdout, re.M), proc.stdout
