"""Benchmark: build pipelines/full-stack.yaml with --parallel 9 and print the figures.

By default every node is rebuilt (--no-cache), so this is the cold time; pass --warm to let
the cache work (then it measures a no-op rebuild). Prints each node's status and duration,
the wall time, and each image's size against the targets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS_MB = {"keystone": 400, "nova": 700}
WALL_TARGET_S = 240


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", action="store_true", help="keep the cache (no-op rebuild)")
    parser.add_argument("--parallel", type=int, default=9)
    parser.add_argument("--pipeline", default="pipelines/full-stack.yaml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        argv = [
            sys.executable,
            "-m",
            "orchestrator",
            "build",
            args.pipeline,
            "--parallel",
            str(args.parallel),
            "--summary-json",
            str(summary_path),
        ]
        if not args.warm:
            argv.append("--no-cache")
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=ROOT, check=False)
        wall = time.monotonic() - started
        summary = json.loads(summary_path.read_text())
    print(f"\nfull stack ({'warm' if args.warm else 'cold'}), --parallel {args.parallel}")
    print(f"{'node':<14}{'status':<10}{'seconds':>9}{'size MB':>10}")
    for node in summary["nodes"]:
        size = node["size_bytes"] / 1e6
        target = TARGETS_MB.get(node["node"])
        mark = f"  (target <= {target})" if target else ""
        print(
            f"{node['node']:<14}{node['status']:<10}{node['duration_seconds']:>9.1f}"
            f"{size:>10.0f}{mark}"
        )
    print(
        f"wall: {wall:.1f} s including source checks (target <= {WALL_TARGET_S} s cold); "
        f"scheduler wall {summary['wall_seconds']:.1f} s; exit {proc.returncode}"
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
