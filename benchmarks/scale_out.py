"""Benchmark: the full stack through a registry, as build hosts on CI workers see it.

Against docker-registry on 127.0.0.1 (TLS, htpasswd auth; tests/registry_server.py):
1. this host (its own storage: the full stack built, cold unless --warm) pushes everything:
   every key tag, then the release tags;
2. an empty host (a fresh storage root and state dir) runs the full stack: nothing built,
   nothing downloaded (a no-op from the registry);
3. an empty host runs ``--only keystone --no-cache-for keystone``: it pulls base and the
   wheels image by digest, builds keystone and pushes it.

Prints wall time, CPU-seconds (of orchestrate and everything it waited for), nodes built and
bytes downloaded (blob GETs in the registry's access log, their sizes from its storage).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import cpu_seconds, remove_with_storage  # noqa: E402

from tests.registry_server import TlsRegistry  # noqa: E402


def downloaded_bytes(registry: TlsRegistry, since: int) -> int:
    """Bytes of the blobs GET since the ``since``-th blob download."""
    text = registry.access_log.read_text(errors="replace")
    digests = re.findall(r'"GET /v2/[^"]*/blobs/sha256:([0-9a-f]{64})', text)[since:]
    blobs = registry.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return sum((blobs / d[:2] / d / "data").stat().st_size for d in digests)


def run(label: str, registry: TlsRegistry, argv: list[str], env: dict[str, str]) -> None:
    pulls = registry.blob_downloads()
    cpu, started = cpu_seconds(), time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--progress", "plain", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
    built = len(re.findall(r"^\S+\s+built\b", proc.stdout, re.M))
    reused = len(re.findall(r"^\S+\s+reused\b", proc.stdout, re.M))
    got = downloaded_bytes(registry, pulls)
    print(
        f"{label:<44}{wall:>8.1f} s{cpu:>9.1f} CPU-s  built {built:>2}  reused {reused:>2}  "
        f"downloaded {got / 1e6:>7.1f} MB  exit {proc.returncode}"
    )
    if proc.returncode != 0:
        print(proc.stdout[-3000:] + proc.stderr[-3000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", default="pipelines/full-stack.yaml")
    parser.add_argument("--warm", action="store_true", help="push what this host has built")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        registry = TlsRegistry(Path(tmp) / "registry")
        registry.prepare()
        registry.start()
        base_env = dict(
            os.environ,
            ORCHESTRATE_REGISTRY=f"{registry.address}/openstack",
            ORCHESTRATE_CERT_DIR=str(registry.cert_dir),
            ORCHESTRATE_AUTHFILE=str(registry.authfile),
            ORCHESTRATE_PARALLEL="9",
        )
        hosts = []
        try:
            first = ["build", args.pipeline, "--push", *([] if args.warm else ["--no-cache"])]
            run(
                f"this host: full stack {'pushed' if args.warm else 'cold, pushed'}",
                registry,
                first,
                base_env,
            )
            for name, argv in (
                ("empty host: full stack (no-op from the registry)", ["build", args.pipeline]),
                (
                    "empty host: keystone alone, rebuilt",
                    [
                        "build",
                        args.pipeline,
                        "--only",
                        "keystone",
                        "--no-cache-for",
                        "keystone",
                        "--push",
                    ],
                ),
            ):
                host = Path(tmp) / f"host-{len(hosts)}"
                hosts.append(host)
                env = dict(
                    base_env,
                    ORCHESTRATE_STORAGE_ROOT=str(host / "storage"),
                    ORCHESTRATE_STATE_DIR=str(host / "state"),
                )
                run(name, registry, argv, env)
        finally:
            registry.stop()
            for host in hosts:
                remove_with_storage(host)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
