"""The host's cache of project wheels: what the keep step stores, refuses and prunes, and the
fingerprint scripts/project-wheel-key.py computes in the container."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from orchestrator.execution.project_wheels import KEEP_DAYS, TAKEN, StoreError, main, store

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "project-wheel-key.py"
SDIST = "a" * 64
FP = "b" * 64
NOW = 1_800_000_000.0


def _left(out: Path, name: str = "keystone-29.1.0-py3-none-any.whl", fp: str = FP) -> Path:
    """What install-project.sh leaves after building: OUT/<fingerprint>/<wheel>."""
    (out / fp).mkdir(parents=True)
    wheel = out / fp / name
    wheel.write_bytes(b"wheel")
    return wheel


def test_a_built_wheel_is_kept_under_its_sdist_and_fingerprint(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    _left(out)
    line = store(out, cache, SDIST, now=NOW)
    assert "kept for later builds" in line
    kept = cache / SDIST / FP / "keystone-29.1.0-py3-none-any.whl"
    assert kept.read_bytes() == b"wheel"
    assert [p.name for p in (cache / SDIST).iterdir()] == [FP]  # no staging folder left
    assert "already kept" in store(out, cache, SDIST, now=NOW)


def test_taking_a_wheel_marks_its_entry_used(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    entry = cache / SDIST / FP
    entry.mkdir(parents=True)
    os.utime(entry, (1.0, 1.0))
    out.mkdir()
    (out / TAKEN).write_text(FP + "\n")
    assert "taken from the cache" in store(out, cache, SDIST, now=NOW)
    assert entry.stat().st_mtime == NOW


def test_a_compiled_wheel_is_not_kept(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    _left(out, "demo-1.0-cp311-cp311-linux_x86_64.whl")
    assert "not kept (only pure-Python wheels are)" in store(out, cache, SDIST, now=NOW)
    assert not (cache / SDIST).exists()


@pytest.mark.parametrize(
    "make",
    [
        lambda out: (_left(out), _left(out, fp="c" * 64)),  # two fingerprints
        lambda out: (out / "not-a-fingerprint").mkdir(parents=True),
        lambda out: (_left(out), (out / FP / "second.whl").write_bytes(b"x")),
        lambda out: ((out / FP).mkdir(parents=True), (out / FP / "w.whl").symlink_to("/etc/x")),
    ],
)
def test_anything_else_left_by_the_step_fails_it(tmp_path: Path, make) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    make(out)
    with pytest.raises(StoreError):
        store(out, cache, SDIST, now=NOW)
    assert main([str(out), str(cache), SDIST]) == 1
    assert not cache.exists()


def test_nothing_left_keeps_nothing_and_the_sdist_must_be_a_sha256(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert "none to keep" in store(out, tmp_path / "cache", SDIST, now=NOW)
    with pytest.raises(StoreError, match="not a sha256"):
        store(out, tmp_path / "cache", "../x", now=NOW)


def test_entries_unused_for_the_keep_period_go_when_a_wheel_is_stored(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    old, recent = cache / ("d" * 64), cache / ("e" * 64)
    for folder, age in ((old, KEEP_DAYS + 1), (recent, KEEP_DAYS - 1)):
        (folder / FP).mkdir(parents=True)
        stamp = NOW - age * 86400
        os.utime(folder, (stamp, stamp))
    _left(out)
    assert "1 unused for 30 days removed" in store(out, cache, SDIST, now=NOW)
    assert not old.exists() and recent.exists()


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires) + "\nlong description\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return path


def _sdist(folder: Path, pyproject: str | None) -> Path:
    path = folder / "demo-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        files = {"demo-1.0/setup.py": "import setuptools\n"}
        if pyproject is not None:
            files["demo-1.0/pyproject.toml"] = pyproject
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return path


def _key(sdist: Path, wheels: Path, frontend: str = "uv 0.9.0") -> str:
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), str(sdist), str(wheels), frontend],
        capture_output=True,
        text=True,
        check=True,
        env={"SOURCE_DATE_EPOCH": "315532800"},
    )
    key = done.stdout.strip()
    assert len(key) == 64 and int(key, 16) >= 0
    return key


def test_the_fingerprint_follows_the_build_backend_and_its_requirements(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "hatchling", "1.27.0", ["pathspec>=0.10", "packaging; python_version>'3'"])
    _wheel(wheels, "pathspec", "0.12.1", [])
    _wheel(wheels, "packaging", "25.0", [])
    _wheel(wheels, "setuptools", "80.0.0", [])
    oslo = _wheel(wheels, "oslo_utils", "10.0.1", [])
    sdist = _sdist(tmp_path, '[build-system]\nrequires = ["hatchling>=1.2"]\n')
    first = _key(sdist, wheels)
    assert _key(sdist, wheels) == first  # the same inputs, the same fingerprint
    # A runtime library of the wheelhouse moved (the nightly's case): the same fingerprint.
    oslo.unlink()
    _wheel(wheels, "oslo_utils", "10.0.0", [])
    assert _key(sdist, wheels) == first
    # A requirement of the backend (by its METADATA, markers and all) moved: a new one.
    (wheels / "packaging-25.0-py3-none-any.whl").unlink()
    _wheel(wheels, "packaging", "26.0", [])
    second = _key(sdist, wheels)
    assert second != first
    # Setuptools is always in (setup_requires), and so is the frontend.
    _wheel(wheels, "setuptools", "80.0.0", ["a-new-requirement"])  # the same name, rebuilt
    third = _key(sdist, wheels)
    assert third != second
    assert _key(sdist, wheels, "uv 0.9.1") != third


def test_the_fingerprint_uses_the_wheelhouse_sums_when_it_has_them(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    pbr = _wheel(wheels, "pbr", "7.0.0", ["setuptools"])
    sdist = _sdist(tmp_path, None)  # no pyproject.toml: PEP 517's setuptools, and pbr
    without = _key(sdist, wheels)
    sha = hashlib.sha256(pbr.read_bytes()).hexdigest()
    (wheels / "SHA256SUMS").write_text(f"{sha}  ./{pbr.name}\n")
    assert _key(sdist, wheels) == without  # the same sha256, read rather than computed
    (wheels / "SHA256SUMS").write_text(f"{'0' * 64}  ./{pbr.name}\n")
    assert _key(sdist, wheels) != without


def test_a_damaged_sdist_gives_no_fingerprint(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), str(bad), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert str(bad) in done.stderr
