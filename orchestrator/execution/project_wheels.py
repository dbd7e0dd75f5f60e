"""The host's cache of the services' own wheels, built from their sdists.

A service's install-project step builds the project's wheel from its sdist (about 2 CPU-s:
an isolated build environment, pbr, setuptools) before installing it. A nightly whose
upper-constraints moved rebuilds every service on a new wheels image, their sdists
unchanged: the same wheels, built again. The step now looks in this cache, by the sdist's
sha256 and the fingerprint of its build environment (``scripts/project-wheel-key.py``: the
interpreter, the frontend and the build backend's wheels in the wheelhouse), and builds only
on a miss, leaving what it built in the node's own folder.

Only the host writes the cache, after the step (``store``): the container reads it
read-only, and what one node's step leaves is kept under its own sdist's sha256, which the
host knows, so no build can put a wheel where another project's build would take it. Only
pure-Python wheels (``-none-any``) are kept: a compiled wheel depends on the image's
compiler and libraries, which the fingerprint does not cover. ``--no-cache`` (or
``--no-cache-for`` the node) builds from nothing, as it does the wheels; what it builds is
still kept. Entries unused for ``KEEP_DAYS`` are removed when a wheel is stored.

    python -m orchestrator.execution.project_wheels OUT CACHE SDIST_SHA256
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

KEEP_DAYS = 30
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# A wheel file name (PEP 427), pure Python: name-version(-build)?-python-none-any.whl
_PURE_WHEEL = re.compile(
    r"^[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(-[0-9][A-Za-z0-9_.]*)?-[a-z0-9.]+-none-any\.whl$"
)
# What install-project.sh writes into OUT when it took the wheel from the cache.
TAKEN = "taken"


class StoreError(Exception):
    """What the step left is not one wheel under one fingerprint."""


def store(out: Path, cache: Path, sdist_sha256: str, *, now: float | None = None) -> str:
    """Keep the wheel the step left in ``out`` under ``cache/<sdist>/<fingerprint>/``
    (or mark the entry it took as used); the line to log."""
    if not _HEX64.match(sdist_sha256):
        raise StoreError(f"not a sha256: {sdist_sha256!r}")
    now = time.time() if now is None else now
    folder = cache / sdist_sha256
    taken = out / TAKEN
    if taken.is_file():
        fingerprint = taken.read_text().strip()
        entry = folder / fingerprint
        if _HEX64.match(fingerprint) and entry.is_dir():
            _used(entry, now)
        return f"project wheel: taken from the cache ({fingerprint[:12]})"
    built = [path for path in out.iterdir() if path.name != TAKEN] if out.is_dir() else []
    if not built:
        return "project wheel: none to keep (a source tree, or nothing built)"
    if len(built) != 1 or not _HEX64.match(built[0].name) or not built[0].is_dir():
        raise StoreError(f"{out}: expected one folder named by a fingerprint, found {built}")
    fingerprint = built[0].name
    wheels = list(built[0].iterdir())
    if len(wheels) != 1 or wheels[0].is_symlink() or not wheels[0].is_file():
        raise StoreError(f"{built[0]}: expected one wheel file, found {wheels}")
    wheel = wheels[0]
    if not _PURE_WHEEL.match(wheel.name):
        return f"project wheel: {wheel.name} not kept (only pure-Python wheels are)"
    removed = prune(cache, now, keep=folder)
    entry = folder / fingerprint
    if entry.is_dir():
        _used(entry, now)
        return f"project wheel: {wheel.name} already kept ({fingerprint[:12]})"
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        shutil.copyfile(wheel, staging / wheel.name)
        staging.chmod(0o755)
        try:
            staging.rename(entry)
        except OSError:
            if not entry.is_dir():  # not another run storing the same wheel meanwhile
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _used(entry, now)
    pruned = f"; {removed} unused for {KEEP_DAYS} days removed" if removed else ""
    return f"project wheel: {wheel.name} kept for later builds ({fingerprint[:12]}){pruned}"


def _used(entry: Path, now: float) -> None:
    """Date an entry and its sdist's folder (what :func:`prune` reads) ``now``."""
    os.utime(entry, (now, now))
    os.utime(entry.parent, (now, now))


def prune(cache: Path, now: float, *, keep: Path | None = None) -> int:
    """Remove the sdists' folders (but ``keep``) no build stored or took from for
    ``KEEP_DAYS``."""
    removed = 0
    limit = now - KEEP_DAYS * 86400
    if not cache.is_dir():
        return 0
    for folder in cache.iterdir():
        try:
            if folder != keep and folder.is_dir() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder)
                removed += 1
        except OSError:
            continue
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m orchestrator.execution.project_wheels OUT CACHE SDIST_SHA256",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        print(store(Path(argv[0]), Path(argv[1]), argv[2]))
    except StoreError as exc:  # the step left something else than it should: fail the node
        print(f"project wheel: not kept: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a cache that cannot be written costs later builds time only
        print(f"project wheel: not kept: {exc.strerror or exc}: {exc.filename or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
