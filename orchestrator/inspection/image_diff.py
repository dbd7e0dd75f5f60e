"""What differs between two images (``orchestrate diff``): distro packages, Python
distributions and files, for operators comparing yesterday's nightly with today's.

Each image is read through a throwaway working container mounted on the host:
- packages from dpkg's status file (installed ones, with their versions);
- Python distributions from every ``*.dist-info/METADATA`` (name and version), wherever
  they are installed (the venv, the system's dist-packages);
- files by type, mode, owner, and content (sha256 of regular files, target of symlinks);
  times are left out: they differ between any two builds and say nothing of the content.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine import naming
from orchestrator.engine.runner import Runner
from orchestrator.engine.storage import Storage
from orchestrator.files import sha256_file
from orchestrator.inspection.image_contents import deb_packages, distributions, require_local

# Kernel and runtime mount points: empty in an image, filled in a running container.
SKIPPED_TOP = frozenset({"proc", "sys", "dev", "run"})


@dataclass(frozen=True)
class Inventory:
    """What one image holds."""

    packages: Mapping[str, str]  # dpkg package -> version
    distributions: Mapping[str, str]  # "name (where)" -> version
    files: Mapping[str, str]  # path -> "type mode uid:gid content"


@dataclass
class Changes:
    """One kind of item: added (only in B), removed (only in A), changed (A -> B)."""

    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"a": a, "b": b} for k, (a, b) in self.changed.items()},
        }


@dataclass
class ImageDiff:
    """The differences between image A and image B."""

    a: str
    b: str
    packages: Changes
    distributions: Changes
    files: Changes

    @property
    def identical(self) -> bool:
        return not (self.packages or self.distributions or self.files)

    def as_dict(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "packages": self.packages.as_dict(),
            "python": self.distributions.as_dict(),
            "files": self.files.as_dict(),
        }


def compare(a: Mapping[str, str], b: Mapping[str, str]) -> Changes:
    """Items only in ``b``, only in ``a``, and in both with another value."""
    return Changes(
        added={k: b[k] for k in sorted(b.keys() - a.keys())},
        removed={k: a[k] for k in sorted(a.keys() - b.keys())},
        changed={k: (a[k], b[k]) for k in sorted(a.keys() & b.keys()) if a[k] != b[k]},
    )


def diff_inventories(a: Inventory, b: Inventory, *, names: tuple[str, str]) -> ImageDiff:
    return ImageDiff(
        a=names[0],
        b=names[1],
        packages=compare(a.packages, b.packages),
        distributions=compare(a.distributions, b.distributions),
        files=compare(a.files, b.files),
    )


def diff_images(image_a: str, image_b: str, runner: Runner, *, run_id: str) -> ImageDiff:
    """Mount both images and compare what they hold.

    Raises:
        ConfigError: one of them is not in local storage.
        StepFailedError: buildah could not open or mount one of them.
    """
    storage = Storage(runner)
    for argument, image in (("IMAGE_A", image_a), ("IMAGE_B", image_b)):
        require_local(storage, image, argument)
    inventories = []
    for side, image in (("a", image_a), ("b", image_b)):
        with storage.mounted(image, naming.container_name(run_id, f"diff-{side}")) as root:
            inventories.append(inventory(root))
    return diff_inventories(inventories[0], inventories[1], names=(image_a, image_b))


def inventory(root: Path) -> Inventory:
    """Packages, distributions and files under an image's root."""
    return Inventory(
        packages=dpkg_packages(root),
        distributions=python_distributions(root),
        files=dict(_files(root)),
    )


def dpkg_packages(root: Path) -> dict[str, str]:
    """Installed packages (``name`` or ``name:arch``) and their versions."""
    return {
        p.name if p.architecture in ("", "all") else f"{p.name}:{p.architecture}": p.version
        for p in deb_packages(root)
    }


def python_distributions(root: Path) -> dict[str, str]:
    """``name (site folder)`` -> version for every installed distribution."""
    return {f"{d.name} ({d.site})": d.version for d in distributions(root)}


def _files(root: Path) -> Iterator[tuple[str, str]]:
    """``/path`` -> "type mode uid:gid content" for everything under ``root``."""
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in SKIPPED_TOP]
        dirs.sort()
        for name in sorted([*dirs, *names]):
            path = here / name
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            owner = f"{info.st_uid}:{info.st_gid}"
            if stat.S_ISLNK(info.st_mode):
                kind, content = "link", os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                kind, content = "dir", ""
            elif stat.S_ISREG(info.st_mode):
                kind, content = "file", sha256_file(path)
            else:
                kind, content = "special", str(info.st_rdev)
            yield f"/{path.relative_to(root)}", f"{kind} {mode:04o} {owner} {content}".rstrip()


def render(diff: ImageDiff, *, limit: int) -> str:
    """The differences as text, ``limit`` lines at most per kind (0: all)."""
    if diff.identical:
        return f"identical: {diff.a} and {diff.b} hold the same packages, distributions and files"
    lines = [f"--- {diff.a}", f"+++ {diff.b}"]
    for title, changes in (
        ("packages", diff.packages),
        ("python", diff.distributions),
        ("files", diff.files),
    ):
        count = len(changes.added) + len(changes.removed) + len(changes.changed)
        lines.append(
            f"{title}: {count} differ ({len(changes.added)} added, {len(changes.removed)} "
            f"removed, {len(changes.changed)} changed)"
        )
        entries = [f"  + {k} {v}" for k, v in changes.added.items()]
        entries += [f"  - {k} {v}" for k, v in changes.removed.items()]
        entries += [f"  ~ {k} {a} -> {b}" for k, (a, b) in changes.changed.items()]
        entries.sort(key=lambda line: line[4:])
        shown = entries if limit == 0 else entries[:limit]
        lines += shown
        if len(entries) > len(shown):
            lines.append(f"  ... and {len(entries) - len(shown)} more (--limit 0 for all)")
    return "\n".join(lines)
