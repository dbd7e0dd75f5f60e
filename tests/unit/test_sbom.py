"""The SBOM: CycloneDX 1.6 JSON from an image's root, valid against the format's schema,
and the same document for the same content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from orchestrator.inspection.image_contents import metadata_files
from orchestrator.inspection.sbom import sbom_json

WHEEL = "oslo_utils-10.0.1-py3-none-any.whl"
DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
License: BSD-3-clause

Files: debian/*
License: GPL-2+
"""


def image_root(root: Path) -> Path:
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: libxslt1.1\nStatus: install ok installed\nArchitecture: amd64\n"
        "Source: libxslt\nVersion: 1.1.35-1+deb12u4\n\n"
        "Package: tzdata\nStatus: install ok installed\nArchitecture: all\n"
        "Version: 2025b-0+deb12u2\n"
    )
    (root / "usr/share/doc/libxslt1.1").mkdir(parents=True)
    (root / "usr/share/doc/libxslt1.1/copyright").write_text(DEP5)
    (root / "etc/image_info").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    site = root / "var/lib/openstack/lib/python3.11/site-packages"
    (site / "oslo_utils-10.0.1.dist-info").mkdir(parents=True)
    (site / "oslo_utils-10.0.1.dist-info/METADATA").write_text(
        "Metadata-Version: 2.1\nName: oslo.utils\nVersion: 10.0.1\n"
        "Classifier: License :: OSI Approved :: Apache Software License\n"
    )
    (root / "etc/image_info/wheels.sha256").write_text(f"{'c' * 64}  {WHEEL}\n")
    (root / "etc/image_info/project.txt").write_text(
        "name=keystone\nversion=29.1.0\nsource=https://pypi.org/project/keystone/29.1.0/\n"
        f"revision={'9' * 64}\n"
    )
    return root


def test_the_sbom_is_valid_cyclonedx_and_names_what_is_installed(tmp_path: Path) -> None:
    text = sbom_json(
        image_root(tmp_path), name="keystone", version="2026.1", properties={"key": "abc"}
    )
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6" and "timestamp" not in doc["metadata"]
    assert doc["metadata"]["component"]["properties"] == [
        {"name": "orchestrate:key", "value": "abc"}
    ]
    by_name = {c["name"]: c for c in doc["components"]}
    xslt = by_name["libxslt1.1"]
    assert (
        xslt["purl"] == "pkg:deb/debian/libxslt1.1@1.1.35-1%2Bdeb12u4?arch=amd64&distro=debian-12"
    )
    assert [lic["license"] for lic in xslt["licenses"]] == [
        {"id": "BSD-3-Clause"},
        {"name": "GPL-2+"},
    ]
    oslo = by_name["oslo-utils"]
    assert oslo["purl"] == "pkg:pypi/oslo-utils@10.0.1"
    assert oslo["hashes"] == [{"alg": "SHA-256", "content": "c" * 64}]  # its wheel
    assert oslo["licenses"] == [{"license": {"name": "Apache Software License"}}]
    project = by_name["keystone"]
    assert project["hashes"] == [{"alg": "SHA-256", "content": "9" * 64}]
    assert project["externalReferences"][0]["url"] == "https://pypi.org/project/keystone/29.1.0/"
    assert "licenses" not in by_name["tzdata"]  # no DEP-5 file: not known, not guessed


def test_the_same_content_gives_the_same_document(tmp_path: Path) -> None:
    first = sbom_json(image_root(tmp_path / "a"), name="k", version="1", properties={})
    second = sbom_json(image_root(tmp_path / "b"), name="k", version="1", properties={})
    assert first == second
    (tmp_path / "b/etc/image_info/wheels.sha256").write_text(f"{'d' * 64}  {WHEEL}\n")
    third = sbom_json(tmp_path / "b", name="k", version="1", properties={})
    assert third != first


def test_a_wheels_image_lists_its_wheels_with_their_hashes(tmp_path: Path) -> None:
    root = image_root(tmp_path)
    (root / "wheels").mkdir()
    (root / "wheels" / WHEEL).write_bytes(b"not really a zip")
    doc = json.loads(sbom_json(root, name="requirements", version="1", properties={}))
    wheel = next(c for c in doc["components"] if c["bom-ref"] == f"wheel:{WHEEL}")
    assert wheel["hashes"][0]["content"] == hashlib.sha256(b"not really a zip").hexdigest()


def test_the_metadata_files_are_the_ones_a_recursive_glob_finds(tmp_path: Path) -> None:
    """The SBOM's distributions are found by a walk, not pathlib's slow recursive glob: the
    same files in the same order, symlinks treated alike (a symlinked folder is not walked
    into; a symlinked *-packages or *.dist-info folder is read)."""
    root = tmp_path / "root"

    def dist(site: str, name: str) -> None:
        info = root / site / f"{name}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Name: {name}\nVersion: 1\n")

    dist("usr/lib/python3/dist-packages", "b_pkg-1")
    dist("var/lib/openstack/lib/python3.11/site-packages", "a_pkg-2")
    dist("opt/deep/a/b/c/site-packages", "c-3")
    (root / "var/lib/openstack/lib/python3.11/site-packages/nometa.dist-info").mkdir()
    (root / "linked").symlink_to(root / "opt")  # not walked into: no duplicates
    (root / "usr/lib/x-packages").symlink_to(root / "usr/lib/python3/dist-packages")
    (root / "usr/lib/python3/dist-packages/alias.dist-info").symlink_to(
        root / "opt/deep/a/b/c/site-packages/c-3.dist-info"
    )
    (root / "srv").mkdir()
    (root / "srv/not-packages").write_text("a file, not a folder")
    expected = sorted(root.glob("**/*-packages/*.dist-info/METADATA"))
    assert metadata_files(root) == expected
    assert len(expected) == 6
