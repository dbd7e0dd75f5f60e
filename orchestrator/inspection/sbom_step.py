"""The ``sbom`` step of every node: the SBOM of a working container, and the documents
orchestrate reads of the image later, written to a folder; /run settled.

The same document as ``orchestrate sbom --container``, through a lean entry point: a build
runs it once per node, and the whole command line (click, every command's modules) cost three
times the modules this needs (0.67 against 0.24 CPU-s to start, measured 2026-12-07).

In DOCUMENTS, laid out as in the image: the SBOM (``etc/image_info/sbom.cdx.json``, which the
next step copies in) and copies of the wheel records :mod:`orchestrator.inspection.image_files`
reads (a copy the container does not have is removed: a folder of an earlier attempt). The
provenance and the SBOM pushed beside the image read them there: the same files the
committed image holds (nothing after this step changes them), without mounting it again.

/run: every ``buildah run`` mounts a tmpfs there, yet some builds leave the folder itself
changed in the layer and others not (seen: one build in two, the same steps). Touched here,
through the mount the SBOM reads anyway, it is in every layer, dated by the commit like every
other entry (a ``buildah run`` of ``touch -c /run`` did that before: 0.2 to 0.3 CPU-s a node).

Usage: ``python -m orchestrator.inspection.sbom_step CONTAINER DOCUMENTS NAME VERSION
[KEY=VALUE ...]`` (the properties).
"""

from __future__ import annotations

import os
import posixpath
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator.engine.runner import ShRunner
from orchestrator.engine.storage import Storage
from orchestrator.files import write_atomically
from orchestrator.inspection.image_files import SBOM_PATH, WHEEL_HASHES, WHEEL_SUMS
from orchestrator.inspection.sbom import sbom_json

MODULE = "orchestrator.inspection.sbom_step"


def main(args: Sequence[str]) -> int:
    if len(args) < 4 or any("=" not in prop for prop in args[4:]):
        print(f"usage: python -m {MODULE} CONTAINER DOCUMENTS NAME VERSION [KEY=VALUE ...]")
        return 2
    container, documents, name, version = args[:4]
    props = dict(prop.split("=", 1) for prop in args[4:])
    with Storage(ShRunner()).mounted_container(container) as root:
        settle_run(root)
        text = sbom_json(root, name=name, version=version, properties=props)
        keep_documents(root, Path(documents))
    write_atomically(Path(documents) / SBOM_PATH.lstrip("/"), text)
    return 0


def settle_run(root: Path) -> None:
    """Touch the image's /run as ``touch -c /run`` in the container would (an image without
    one gets none; a link is followed inside the image), so the layer holds the folder
    whatever the steps left."""
    run = in_image(root, "/run")
    if run is not None and run.is_dir():
        os.utime(run)


def in_image(root: Path, path: str, *, hops: int = 8) -> Path | None:
    """The host path under ``root`` of the image's ``path``, a link there followed the way
    the image sees it (an absolute target from the image's root, ``..`` never above it), so
    never out of ``root``; None if the links go on for more than ``hops``."""
    for _ in range(hops):
        path = posixpath.normpath(path)  # "/.." is "/", as in a chroot
        host = root / path.lstrip("/")
        if not host.is_symlink():
            return host
        target = os.readlink(host)
        path = posixpath.join(posixpath.dirname(path), target)  # an absolute target wins
    return None


def keep_documents(root: Path, documents: Path) -> None:
    """Copy the wheel records under ``root`` to ``documents``, the same paths; remove a copy
    of one ``root`` does not have."""
    for relative in (WHEEL_HASHES, WHEEL_SUMS):
        source, copy = root / relative, documents / relative
        if source.is_file():
            write_atomically(copy, source.read_text(encoding="utf-8"))
        else:
            copy.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
