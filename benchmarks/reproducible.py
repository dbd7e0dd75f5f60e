"""Benchmark: two cold builds of a pipeline give bit-identical images (nox -s reproducible).

1. Builds PIPELINE (default pipelines/full-stack.yaml) with ``--no-cache`` in an image storage
   and a state directory of its own, so nothing this host holds is reused.
2. ``orchestrate verify`` on that run: every node rebuilt from nothing in a scratch storage
   (as of the first build's date, apt held to the versions it installed) and compared by
   image id; files, packages and config named where they differ.

Prints each node's verdict and image id, and wall time and CPU-seconds of both builds.
Removes both storages at the end (``--keep`` keeps them, and prints where). Exits 0 when
every node is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from measure import remove_with_storage, timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", default="pipelines/full-stack.yaml")
    parser.add_argument("--parallel", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="keep both builds' storage")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="orchestrate-reproducible-", dir="/var/tmp"))
    env = dict(
        os.environ,
        ORCHESTRATE_STATE_DIR=str(work / "state"),
        ORCHESTRATE_PROGRESS="plain",
    )
    orchestrate = [sys.executable, "-m", "orchestrator"]
    try:
        summary = work / "summary.json"
        # Given on the command line, so the run records them and verify finds that storage.
        build = [*orchestrate, "build", args.pipeline, "--no-cache", "--no-push",
                 "--storage-root", str(work / "storage"),
                 "--namespace", "localhost/orchestrate-reproducible",
                 "--parallel", str(args.parallel), "--summary-json", str(summary)]  # fmt: skip
        first = timed(f"cold build of {args.pipeline}", build, env, width=44)
        if first.returncode != 0:
            return first.returncode
        run_id = json.loads(summary.read_text())["run_id"]
        second = timed("orchestrate verify (a second cold build)", [
            *orchestrate, "verify", run_id, "--json", "--limit", "20",
            *(["--keep"] if args.keep else [])], env)  # fmt: skip
        if second.returncode not in (0, 1):  # (its output was printed)
            return second.returncode
        verdicts = json.loads(second.stdout)
        print(f"\n{'node':<14}{'verdict':<16}image id (first build -> rebuild)")
        for v in verdicts:
            ids = v["original"][:12] + (f" -> {v['rebuilt'][:12]}" if v["rebuilt"] else "")
            print(f"{v['node']:<14}{v['result']:<16}{ids}  {v['why']}".rstrip())
        same = sum(v["result"] == "identical" for v in verdicts)
        print(f"\n{same} of {len(verdicts)} images bit-identical")
        for v in verdicts:
            if v["result"] == "different":
                files = v["contents"]["files"] if v["contents"] else {}
                print(f"{v['node']}: files changed {sorted(files.get('changed', {}))[:20]}, "
                      f"config {sorted(v['config'])}")  # fmt: skip
        return second.returncode
    finally:
        if not args.keep:
            remove_with_storage(work)
        else:
            print(f"kept: {work}")


if __name__ == "__main__":
    sys.exit(main())
