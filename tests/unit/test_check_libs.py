"""scripts/check-libs.sh, run on the host's own libraries: every ELF file of a venv is checked
with ldd, and each one linking to a library that is not there is named with that library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHECK_LIBS = ROOT / "scripts" / "check-libs.sh"
LIBZ = Path("/usr/lib/x86_64-linux-gnu/libz.so.1")

pytestmark = pytest.mark.skipif(
    not LIBZ.is_file() or shutil.which("ldd") is None, reason="needs ldd and libz (amd64)"
)


def _linking_to(path: Path, library: bytes) -> None:
    """A copy of libz whose DT_NEEDED libc.so.6 is renamed ``library`` (the same length)."""
    data = LIBZ.resolve().read_bytes()
    assert data.count(b"libc.so.6\x00") == 1 and len(library) == len(b"libc.so.6")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.replace(b"libc.so.6\x00", library + b"\x00"))


def _check(venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CHECK_LIBS)],
        env={"VENV": str(venv), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_file_linking_to_a_missing_library_is_named(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    _linking_to(site / "a" / "one.cpython-311-x86_64-linux-gnu.so", b"libq.so.6")
    _linking_to(site / "b" / "two.so.1", b"libr.so.6")
    shutil.copy(LIBZ.resolve(), site / "fine.so")
    # A static program (no libraries to resolve) and a script are not failures.
    (venv / "bin").mkdir()
    if Path("/sbin/ldconfig").is_file():
        shutil.copy("/sbin/ldconfig", venv / "bin" / "static")
    script = venv / "bin" / "tool"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    result = _check(venv)
    assert result.returncode == 1, result
    errors = result.stderr.splitlines()
    assert errors[:2] == [
        f"ERROR: {site}/a/one.cpython-311-x86_64-linux-gnu.so: libq.so.6",
        f"ERROR: {site}/b/two.so.1: libr.so.6",
    ], result.stderr
    assert "add them to dist_packages" in errors[2]


def test_a_venv_whose_libraries_resolve_passes_one_file_or_none(tmp_path: Path) -> None:
    # One file: ldd names it only because /bin/true is given first.
    venv = tmp_path / "venv"
    (venv / "lib").mkdir(parents=True)
    shutil.copy(LIBZ.resolve(), venv / "lib" / "z.so")
    result = _check(venv)
    assert result.returncode == 0, result
    assert result.stdout.strip() == "check-libs: every shared library resolves (1 ELF files)"
    # A library bundled by auditwheel (<dist>.libs/) is checked through its extension only.
    _linking_to(venv / "lib" / "dist.libs" / "bundled.so", b"libq.so.6")
    assert _check(venv).returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _check(empty).stdout.strip().endswith("(0 ELF files)")
