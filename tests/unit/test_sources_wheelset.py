"""Source identities and requirement parsing (no network)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from orchestrator.errors import SourceError
from orchestrator.loading.sources import (
    fetch_local,
    pbr_version,
    sdist_files,
    sdist_requires,
    tree_hash,
)
from orchestrator.model.pipeline import Source
from orchestrator.planning.wheelset import plan_wheels, requirement_name, unpinned


def make_sdist(path: Path, pkg_info: str, requirements: str = "") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("PKG-INFO", pkg_info), ("requirements.txt", requirements)):
            data = text.encode()
            info = tarfile.TarInfo(f"demo-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_sdist_requires_reads_pkg_info(tmp_path: Path) -> None:
    sdist = make_sdist(
        tmp_path / "demo-1.0.tar.gz",
        "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
        "Requires-Dist: pbr>=2.0\nRequires-Dist: oslo.db; extra == 'x'\n",
    )
    assert sdist_requires(sdist) == ("pbr>=2.0", "oslo.db; extra == 'x'")
    assert fetch_local(Source(kind="local", path=sdist)).version == "1.0"


def test_sdist_without_requires_dist_falls_back_to_requirements_txt(tmp_path: Path) -> None:
    sdist = make_sdist(
        tmp_path / "demo-1.0.tar.gz",
        "Name: demo\nVersion: 1.0\n",
        "# comment\npbr>=2.0 # Apache\n-e .\nFlask\n",
    )
    assert sdist_requires(sdist) == ("pbr>=2.0", "Flask")


def test_an_sdists_top_files_are_read_once_per_sha256(tmp_path: Path) -> None:
    """Every command plans: what a plan reads from a fetched sdist is kept in the source
    cache, named by the sdist's sha256; a local sdist is read each time."""
    sdist = make_sdist(tmp_path / "demo-1.0.tar.gz", "Name: demo\nVersion: 1.0\n", "pbr\n")
    memo = tmp_path / "cache" / "sdist-files" / f"{'a' * 64}.json"
    first = sdist_files(sdist, memo)
    assert first == {"PKG-INFO": "Name: demo\nVersion: 1.0\n", "requirements.txt": "pbr\n",
                     "bindep.txt": None}  # fmt: skip
    assert memo.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [
        "cache",
        "demo-1.0.tar.gz",
    ]
    sdist.write_bytes(b"not a tar any more")  # read from the memo, not the file
    assert sdist_files(sdist, memo) == first
    with pytest.raises(SourceError, match="not a readable sdist"):
        sdist_files(sdist)


def test_tree_hash_follows_content_not_vcs(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / ".git").mkdir()
    first = tree_hash(tmp_path)
    (tmp_path / ".git" / "HEAD").write_text("ref\n")
    assert tree_hash(tmp_path) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert tree_hash(tmp_path) != first


def test_pbr_version_from_describe() -> None:
    assert pbr_version("29.0.0-0-gabc", "c" * 40) == "29.0.0"
    assert pbr_version("29.0.0-45-gabcdef1", "c" * 40) == "29.0.1.dev45"
    assert pbr_version("", "c" * 40) == "0.0.0.dev0+gcccccccccccc"


def test_unpinned_keeps_markers_and_wanted_extras() -> None:
    assert unpinned("oslo.db>=6.0") == "oslo.db"
    assert unpinned("pywin32>=1; sys_platform == 'win32'") == "pywin32; sys_platform == 'win32'"
    assert unpinned("ldappool>=2; extra == 'ldap'") is None
    assert unpinned("ldappool>=2; extra == 'ldap'", ["ldap"]) == "ldappool"
    assert unpinned("oslo.messaging[amqp1]>=5") == "oslo.messaging[amqp1]"
    assert requirement_name("Oslo_DB>=1") == "oslo-db"


def test_plan_wheels_pins_toolchain_once() -> None:
    lines = plan_wheels(
        [(("pip>=20", "setuptools", "Flask>=1"), ())],
        ["uwsgi"],
        toolchain=("pip==25.3", "setuptools==80.9.0", "wheel==0.45.1"),
    )
    assert lines == ("Flask", "pbr", "uwsgi", "pip==25.3", "setuptools==80.9.0", "wheel==0.45.1")


def test_a_requirement_upper_constraints_does_not_pin_keeps_its_own_specifier() -> None:
    # skyline-apiserver 8.0.0 requires uvicorn==0.30.1, which upper-constraints leaves out:
    # without its pin the wheels image would hold the newest uvicorn, and its install fail.
    wheels = plan_wheels(
        [
            (
                [
                    "uvicorn==0.30.1",
                    "fastapi>=0.111.0",
                    "oslo.config>=9.0",
                    "pywin32; sys_platform == 'win32'",
                ],
                [],
            )
        ],
        [],
        toolchain=["pip==25.3"],
        constrained={"oslo-config", "fastapi"},
    )
    assert "uvicorn==0.30.1" in wheels and "fastapi" in wheels and "oslo.config" in wheels
    assert "pywin32; sys_platform == 'win32'" in wheels
    # Without the names of upper-constraints, as before: every specifier goes.
    assert "uvicorn" in plan_wheels([(["uvicorn==0.30.1"], [])], [], toolchain=["pip==25.3"])
