"""Bytecode for the Python distributions a step installed into the venv.

Run by install-project.sh with the venv's python and PYTHONHASHSEED=0 (a set of strings in a
module compiles to a constant whose order follows the hash seed), in a fixed order:

    compile-bytecode.py FILE    compile the distributions whose .dist-info folder is not
                                named in FILE (the venv's, listed before the install)
    compile-bytecode.py --tree DIR...
                                compile every module under each DIR (the system Python's
                                own library, compile-stdlib.sh), replacing the timestamp
                                bytecode dpkg wrote there

The .pyc files are checked-hash (PEP 552): Python validates them against the source's hash,
not its mtime, so they hold in an image whose files all carry the build's date, are the same
in two builds, and are recompiled in memory, never trusted, if a derived image edits the
source. Test packages (a ``tests`` folder, and the standard library's ``test``) are left
out: a service never imports them.
"""

from __future__ import annotations

import importlib.util
import py_compile
import sys
from importlib import metadata
from pathlib import Path


def _sources(dist: metadata.Distribution) -> list[Path]:
    out = []
    for item in dist.files or ():
        if item.suffix != ".py" or "tests" in item.parts or "__pycache__" in item.parts:
            continue
        path = Path(str(item.locate()))
        if path.is_file():
            out.append(path)
    return sorted(out)


def _compile(path: Path) -> bool:
    cfile = importlib.util.cache_from_source(str(path))
    invalidation = py_compile.PycInvalidationMode.CHECKED_HASH
    # A file that is not Python 3 (a template, a py2 example) is skipped, as pip does.
    return bool(
        py_compile.compile(str(path), cfile, doraise=False, quiet=2, invalidation_mode=invalidation)
    )


def compile_tree(roots: list[Path]) -> int:
    """Files compiled under ``roots``, each root's files in path order."""
    files = 0
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root).parts
            if {"test", "tests", "__pycache__"} & set(relative[:-1]) or not path.is_file():
                continue
            files += _compile(path)
    return files


def compile_new(snapshot: Path) -> tuple[int, int]:
    """(distributions, files) compiled: those whose .dist-info folder (named for the
    distribution and its version) ``snapshot`` does not list."""
    before = set(snapshot.read_text().split())
    dists = files = 0
    # In name order, each one's files sorted: marshal's output can follow what the process
    # compiled before, and a folder's listing order is the file system's, not the build's.
    for dist in sorted(metadata.distributions(), key=lambda d: f"{d.metadata['Name']}".lower()):
        folder = getattr(dist, "_path", None)  # PathDistribution's: every venv's
        if folder is not None and Path(folder).name in before:
            continue
        dists += 1
        for path in _sources(dist):
            files += _compile(path)
    return dists, files


def main(argv: list[str]) -> int:
    if sys.flags.hash_randomization:
        # The hash seed orders what a set constant holds; random, two builds could differ.
        print(
            "compile-bytecode: PYTHONHASHSEED=0 is not in effect (set it; -I and -E ignore it)",
            file=sys.stderr,
        )
        return 2
    if len(argv) >= 2 and argv[0] == "--tree":
        roots = [Path(arg) for arg in argv[1:]]
        files = compile_tree([root for root in roots if root.is_dir()])
        print(f"bytecode: {files} modules under {' '.join(argv[1:])} compiled (checked-hash)")
        return 0
    if len(argv) != 1 or argv[0].startswith("--"):
        print("usage: compile-bytecode.py FILE | --tree DIR...", file=sys.stderr)
        return 2
    dists, files = compile_new(Path(argv[0]))
    print(f"bytecode: {files} modules of {dists} distributions compiled (checked-hash)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
