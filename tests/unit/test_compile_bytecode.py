"""scripts/compile-bytecode.py in a venv of its own: what it compiles and how."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compile-bytecode.py"


def _venv_with_demo(tmp_path: Path) -> tuple[Path, Path]:
    """A venv holding one distribution, demo 1.0: a module, a package and its tests."""
    root = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(root)
    (site,) = root.glob("lib/python3*/site-packages")
    files = ["demo/__init__.py", "demo/core.py", "demo/tests/__init__.py", "demo/tests/t.py"]
    for name in files:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("VALUES = {'a', 'b', 'c'}\n")
    info = site / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    record = [*files, "demo-1.0.dist-info/METADATA", "demo-1.0.dist-info/RECORD"]
    (info / "RECORD").write_text("".join(f"{name},,\n" for name in record))
    return root, site


def _run(root: Path, listed: str) -> subprocess.CompletedProcess[str]:
    """compile-bytecode.py in the venv at ``root``, the folders ``listed`` as there before."""
    before = root.parent / "before"
    before.write_text(listed)
    return subprocess.run(
        [str(root / "bin" / "python"), "-s", str(SCRIPT), str(before)],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "315532800"},
    )


def test_new_distributions_get_checked_hash_bytecode_and_tests_none(tmp_path):
    root, site = _venv_with_demo(tmp_path)
    proc = _run(root, "")
    assert proc.returncode == 0, proc.stderr
    assert "bytecode: 2 modules of 1 distributions compiled (checked-hash)" in proc.stdout
    pycs = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.pyc"))
    tag = sys.implementation.cache_tag
    assert pycs == [f"demo/__pycache__/__init__.{tag}.pyc", f"demo/__pycache__/core.{tag}.pyc"]
    header = (site / pycs[0]).read_bytes()[:8]
    assert int.from_bytes(header[4:8], "little") == 0b11  # checked-hash


def test_distributions_listed_before_are_left_alone(tmp_path):
    root, site = _venv_with_demo(tmp_path)
    proc = _run(root, "other-2.0.dist-info\ndemo-1.0.dist-info\n")
    assert proc.returncode == 0, proc.stderr
    assert "0 modules of 0 distributions" in proc.stdout
    assert not list(site.rglob("*.pyc"))


def test_the_same_sources_give_the_same_bytes(tmp_path):
    """Two builds at the same path (the venv's, in an image) give the same .pyc files."""
    outputs = []
    for _ in range(2):
        shutil.rmtree(tmp_path / "venv", ignore_errors=True)
        root, site = _venv_with_demo(tmp_path)
        assert _run(root, "").returncode == 0
        outputs.append([p.read_bytes() for p in sorted(site.rglob("*.pyc"))])
    assert outputs[0] == outputs[1] and outputs[0]


def test_wrong_arguments_exit_2(tmp_path):
    root, _ = _venv_with_demo(tmp_path)
    proc = subprocess.run(
        [str(root / "bin" / "python"), "-s", str(SCRIPT)],
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "0"},
    )
    assert proc.returncode == 2 and "usage: compile-bytecode.py FILE" in proc.stderr


def _library(tmp_path: Path) -> Path:
    """A library folder like /usr/lib/python3.11: modules, a package, its tests, ``test``,
    a stale timestamp .pyc dpkg would have written, and a file that is not Python 3."""
    lib = tmp_path / "python3.x"
    for name in ("json/__init__.py", "json/tests/t.py", "test/support.py", "os2.py"):
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        (lib / name).write_text("VALUES = {'a', 'b', 'c'}\n")
    (lib / "py2.py").write_text("print 'not python 3'\n")
    stale = lib / "__pycache__" / f"os2.{sys.implementation.cache_tag}.pyc"
    stale.parent.mkdir()
    stale.write_bytes(b"\0\0\0\0\0\0\0\0old")
    return lib


def _tree(*roots: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-s", str(SCRIPT), "--tree", *map(str, roots)],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONHASHSEED": "0"},
    )


def test_a_library_tree_gets_checked_hash_bytecode_but_not_its_tests(tmp_path):
    lib = _library(tmp_path)
    proc = _tree(lib, tmp_path / "absent")
    assert proc.returncode == 0, proc.stderr
    assert "bytecode: 2 modules under" in proc.stdout
    tag = sys.implementation.cache_tag
    pycs = sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*.pyc"))
    assert pycs == [f"__pycache__/os2.{tag}.pyc", f"json/__pycache__/__init__.{tag}.pyc"]
    for pyc in pycs:  # the stale timestamp file replaced too
        header = (lib / pyc).read_bytes()[:8]
        assert int.from_bytes(header[4:8], "little") == 0b11, pyc


def test_a_library_tree_compiles_to_the_same_bytes_twice(tmp_path):
    outputs = []
    for _ in range(2):
        shutil.rmtree(tmp_path / "python3.x", ignore_errors=True)
        lib = _library(tmp_path)
        assert _tree(lib).returncode == 0
        outputs.append([p.read_bytes() for p in sorted(lib.rglob("*.pyc"))])
    assert outputs[0] == outputs[1] and outputs[0]


def test_a_hash_seed_not_in_effect_is_refused(tmp_path):
    """Under -I (or -E) PYTHONHASHSEED is ignored: the seed is random, so the order of a set
    constant could differ between two builds. The script refuses rather than compile."""
    lib = _library(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), "--tree", str(lib)],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONHASHSEED": "0"},
    )
    assert proc.returncode == 2
    assert "PYTHONHASHSEED=0 is not in effect" in proc.stderr
    assert not list(lib.rglob("*.pyc"))[1:]  # only the stale file _library left
