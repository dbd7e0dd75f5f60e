"""scripts/sweep-bytecode.py (cleanup.sh's bytecode sweep), run with the host's python on
folders laid out like a venv and a system library: what goes and what stays."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SWEEP = ROOT / "scripts" / "sweep-bytecode.py"
EPOCH = 315532800
MODE = py_compile.PycInvalidationMode


def _module(folder: Path, name: str, *, checked: bool | MODE, mtime: int | None = None) -> Path:
    """``folder/name.py`` and its bytecode: checked-hash (True), timestamp (False) or the
    mode given; the .pyc dated ``mtime`` when given."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.py"
    source.write_text(f"NAME = {name!r}\n")
    if isinstance(checked, bool):
        checked = MODE.CHECKED_HASH if checked else MODE.TIMESTAMP
    cfile = py_compile.compile(str(source), invalidation_mode=checked, doraise=True)
    pyc = Path(cfile)
    if mtime is not None:
        os.utime(pyc, (mtime, mtime))
    return pyc


def _sweep(*args: object) -> None:
    subprocess.run([sys.executable, "-I", "-B", str(SWEEP), *map(str, args)], check=True)


def test_the_venv_keeps_only_checked_hash_bytecode(tmp_path: Path) -> None:
    venv = tmp_path / "venv" / "lib" / "site-packages"
    kept = _module(venv / "kept", "a", checked=True)
    stray = _module(venv / "kept", "b", checked=False)
    lone = _module(venv / "lone", "c", checked=False)
    _sweep(EPOCH, tmp_path / "venv")
    assert kept.is_file() and not stray.exists()
    # A __pycache__ the sweep emptied goes; the package folder with its source stays.
    assert not lone.parent.exists() and (venv / "lone" / "c.py").is_file()


def test_unchecked_hash_bytecode_goes_and_folders_it_did_not_empty_stay(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    unchecked = _module(venv / "lib", "unchecked", checked=MODE.UNCHECKED_HASH)
    # A venv's empty folders (include/python3.X) are not the sweep's to remove.
    (venv / "include" / "python3.11").mkdir(parents=True)
    _sweep(EPOCH, venv)
    assert not unchecked.exists()
    assert (venv / "include" / "python3.11").is_dir()


def test_the_system_library_keeps_only_the_earlier_checked_bytecode(tmp_path: Path) -> None:
    stdlib = tmp_path / "usr" / "lib" / "python3"
    base = _module(stdlib, "base", checked=True, mtime=EPOCH)
    # dpkg's py3compile in this node: timestamp bytecode, or any file dated after the epoch.
    dpkg = _module(stdlib / "email", "dpkg", checked=False, mtime=EPOCH)
    newer = _module(stdlib, "newer", checked=True, mtime=EPOCH + 60)
    _sweep(EPOCH, "", stdlib)
    assert base.is_file()
    assert not dpkg.exists() and not dpkg.parent.exists()
    assert not newer.exists()


def test_without_arguments_it_says_how_it_is_called(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SWEEP)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "usage: sweep-bytecode.py EPOCH VENV" in result.stderr


def test_uv_cache_records_go_with_their_record_line(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "site-packages"
    info = site / "keystone-29.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "uv_cache.json").write_text('{"timestamp": 1}')
    lines = [
        "keystone/__init__.py,sha256=abc,10\n",
        "keystone-29.1.0.dist-info/uv_cache.json,sha256=def,16\n",
        "keystone-29.1.0.dist-info/RECORD,,\n",
    ]
    (info / "RECORD").write_text("".join(lines))
    # The same name outside a .dist-info folder is someone's data: it stays.
    data = site / "keystone" / "uv_cache.json"
    data.parent.mkdir()
    data.write_text("{}")
    _sweep(EPOCH, tmp_path / "venv")
    assert not (info / "uv_cache.json").exists()
    assert (info / "RECORD").read_text() == lines[0] + lines[2]
    assert data.exists()
