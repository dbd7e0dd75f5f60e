"""After install-project.sh: the wheels the venv holds, and a check of what the step added.

Usage: python -I installed-wheels.py SITE_PACKAGES BEFORE SUMS OUT

- SITE_PACKAGES: the venv's site-packages folder; BEFORE: the names of its ``.dist-info``
  folders before the step, one a line.
- SUMS: the wheels image's ``sha256sum`` list of its wheels (may be missing); OUT: where the
  lines of the wheels the venv now holds are written (``/etc/image_info/wheels.sha256``, for
  the image's SBOM). Only those: the list of every wheel of the set would make the image
  differ whenever a wheel it does not hold changes.
- INSTALLS (environment, optional): a file of the pins of the wheel set the node's key
  holds (``name==version``, one a line). Every distribution the step added must be one of
  them, PROJECT (the project itself, built here) aside: else the key missed something the
  image holds, and the build fails (exit 3) naming what.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def canonical(name: str) -> str:
    """PEP 503's normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_name(folder: str) -> str:
    """The canonical name of a ``<name>-<version>.dist-info`` folder's distribution."""
    return canonical(folder.removesuffix(".dist-info").rsplit("-", 1)[0])


def wheel_name(filename: str) -> str:
    """The canonical name of a wheel file's distribution (PEP 427: the first field)."""
    return canonical(filename.split("-", 1)[0])


def main(args: list[str]) -> int:
    site, before_file, sums, out = (Path(a) for a in args)
    before = {line.strip() for line in before_file.read_text().splitlines() if line.strip()}
    now = {p.name for p in site.glob("*.dist-info") if p.is_dir()}
    installed = {dist_name(folder) for folder in now}
    keyed = os.environ.get("INSTALLS")
    if keyed:
        pins = Path(keyed).read_text().split()
        allowed = {canonical(pin.split("==", 1)[0]) for pin in pins}
        allowed.add(canonical(os.environ.get("PROJECT", "")))
        added = sorted(dist_name(folder) for folder in now - before)
        unkeyed = [name for name in added if name not in allowed]
        if unkeyed:
            print(
                f"ERROR: installed, but not among the pins the image's key holds: "
                f"{' '.join(unkeyed)} (the wheel set's dependency graph missed them)",
                file=sys.stderr,
            )
            return 3
    lines = []
    if sums.is_file():
        for line in sums.read_text().splitlines():
            filename = line.split(None, 1)[-1].strip().lstrip("*").removeprefix("./")
            if filename.endswith(".whl") and wheel_name(filename) in installed:
                lines.append(line)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{line}\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
