"""Benchmark: what the cache saves on pipelines/full-stack.yaml (--parallel 9).

Three builds in a row, with the figures of each:

1. cold: every node rebuilt (``--no-cache``); skip with ``--skip-cold`` when the images of
   the pipeline are already in local storage;
2. no-op: the same pipeline again, through a proxy address where nothing listens, so any
   network access would fail the run (target: <= 5 s for every node, none built);
3. one service's version changed (keystone 29.1.0 -> 29.0.2 in a copy of the pipeline;
   same wheel set): target exactly 1 node built, in <= 60 s;
4. the pinned pipeline again, which reuses keystone 29.1.0 and points its tags back at it;
   the 29.0.2 image is then removed, so the next run measures the same thing;
5. a typical nightly: one upper-constraints line changed and one service's source (keystone
   29.1.0 -> 29.0.2; its 29.0.2 wheel, kept by step 3, is dropped first: a new release has
   none), three times (targets: wheels node <= 20 s, the whole nightly <= 90 s):
   - a line of a distribution every service holds (oslo.utils 10.0.1 -> 10.0.0): the wheels
     node takes every other wheel from the previous wheels image, and the nine services
     rebuild on the new one, the eight unchanged ones taking their own wheel from the host's
     cache;
   - a line of a distribution one service holds (tabulate 0.9.0 -> 0.8.10, cinder's
     alone): the wheels node, cinder (every image is keyed by the pins it installs when
     the resolution gave the wheel set's dependency graph) and keystone;
   - a line of a distribution no image holds (coverage 7.13.4 -> 7.13.3, outside the
     wheel set the wheels image is keyed by): keystone alone rebuilds;
   after each, its images are removed and the pinned pipeline reuses everything again.

Each row gives wall time and CPU-seconds (user + sys of every process the build waited for).
``--layering flat`` runs it all on a copy of the pipeline without the shared node, for the
before/after pair.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import cpu_seconds

from orchestrator.model.settings import resolve_settings

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "full-stack.yaml"
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing answers


def build(pipeline: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[float, dict]:
    """Run one build; return its wall time and its summary document (with ``cpu_seconds``)."""
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        argv = [sys.executable, "-m", "orchestrator", "build", str(pipeline), "--parallel", "9"]
        argv += ["--summary-json", str(summary_path), *extra]
        started, cpu = time.monotonic(), cpu_seconds()
        proc = subprocess.run(argv, cwd=ROOT, env=env, check=False)
        wall = time.monotonic() - started
        if proc.returncode != 0:
            sys.exit(f"build of {pipeline} failed (exit {proc.returncode})")
        summary = json.loads(summary_path.read_text())
        summary["cpu_seconds"] = cpu_seconds() - cpu
        return wall, summary


UPPER = ROOT / "constraints" / "2026.1" / "upper-constraints.txt"
# (the line, the line it becomes, the row's label) of each nightly.
NIGHTLIES = (
    ("oslo.utils===10.0.1", "oslo.utils===10.0.0", "nightly: shared line"),
    ("tabulate===0.9.0", "tabulate===0.8.10", "nightly: one service's line"),
    ("coverage===7.13.4", "coverage===7.13.3", "nightly: line of none"),
)
NIGHTLY_TARGET = "target wheels <= 20 s, a typical nightly <= 90 s"


def nightly(pipeline_text: str, line: str, bump: str) -> tuple[float, dict]:
    """Build ``pipeline_text`` under a copy of upper-constraints with ``line`` replaced."""
    bumped, n = re.subn(f"^{re.escape(line)}$", bump, UPPER.read_text(), flags=re.M)
    assert n == 1, f"{UPPER.relative_to(ROOT)} no longer pins {line}"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "upper-constraints.txt").write_text(bumped)
        copy = Path(tmp) / "full-stack-nightly.yaml"
        copy.write_text(pipeline_text.replace(str(UPPER), str(Path(tmp) / "upper-constraints.txt")))
        return build(copy)


def forget_project_wheel(prefix: str) -> None:
    """Remove the host's cached wheels whose file name starts with ``prefix``."""
    state = resolve_settings({}, {}, environ=os.environ).state_dir
    for wheel in (state / "project-wheels").glob(f"*/*/{prefix}*.whl"):
        shutil.rmtree(wheel.parent.parent, ignore_errors=True)


def report(label: str, wall: float, summary: dict, target: str) -> None:
    built = [n["node"] for n in summary["nodes"] if n["status"] == "built"]
    reused = [n["node"] for n in summary["nodes"] if n["status"] == "reused"]
    wheels = next((n for n in summary["nodes"] if n["node"] == "requirements"), None)
    wheels_s = (
        f"wheels {wheels['duration_seconds']:.1f} s"
        if wheels and wheels["status"] == "built"
        else ""
    )
    print(
        f"{label:<22}{wall:>8.1f} s {summary['cpu_seconds']:>7.1f} CPU-s  built {len(built):>2}"
        f" {','.join(built) if len(built) < 4 else f'{len(built)} nodes':<28} reused"
        f" {len(reused):>2}  {wheels_s:<16} {target}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-cold", action="store_true", help="do not rebuild everything")
    parser.add_argument("--layering", choices=("shared", "flat"), help="override the file's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        return measure(args, Path(tmp))


def measure(args: argparse.Namespace, tmp: Path) -> int:
    text = PIPELINE.read_text().replace("../constraints", str(ROOT / "constraints"))
    text = text.replace("../profiles", str(ROOT / "profiles"))
    if args.layering == "flat":
        # The shared nodes stand under openstack-base: a flat copy has none.
        text = re.sub(r"^shared_nodes:\n(?:[ #].*\n)*", "", text, flags=re.M)
    if args.layering:
        text += f"layering: {args.layering}\n"
    pipeline = tmp / "full-stack.yaml"
    pipeline.write_text(text)
    rows = []
    if not args.skip_cold:
        rows.append(("cold", *build(pipeline, "--no-cache"), "target <= 200 s, <= 330 CPU-s"))
    offline = dict(
        os.environ,
        ORCHESTRATE_HTTP_PROXY=DEAD_PROXY,
        ORCHESTRATE_HTTPS_PROXY=DEAD_PROXY,
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        http_proxy=DEAD_PROXY,
        https_proxy=DEAD_PROXY,
    )
    rows.append(("no-op (no network)", *build(pipeline, env=offline), "target <= 5 s, 0 built"))
    changed, n = re.subn(r"keystone==29\.1\.0, sha256: [0-9a-f]{64}", "keystone==29.0.2", text)
    assert n == 1, "pipelines/full-stack.yaml no longer pins keystone 29.1.0"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "full-stack-keystone-29.0.2.yaml"
        copy.write_text(changed)
        rows.append(("keystone version", *build(copy), "target <= 60 s, 1 built"))
    # Back to the pinned release: reused, and its release tags point at 29.1.0 again.
    rows.append(("back to 29.1.0", *build(pipeline), "0 built"))
    # Leave storage as it was, so the next run of this benchmark builds 29.0.2 again.
    changed_image = next(n["image"] for n in rows[-2][2]["nodes"] if n["node"] == "keystone")
    subprocess.run(["buildah", "rmi", changed_image], check=False, capture_output=True)
    # The typical nightly: one upper-constraints line and one service's source. The
    # changed source builds its wheel, as a new release would: the one step 3 kept is dropped.
    # Three times: a line of a distribution every image holds (oslo.utils, in
    # openstack-base), one of cinder's alone (tabulate), and one no image holds (coverage;
    # about half of the file's lines are so).
    for line, bump, label in NIGHTLIES:
        forget_project_wheel("keystone-29.0.2-")
        rows.append((label, *nightly(changed, line, bump), NIGHTLY_TARGET))
        bumped_images = [n["image"] for n in rows[-1][2]["nodes"] if n["status"] == "built"]
        rows.append(("back to the pins", *build(pipeline), "0 built"))
        subprocess.run(["buildah", "rmi", *bumped_images], check=False, capture_output=True)
    layering = f", layering {args.layering}" if args.layering else ""
    print(f"\n{PIPELINE.relative_to(ROOT)}{layering}, --parallel 9, on {os.cpu_count()} cores")
    for label, wall, summary, target in rows:
        report(label, wall, summary, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
