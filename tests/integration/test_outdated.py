"""``orchestrate outdated`` against a real Debian-format archive: made with the tools Debian
ships (dpkg-deb, dpkg-scanpackages, apt-ftparchive), served on loopback, and named by the
apt sources of an image built from the keystone run's base (a site with its own mirror).
Up to date first; then a newer libssl3 published in the archive's -security suite is
reported as a security update, with exit code 6."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import EXIT_OK, EXIT_OUTDATED
from tests.integration.archive_server import Archive, sh
from tests.integration.conftest import orchestrate

PACKAGE = "libssl3"
SUITES = ("bookworm", "bookworm-updates", "bookworm-security")


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    served = Archive(tmp_path / "archive")
    yield served
    served.close()


@pytest.fixture
def site_image(keystone_run: dict[str, object], archive: Archive) -> Iterator[tuple[str, str]]:
    """The keystone run's base with its apt sources on the test archive; (image, the version
    of PACKAGE it holds)."""
    nodes = {n["node"]: n for n in keystone_run["nodes"]}  # type: ignore[attr-defined]
    base = str(nodes["base"]["image"])
    image = f"localhost/orchestrate-test/outdated-probe:{os.getpid()}"
    container = sh("buildah", "from", "--pull=never", base).strip()
    try:
        sources = archive.root.parent / "sources.list"
        sources.write_text("".join(f"deb {archive.url} {s} main\n" for s in SUITES))
        sh("buildah", "copy", container, str(sources), "/etc/apt/sources.list")
        sh("buildah", "commit", "--quiet", container, image)
        root = sh("buildah", "mount", container).strip()
        sbom = json.loads((Path(root) / "etc/image_info/sbom.cdx.json").read_text())
        sh("buildah", "umount", container)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
    (installed,) = [c["version"] for c in sbom["components"] if c.get("name") == PACKAGE]
    yield image, installed
    subprocess.run(["buildah", "rmi", image], capture_output=True, check=False)


def test_a_security_update_in_the_archive_is_reported(
    archive: Archive, site_image: tuple[str, str], state_dir: Path
) -> None:
    image, installed = site_image
    for suite in SUITES:
        archive.publish(suite, {PACKAGE: installed} if suite == "bookworm" else {})
    same = orchestrate("outdated", image, state_dir=state_dir)
    assert same.returncode == EXIT_OK, same.stdout + same.stderr
    assert same.stdout.strip() == f"{image}: up to date ({', '.join(SUITES)})"

    fixed = f"{installed}+fix1"
    archive.publish("bookworm-security", {PACKAGE: fixed})
    found = orchestrate("outdated", image, "--json", state_dir=state_dir)
    assert found.returncode == EXIT_OUTDATED, found.stdout + found.stderr
    (report,) = json.loads(found.stdout)["images"]
    assert report["packages"] == [
        {
            "name": PACKAGE,
            "installed": installed,
            "available": fixed,
            "suite": "bookworm-security",
            "security": True,
        }
    ]
    table = orchestrate("outdated", image, state_dir=state_dir)
    assert table.returncode == EXIT_OUTDATED
    assert f"{fixed}  bookworm-security (security)" in table.stdout
    assert f"{image}: 1 packages outdated (1 security)" in table.stdout


def test_a_pipelines_images_match_its_pins(
    keystone_run: dict[str, object], state_dir: Path
) -> None:
    """pipelines/keystone.yaml's images (found through the history, as built by the run)
    against today's archive and the pipeline's pins: each node reported, and none of their
    venv distributions differs from the upper-constraints they were built under."""
    proc = orchestrate("outdated", "pipelines/keystone.yaml", "--json", state_dir=state_dir)
    assert proc.returncode in (EXIT_OK, EXIT_OUTDATED), proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    nodes = {n["node"] for n in keystone_run["nodes"]}  # type: ignore[attr-defined]
    assert {r["name"] for r in document["images"]} == nodes and document["notes"] == []
    assert all(r["distributions"] == [] for r in document["images"]), document
