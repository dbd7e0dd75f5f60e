"""The fingerprint of what builds a project's wheel from its sdist, besides the sdist itself.

Run by install-project.sh with the venv's python (``-I -S``: the standard library only):

    project-wheel-key.py SDIST WHEELS_DIR [FRONTEND]

prints one sha256 (hex) over: this script's format, the interpreter (version, cache tag,
machine), SOURCE_DATE_EPOCH and PBR_VERSION, FRONTEND (``uv --version``, or pip's) and the
wheels of the build environment as the wheelhouse holds them: the distributions the sdist's
``pyproject.toml`` names in ``[build-system] requires`` (PEP 517's setuptools and wheel when
it names none), always pbr, setuptools and wheel (a ``setup.py`` may ask for them through
``setup_requires``), and, from each wheel's METADATA, everything they require, whatever the
markers (more wheels in the fingerprint only make it change more often).

Two builds with the same sdist and the same fingerprint make the same pure-Python wheel, so
the wheel built once is taken from the host's cache instead of built again: a nightly whose
constraints moved (a new wheels image) builds no service's own wheel unless its sdist or its
build backend changed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

FORMAT = "project-wheel-key/1"
# PEP 517's fallback when pyproject.toml names no build system, and what a setup.py asks
# for through setup_requires in every OpenStack project (pbr): always in the fingerprint.
ALWAYS = ("pbr", "setuptools", "wheel")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def norm(name: str) -> str:
    """PEP 503's normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_requires(sdist: Path) -> list[str]:
    """``[build-system] requires`` of the sdist's top-level pyproject.toml (names only)."""
    with tarfile.open(sdist) as archive:
        for member in archive:
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "pyproject.toml" and member.isfile():
                handle = archive.extractfile(member)
                if handle is None:
                    break
                data = tomllib.loads(handle.read().decode("utf-8"))
                requires = data.get("build-system", {}).get("requires", [])
                return [m.group(1) for r in requires if (m := _REQUIREMENT_NAME.match(r))]
    return []


def wheelhouse(folder: Path) -> dict[str, list[Path]]:
    """The wheels in ``folder`` by normalised distribution name."""
    out: dict[str, list[Path]] = {}
    for wheel in sorted(folder.glob("*.whl")):
        out.setdefault(norm(wheel.name.split("-")[0]), []).append(wheel)
    return out


def requires_dist(wheel: Path) -> list[str]:
    """The names a wheel's METADATA requires (Requires-Dist), extras and markers ignored."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(
            (
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ),
            None,
        )
        if name is None:
            return []
        text = archive.read(name).decode("utf-8", "replace")
    headers = text.split("\n\n", 1)[0]
    out = []
    for line in headers.splitlines():
        if line.lower().startswith("requires-dist:"):
            match = _REQUIREMENT_NAME.match(line.split(":", 1)[1])
            if match:
                out.append(match.group(1))
    return out


def build_wheels(sdist: Path, folder: Path) -> list[Path]:
    """The wheelhouse's wheels of every distribution the build environment may hold."""
    available = wheelhouse(folder)
    todo = [norm(name) for name in (*declared_requires(sdist), *ALWAYS)]
    seen: set[str] = set()
    out: list[Path] = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for wheel in available.get(name, []):
            out.append(wheel)
            todo.extend(norm(each) for each in requires_dist(wheel))
    return sorted(out)


def sums(folder: Path) -> dict[str, str]:
    """The wheelhouse's SHA256SUMS (``sha256  name`` lines), if it has one."""
    path = folder / "SHA256SUMS"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        sha, _, name = line.partition("  ")
        out[name.strip().removeprefix("./")] = sha
    return out


def fingerprint(sdist: Path, folder: Path, frontend: str) -> str:
    digest = hashlib.sha256()
    known = sums(folder)
    lines = [
        FORMAT,
        sys.version,
        sys.implementation.cache_tag or "",
        platform.machine(),
        f"SOURCE_DATE_EPOCH={os.environ.get('SOURCE_DATE_EPOCH', '')}",
        f"PBR_VERSION={os.environ.get('PBR_VERSION', '')}",
        f"frontend={frontend}",
    ]
    for wheel in build_wheels(sdist, folder):
        sha = known.get(wheel.name) or hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{wheel.name} {sha}")
    digest.update("\n".join(lines).encode())
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: project-wheel-key.py SDIST WHEELS_DIR [FRONTEND]", file=sys.stderr)
        return 2
    sdist, folder = Path(argv[0]), Path(argv[1])
    try:
        print(fingerprint(sdist, folder, argv[2] if len(argv) == 3 else ""))
    except (OSError, tarfile.TarError, zipfile.BadZipFile, tomllib.TOMLDecodeError) as exc:
        print(f"project-wheel-key: {sdist}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
