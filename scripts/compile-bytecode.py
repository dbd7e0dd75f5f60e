"""Bytecode for the Python distributions a step installed into the venv.

Run by install-project.sh with the venv's python and PYTHONHASHSEED=0 (a set of strings in a
module compiles to a constant whose order follows the hash seed), in a fixed order:

    compile-bytecode.py FILE    compile the distributions whose .dist-info folder is not
                                named in FILE (the venv's, listed before the install)

The .pyc files are checked-hash (PEP 552): Python validates them against the source's hash,
not its mtime, so they hold in an image whose files all carry the build's date, are the same
in two builds, and are recompiled in memory, never trusted, if a derived image edits the
source. Test packages (a ``tests`` folder) are left out: a service never imports them.
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
            cfile = importlib.util.cache_from_source(str(path))
            invalidation = py_compile.PycInvalidationMode.CHECKED_HASH
            # A file that is not Python 3 (a template, a py2 example) is skipped, as pip does.
            if py_compile.compile(
                str(path), cfile, doraise=False, quiet=2, invalidation_mode=invalidation
            ):
                files += 1
    return dists, files


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: compile-bytecode.py FILE", file=sys.stderr)
        return 2
    dists, files = compile_new(Path(argv[0]))
    print(f"bytecode: {files} modules of {dists} distributions compiled (checked-hash)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
