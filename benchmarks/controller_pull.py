"""Benchmark: what a fresh host downloads to run a controller, gzip against zstd layers.

The controller is keystone, glance, placement, nova (nova-api) and neutron (neutron-server),
as built locally at TAG (default 2026.1: build pipelines/loci-all.yaml first, or pass
--images). For each compression, the images are pushed with ``buildah push
--compression-format`` to docker-registry on 127.0.0.1 (TLS, htpasswd:
tests/registry_server.py), then pulled with podman into an empty image storage, one image
after the other, as a new controller would. Repeated (--rounds) and the pulls' mean kept.

Prints, per compression: the bytes downloaded (blob GETs in the registry's access log, their
sizes from its storage), the layers' bytes once unpacked, and the pull's wall and
CPU-seconds (podman and what it waited for). Keep zstd only if it pulls faster.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from full_stack import layers  # noqa: E402
from measure import cpu_seconds  # noqa: E402

from tests.registry_server import TlsRegistry  # noqa: E402

CONTROLLER = ("keystone", "glance", "placement", "nova", "neutron")
COMPRESSIONS = ("gzip", "zstd")


def blob_bytes(registry: TlsRegistry, since: int) -> int:
    """Bytes of the blobs downloaded since the ``since``-th download (access log)."""
    text = registry.access_log.read_text(errors="replace")
    digests = re.findall(r'"GET /v2/[^"]*/blobs/sha256:([0-9a-f]{64})', text)[since:]
    blobs = registry.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return sum((blobs / d[:2] / d / "data").stat().st_size for d in digests)


def pull(registry: TlsRegistry, refs: list[str], folder: Path) -> tuple[float, float, int]:
    """Pull ``refs`` into an empty storage under ``folder``: (wall, CPU-s, bytes)."""
    root, runroot = folder / "root", folder / "runroot"
    since = registry.blob_downloads()
    cpu, started = cpu_seconds(), time.monotonic()
    for ref in refs:
        subprocess.run(
            ["podman", "--root", str(root), "--runroot", str(runroot), "--storage-driver",
             "overlay", "pull", "-q", *registry.client_options(), ref],
            check=True, capture_output=True,
        )  # fmt: skip
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
    got = blob_bytes(registry, since)
    subprocess.run(
        ["podman", "--root", str(root), "--runroot", str(runroot), "rmi", "--all", "--force"],
        check=False, capture_output=True,
    )  # fmt: skip
    subprocess.run(["rm", "-rf", str(folder)], check=False)
    return wall, cpu, got


def unpacked_bytes(images: list[str]) -> int:
    """The distinct layers of ``images`` as stored locally (uncompressed)."""
    distinct = {digest: size for image in images for digest, size in layers(image)}
    return sum(distinct.values())


def media_types(registry: TlsRegistry, ref: str) -> set[str]:
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", *registry.client_options(), f"docker://{ref}"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {layer["mediaType"].rsplit(".", 1)[-1] for layer in json.loads(raw)["layers"]}


def measure(
    registry: TlsRegistry, compression: str, args: argparse.Namespace, local: list[str], tmp: Path
) -> None:
    refs = []
    for name, image in zip(args.images, local, strict=True):
        ref = f"{registry.address}/controller/{name}:{args.tag}"
        subprocess.run(
            ["buildah", "push", "-q", *registry.client_options(),
             "--compression-format", compression, image, f"docker://{ref}"],
            check=True, capture_output=True,
        )  # fmt: skip
        refs.append(ref)
    kinds = set().union(*(media_types(registry, ref) for ref in refs))
    rounds = [pull(registry, refs, tmp / f"host-{i}") for i in range(args.rounds)]
    wall = sum(r[0] for r in rounds) / len(rounds)
    cpu = sum(r[1] for r in rounds) / len(rounds)
    got = rounds[-1][2] / 1e6
    print(
        f"{compression:<5} layers {'/'.join(sorted(kinds))}: downloaded {got:.1f} MB;"
        f" pull {wall:.1f} s wall, {cpu:.1f} CPU-s (mean of "
        f"{', '.join(f'{r[0]:.1f}' for r in rounds)} s)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tag", default="2026.1")
    parser.add_argument("--namespace", default="localhost/orchestrate")
    parser.add_argument("--images", nargs="+", default=list(CONTROLLER))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    local = [f"{args.namespace}/{name}:{args.tag}" for name in args.images]
    print(f"controller: {', '.join(args.images)} ({args.tag}); {args.rounds} rounds")
    print(f"distinct layers, unpacked: {unpacked_bytes(local) / 1e6:.1f} MB")
    for compression in COMPRESSIONS:
        # A registry each: pushing to one, the copy code may reuse a blob it already pushed
        # in the other compression.
        with tempfile.TemporaryDirectory(prefix=f"controller-pull-{compression}-") as tmp:
            registry = TlsRegistry(Path(tmp) / "registry")
            registry.prepare()
            registry.start()
            try:
                measure(registry, compression, args, local, Path(tmp))
            finally:
                registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
