"""A wheels image as a PEP 503 simple index (``orchestrate wheels export``).

The wheels of the requirements image, with the pins they were resolved to and the
constraints they were built under, written to a folder that ``pip install --index-url
file://DIR/simple`` and any static web server can use:

    DIR/simple/index.html              every project
    DIR/simple/<project>/index.html    its wheels, each link with a #sha256= fragment
    DIR/wheels/*.whl
    DIR/resolved.txt                   the exact pins (name==version)
    DIR/runtime-packages.txt           distro packages the compiled wheels need at runtime
    DIR/constraints/                   upper-constraints.txt (and global-requirements.txt), when
                                       the image holds them (one keyed by its pins holds none)

The image is read through a throwaway working container mounted on the host; the folder is
written beside DIR and moved into place whole, so a failed export leaves no half index.
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from orchestrator.engine import naming
from orchestrator.engine.runner import Runner
from orchestrator.engine.storage import Storage
from orchestrator.errors import ConfigError
from orchestrator.planning.builder import WHEELS_DIR

CONSTRAINT_FILES = ("upper-constraints.txt", "global-requirements.txt")


@dataclass(frozen=True)
class ExportedIndex:
    """What an export wrote."""

    path: Path
    wheels: int
    projects: int


def export_wheels(image: str, dest: Path, runner: Runner, *, run_id: str) -> ExportedIndex:
    """Write ``image``'s wheels as a simple index at ``dest`` (which must not exist, or be an
    empty folder).

    Raises:
        ConfigError: ``dest`` is not empty, or ``image`` holds no wheels.
        StepFailedError: buildah could not open the image.
    """
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError("DIR", "", f"{dest} exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    container = naming.container_name(run_id, "wheels-export")
    with Storage(runner).mounted(image, container) as root:
        wheels_dir = root / WHEELS_DIR.lstrip("/")
        wheels = sorted(p for p in wheels_dir.glob("*.whl") if p.is_file())
        if not wheels:
            raise ConfigError("IMAGE", "", f"{image} holds no wheels under {WHEELS_DIR}")
        staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
        try:
            projects = _write_index(wheels, wheels_dir, staging)
            if dest.exists():
                dest.rmdir()
            os.replace(staging, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return ExportedIndex(path=dest, wheels=len(wheels), projects=projects)


def _write_index(wheels: list[Path], source: Path, out: Path) -> int:
    (out / "wheels").mkdir()
    by_project: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for wheel in wheels:
        try:
            project = str(canonicalize_name(parse_wheel_filename(wheel.name)[0]))
        except InvalidWheelFilename:
            continue
        target = out / "wheels" / wheel.name
        shutil.copyfile(wheel, target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        by_project[project].append((wheel.name, digest))
    for listing in ("resolved.txt", "runtime-packages.txt"):
        if (source / listing).is_file():
            shutil.copyfile(source / listing, out / listing)
    (out / "constraints").mkdir()
    for constraint in CONSTRAINT_FILES:
        if (source / constraint).is_file():
            shutil.copyfile(source / constraint, out / "constraints" / constraint)
    simple = out / "simple"
    simple.mkdir()
    links = "".join(
        f'<a href="{html.escape(name)}/">{html.escape(name)}</a><br>\n'
        for name in sorted(by_project)
    )
    _page(simple / "index.html", "Simple index", links)
    for name, files in by_project.items():
        (simple / name).mkdir()
        rows = "".join(
            f'<a href="../../wheels/{html.escape(filename)}#sha256={digest}">'
            f"{html.escape(filename)}</a><br>\n"
            for filename, digest in sorted(files)
        )
        _page(simple / name / "index.html", f"Links for {name}", rows)
    return len(by_project)


def _page(path: Path, title: str, body: str) -> None:
    path.write_text(
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{body}</body></html>\n",
        encoding="utf-8",
    )
