"""Benchmark: a pipeline for linux/amd64 and linux/arm64 (arm64 under qemu emulation on an
amd64 host), pushed to docker-registry on 127.0.0.1 (TLS, htpasswd auth) as one manifest
list per image.

Builds ``pipelines/keystone-multiarch.yaml`` (``--pipeline`` for another; ``--platforms
linux/arm64`` builds a copy of it for those platforms instead of its own) from nothing
(``--no-cache``, a fresh state directory: no package cache, no previous wheels) in the
``localhost/orchestrate-multiarch`` namespace, which ``nox -s multiarch``'s acceptance test
then serves from. Prints wall time and CPU-seconds of the run, then each node's time per
platform, then what the registry's release tag of keystone holds: a list whose arm64 and
amd64 entries are the digests of each platform's key tag (``--no-push``: nothing pushed).

What an arm64 full stack costs here: ``--pipeline pipelines/full-stack.yaml --platforms
linux/arm64 --no-push``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import timed  # noqa: E402

from tests.registry_server import TlsRegistry  # noqa: E402

NAMESPACE = "localhost/orchestrate-multiarch"


def node_table(summary: dict[str, object], single: str = "amd64") -> list[str]:
    """One row per image: its time on each platform, and its list's time. A run of one
    platform (``single``, its nodes named as their images) fills that platform's column."""
    rows: dict[str, dict[str, dict[str, object]]] = defaultdict(dict)
    nodes = summary["nodes"]
    several = any("@" in str(node["node"]) for node in nodes)  # type: ignore[attr-defined]
    for node in nodes:  # type: ignore[attr-defined]
        image, _, arch = str(node["node"]).partition("@")
        rows[image][arch or ("list" if several else single)] = node
    lines = [f"{'image':<16}{'amd64':>12}{'arm64':>12}{'arm64/amd64':>13}{'list':>8}"]
    for image, by in rows.items():
        amd, arm = by.get("amd64"), by.get("arm64")

        def seconds(node: dict[str, object] | None) -> str:
            if node is None:
                return "-"
            return f"{float(node['duration_seconds']):.1f} s"  # type: ignore[arg-type]

        ratio = "-"
        if amd and arm and float(amd["duration_seconds"]) > 0:  # type: ignore[arg-type]
            ratio = f"{float(arm['duration_seconds']) / float(amd['duration_seconds']):.1f}x"  # type: ignore[arg-type]
        lines.append(
            f"{image:<16}{seconds(amd):>12}{seconds(arm):>12}{ratio:>13}"
            f"{seconds(by.get('list')):>8}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", default="pipelines/keystone-multiarch.yaml")
    parser.add_argument("--parallel", default="4")
    parser.add_argument("--warm", action="store_true", help="reuse what was built before")
    parser.add_argument("--platforms", default="", help="comma-separated, e.g. linux/arm64")
    parser.add_argument("--no-push", dest="push", action="store_false")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="multiarch-") as tmp:
        pipeline = args.pipeline
        if args.platforms:
            pipeline = str(Path(tmp) / Path(args.pipeline).name)
            text = (ROOT / args.pipeline).read_text()
            text = text.replace("../constraints", str(ROOT / "constraints"))
            text = "\n".join(
                line for line in text.splitlines() if not line.startswith("platforms:")
            )
            platforms = ", ".join(args.platforms.split(","))
            Path(pipeline).write_text(f"{text}\nplatforms: [{platforms}]\n")
        registry = TlsRegistry(Path(tmp) / "registry")
        registry.prepare()
        registry.start()
        try:
            env = dict(
                os.environ,
                ORCHESTRATE_NAMESPACE=NAMESPACE,
                ORCHESTRATE_STATE_DIR=str(Path(tmp) / "state"),
                ORCHESTRATE_REGISTRY=f"{registry.address}/openstack",
                ORCHESTRATE_CERT_DIR=str(registry.cert_dir),
                ORCHESTRATE_AUTHFILE=str(registry.authfile),
            )
            summary = Path(tmp) / "summary.json"
            argv = [
                sys.executable, "-m", "orchestrator", "--progress", "plain",
                "--parallel", args.parallel, "build", pipeline,
                "--push" if args.push else "--no-push",
                "--summary-json", str(summary), *([] if args.warm else ["--no-cache"]),
            ]  # fmt: skip
            label = (
                f"{Path(args.pipeline).name} {args.platforms or ''}, "
                f"{'warm' if args.warm else 'cold'}{', pushed' if args.push else ''}"
            )
            proc = timed(label, argv, env)
            if proc.returncode != 0 or not summary.is_file():
                return proc.returncode or 1
            single = args.platforms.split("/")[-1] if args.platforms else "amd64"
            print("\n".join(node_table(json.loads(summary.read_text()), single)))
            if not args.push:
                return 0
            raw = subprocess.run(
                ["skopeo", "inspect", "--raw", *registry.client_options(),
                 f"docker://{registry.address}/openstack/keystone:2026.1"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            listed = json.loads(raw)
            print(f"keystone:2026.1 in the registry: {listed['mediaType']}")
            for entry in listed.get("manifests", []):  # an image of one platform has none
                platform = entry["platform"]
                print(f"  {platform['os']}/{platform['architecture']}  {entry['digest']}")
        finally:
            registry.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
