"""Push to a real registry (Debian's docker-registry on loopback) and build on a pulled base."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import ROOT, orchestrate, tags


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
    for node in ("base", "requirements", "keystone"):
        got = tags(registry, f"openstack/{node}")
        assert "2026.1" in got
        assert any(len(tag) == 20 for tag in got), got  # the cache-key tag


def test_base_from_a_registry_image(registry: str, state_dir: Path, tmp_path: Path) -> None:
    """A pipeline whose base is pulled (here: the base pushed above) builds keystone on it."""
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace(
        "base:\n  bootstrap: mmdebstrap\n  suite: bookworm\n",
        f"base:\n  from: {registry}/openstack/base:2026.1\n",
    )
    assert f"from: {registry}" in text
    path = tmp_path / "pulled.yaml"
    path.write_text(text)
    proc = orchestrate(
        "build", str(path), "--no-tls-verify", "--only", "requirements", state_dir=state_dir
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "base          built" in proc.stdout
    assert "requirements  built" in proc.stdout
