"""Benchmark: build pipelines/full-stack.yaml with --parallel 9 and print the figures.

By default every node is rebuilt (--no-cache), so this is the cold time; pass --warm to let
the cache work (then it measures a no-op rebuild). ``--layering flat`` builds a copy of the
pipeline without the shared nodes (every service on the base), ``--layering shared`` one
with them: run both, one after the other, for the before/after pair.

Prints each node's status, duration, size and own layer, then the wall time, the
CPU-seconds (user + sys of every process the build waited for) and the distinct layers of
base plus the services (what a registry stores and a host pulls for all of them), against
the goals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from measure import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
# Cold goals (wall s, CPU-s, distinct MB or None) per pipeline: the nine and LOCI's thirty.
GOALS = {"full-stack.yaml": (200, 330, 1900), "loci-all.yaml": (600, 900, None)}
# Half of each one's own layer in the flat design as the issue measured it (341 MB and
# 644 MB images on a 178 MB base).
OWN_TARGET_MB = {"keystone": (341 - 178) / 2, "nova": (644 - 178) / 2}
# Build-only images (the wheels and their toolchain): built from, never run or pulled by the
# hosts that run the services.
NOT_SERVED = ("wheel-builder", "requirements")


def layers(image: str) -> list[tuple[str, int]]:
    """(digest, bytes) of each layer of a local image, from its stored manifest."""
    out = subprocess.run(
        ["skopeo", "inspect", "--raw", f"containers-storage:{image}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [(layer["digest"], int(layer["size"])) for layer in json.loads(out)["layers"]]


def own_layers(name: str, layered: dict[str, list[tuple[str, int]]]) -> list[tuple[str, int]]:
    """The layers of ``name`` above its parent: the longest other image of the run whose
    layers start its own."""
    mine = layered.get(name, [])
    below = max(
        (len(ls) for other, ls in layered.items() if other != name and mine[: len(ls)] == ls),
        default=0,
    )
    return mine[below:]


def pipeline_copy(source: Path, layering: str, folder: Path) -> Path:
    """``source`` with ``layering`` set, beside it (its relative paths stay valid)."""
    document = yaml.safe_load(source.read_text())
    document["layering"] = layering
    if layering == "flat":
        document.pop("shared_nodes", None)  # they stand under openstack-base
    copy = source.with_name(f".{source.stem}-{layering}-{folder.name}.yaml")
    copy.write_text(yaml.safe_dump(document, sort_keys=False))
    return copy


def summary_built(summary: dict) -> str:
    statuses = [n["status"] for n in summary["nodes"]]
    return f"{statuses.count('built')} built, {statuses.count('reused')} reused"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", action="store_true", help="keep the cache (no-op rebuild)")
    parser.add_argument("--parallel", type=int, default=9)
    parser.add_argument("--pipeline", default="pipelines/full-stack.yaml")
    parser.add_argument("--layering", choices=("shared", "flat"), help="override the file's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = ROOT / args.pipeline
        if args.layering:
            pipeline = pipeline_copy(pipeline, args.layering, Path(tmp))
        summary_path = Path(tmp) / "summary.json"
        argv = [sys.executable, "-m", "orchestrator", "build", str(pipeline)]
        argv += ["--parallel", str(args.parallel), "--summary-json", str(summary_path)]
        if not args.warm:
            argv.append("--no-cache")
        started, cpu = time.monotonic(), cpu_seconds()
        try:
            proc = subprocess.run(argv, cwd=ROOT, check=False)
        finally:
            if args.layering:
                pipeline.unlink()
        wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
        summary = json.loads(summary_path.read_text())
    nodes = {n["node"]: n for n in summary["nodes"]}
    # The goals are the nine's and the thirty's; other pipelines get the figures.
    nine = Path(args.pipeline).name == "full-stack.yaml"
    wall_goal, cpu_goal, distinct_goal = GOALS.get(Path(args.pipeline).name, (0, 0, None))
    layered = {name: layers(n["image"]) for name, n in nodes.items() if n["image_id"]}
    label = f"{'warm' if args.warm else 'cold'}, layering {args.layering or 'as in the file'}"
    print(f"\n{Path(args.pipeline).stem} ({label}), --parallel {args.parallel}")
    print(f"{'node':<18}{'status':<10}{'seconds':>9}{'size MB':>10}{'own MB':>9}")
    for name, node in nodes.items():
        own = sum(s for _, s in own_layers(name, layered))
        target = OWN_TARGET_MB.get(name) if nine else None
        mark = f"  (own target <= {target:.0f})" if target else ""
        print(
            f"{name:<18}{node['status']:<10}{node['duration_seconds']:>9.1f}"
            f"{node['size_bytes'] / 1e6:>10.0f}{own / 1e6:>9.0f}{mark}"
        )
    distinct = {d: s for name, ls in layered.items() if name not in NOT_SERVED for d, s in ls}

    def goal(value: float, target: float | None, unit: str) -> str:
        if not target or args.warm:
            return ""
        return f" (goal <= {target} {unit} cold: {'met' if value <= target else 'not met'})"

    print(
        f"wall: {wall:.1f} s{goal(wall, wall_goal, 's')}; CPU: {cpu:.1f} CPU-s"
        f"{goal(cpu, cpu_goal, 'CPU-s')}; scheduler wall {summary['wall_seconds']:.1f} s; "
        f"{summary_built(summary)}; exit {proc.returncode}"
    )
    mb = sum(distinct.values()) / 1e6
    print(
        f"distinct layers of base and services: {mb:.0f} MB in "
        f"{len(distinct)} layers{goal(mb, distinct_goal, 'MB')}"
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
