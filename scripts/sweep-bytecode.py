"""Remove the bytecode a build must not keep; run by cleanup.sh with the image's python.

    sweep-bytecode.py EPOCH VENV [SYSTEM_ROOT...]

In VENV (may be empty: none), every ``.pyc`` that is not checked-hash (PEP 552) goes: the
checked-hash files install-project.sh compiled are valid whatever the files' dates and the
same in two builds; a timestamp one (a step's python wrote it) is neither. Under each
SYSTEM_ROOT (the system Python's library), a checked-hash file dated EPOCH or earlier stays
(compile-stdlib.sh's, in an earlier node: commit dated it EPOCH); anything this node wrote
goes (dpkg's py3compile, which compiles several files per process with a random hash seed:
not the same in two builds). A folder the sweep empties goes too.

In VENV, uv's ``uv_cache.json`` goes too, with its line in the distribution's RECORD: uv
records there when and from which cache entry it installed the distribution, different in
every build.

os.walk, bottom up (a folder is emptied before its parent is looked at): a third of what
pathlib's rglob cost on the 7,000 files of cinder's venv (0.11 CPU-s, not 0.27).
"""

from __future__ import annotations

import os
import sys

CHECKED_HASH = 0b11  # the flags word of a checked-hash .pyc: hash-based, checked


UV_CACHE_INFO = "uv_cache.json"


def forget_uv_cache(dist_info: str) -> None:
    """Remove uv's ``uv_cache.json`` from a ``.dist-info`` folder, and its RECORD line."""
    os.unlink(os.path.join(dist_info, UV_CACHE_INFO))
    record = os.path.join(dist_info, "RECORD")
    if not os.path.isfile(record):
        return
    entry = f"{os.path.basename(dist_info)}/{UV_CACHE_INFO},"
    with open(record, "r+b") as f:
        lines = f.read().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith(entry.encode())]
        if kept != lines:
            f.seek(0)
            f.writelines(kept)
            f.truncate()


def sweep(root: str, epoch: int, *, earlier_only: bool, venv: bool = False) -> int:
    """Remove the ``.pyc`` files under ``root`` that may not stay (and, in a ``venv``, uv's
    cache records); how many ``.pyc`` went."""
    removed = 0
    for folder, _, files in os.walk(root, topdown=False):
        if venv and folder.endswith(".dist-info") and UV_CACHE_INFO in files:
            forget_uv_cache(folder)
        emptied = False
        for name in files:
            if not name.endswith(".pyc"):
                continue
            pyc = os.path.join(folder, name)
            with open(pyc, "rb") as f:
                checked = int.from_bytes(f.read(8)[4:8], "little") == CHECKED_HASH
            if checked and (not earlier_only or os.stat(pyc).st_mtime <= epoch):
                continue
            os.unlink(pyc)
            removed += 1
            emptied = True
        if emptied and not os.listdir(folder):
            os.rmdir(folder)
    return removed


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: sweep-bytecode.py EPOCH VENV [SYSTEM_ROOT...]", file=sys.stderr)
        return 2
    epoch, venv, system = int(argv[0]), argv[1], argv[2:]
    if venv:
        sweep(venv, epoch, earlier_only=False, venv=True)
    for root in system:
        sweep(root, epoch, earlier_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
