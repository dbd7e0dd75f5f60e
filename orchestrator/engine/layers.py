"""An image's layers as the tar archives they are, read from local storage, and what their
entries record beyond content: type, mode, owner, times, link targets, extended headers.

Two images with the same files can still differ in these (a time that escaped the commit's
timestamp, an extended attribute, a hard link in one and two copies in the other): this is
where ``orchestrate verify`` looks when the files agree and the image ids do not.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.engine.buildah import Argv
from orchestrator.engine.runner import Runner


def copy_to_dir(image: str, dest: Path) -> Argv:
    """``skopeo copy`` of a local image to a ``dir:`` folder: its manifest, config and each
    layer as stored (uncompressed tar, from containers-storage)."""
    return ("skopeo", "copy", "--quiet", f"containers-storage:{image}", f"dir:{dest}")


@contextmanager
def layer_files(image: str, runner: Runner, scratch: Path) -> Iterator[list[Path]]:
    """The image's layer archives, bottom first, copied under ``scratch`` for the duration.

    Raises:
        StepFailedError: skopeo could not read the image.
    """
    dest = scratch / "layers"
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        runner.capture(copy_to_dir(image, dest))
        manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
        yield [dest / layer["digest"].split(":", 1)[1] for layer in manifest["layers"]]
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def entry_headers(archive: Path) -> dict[str, str]:
    """Every entry of a layer archive: path -> what its header records besides the content
    (which the file comparison covers)."""
    out: dict[str, str] = {}
    with tarfile.open(archive, mode="r:*") as tar:
        for member in tar:
            kind = {
                tarfile.REGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
                tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
                tarfile.FIFOTYPE: "fifo",
            }.get(member.type, f"type {member.type!r}")  # fmt: skip
            fields = [
                kind,
                f"mode={member.mode:o}",
                f"owner={member.uid}:{member.gid}",
                f"names={member.uname}:{member.gname}",
                f"mtime={member.mtime}",
                f"size={member.size}",
            ]
            if member.linkname:
                fields.append(f"link={member.linkname}")
            if member.isdev():
                fields.append(f"dev={member.devmajor},{member.devminor}")
            fields += [f"{k}={v}" for k, v in sorted(member.pax_headers.items())]
            out["/" + member.name.lstrip("./")] = " ".join(fields)
    return out
