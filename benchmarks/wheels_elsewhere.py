"""Benchmark: the full stack's services built from wheels another site published.

Takes the wheels image of a full-stack build on this host (``--image``, by default
``localhost/orchestrate/requirements:2026.1``; build pipelines/full-stack.yaml first), then:
1. ``orchestrate wheels export`` writes it as a PEP 503 index, and a plain ``pip install
   --no-deps --index-url file://DIR/simple`` of every resolved pin runs against it (in a
   scratch venv);
2. the pipeline's nine services build from that index (``requirements: {index, pins,
   runtime_packages}``);
3. the wheels image is pushed to docker-registry on 127.0.0.1 (TLS, htpasswd) and the nine
   services build from it pulled by digest (``requirements: {from: REG/...@sha256:...}``).

Builds 2 and 3 run under their own image namespace and state dir, so this host's images keep
their tags. Prints wall time and CPU-seconds per step, and each node's status: a service is
``built`` only when its checks (smoke, libraries, acceptance script) passed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import timed  # noqa: E402

from tests.registry_server import TlsRegistry  # noqa: E402

NAMESPACE = "localhost/orchestrate-elsewhere"


def variant(pipeline: Path, requirements: str, dest: Path, name: str) -> Path:
    """The pipeline with its ``requirements:`` section replaced and its paths made absolute."""
    lines, skipping = [], False
    for line in pipeline.read_text().splitlines():
        if line.startswith("requirements:"):
            skipping = True
            continue
        if skipping and line.startswith((" ", "#")):
            continue
        skipping = False
        if line.startswith("name:"):
            line = f"name: {name}"
        lines.append(line.replace("../constraints", str(ROOT / "constraints")))
        if line.startswith("images:"):
            lines[-1:-1] = requirements.splitlines()
    dest.write_text("\n".join(lines) + "\n")
    return dest


def statuses(summary: Path) -> str:
    nodes = json.loads(summary.read_text())["nodes"]
    return ", ".join(f"{n['node']} {n['status']}" for n in nodes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", default="pipelines/full-stack.yaml")
    parser.add_argument("--image", default="localhost/orchestrate/requirements:2026.1")
    parser.add_argument("--parallel", default="9")
    args = parser.parse_args()
    pipeline = ROOT / args.pipeline
    failed = 0
    with tempfile.TemporaryDirectory(prefix="wheels-elsewhere-") as tmp_name:
        tmp = Path(tmp_name)
        orchestrate = [sys.executable, "-m", "orchestrator"]
        env = dict(
            os.environ,
            ORCHESTRATE_NAMESPACE=NAMESPACE,
            ORCHESTRATE_STATE_DIR=str(tmp / "state"),
            ORCHESTRATE_PARALLEL=args.parallel,
        )
        index = tmp / "index"
        proc = timed(
            "export the wheels image as an index",
            [*orchestrate, "wheels", "export", args.image, str(index)],
            dict(os.environ),
        )
        failed |= proc.returncode
        pins = index / "resolved.txt"
        count = sum(1 for line in pins.read_text().splitlines() if "==" in line)
        print(f"  {count} pins, {len(list((index / 'wheels').glob('*.whl')))} wheels")
        subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
        pip_env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        pip_env["PIP_CONFIG_FILE"] = os.devnull
        proc = timed(
            "pip install --no-deps of every pin from the index",
            [
                str(tmp / "venv" / "bin" / "pip"),
                "install",
                "-q",
                "--no-deps",
                "--index-url",
                f"file://{index}/simple",
                "-r",
                str(pins),
            ],
            pip_env,
        )
        failed |= proc.returncode
        from_index = variant(
            pipeline,
            f"requirements:\n  index: file://{index}/simple\n  pins: {pins}\n"
            f"  runtime_packages: {index}/runtime-packages.txt",
            tmp / "from-index.yaml",
            "full-stack-from-index",
        )
        summary = tmp / "from-index.json"
        proc = timed(
            "the nine services from the index",
            [*orchestrate, "build", str(from_index), "--summary-json", str(summary)],
            env,
        )
        failed |= proc.returncode
        if summary.exists():
            print("  " + statuses(summary))
        registry = TlsRegistry(tmp / "registry")
        registry.prepare()
        registry.start()
        try:
            remote = f"{registry.address}/elsewhere/requirements:published"
            proc = timed(
                "push the wheels image to the registry",
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    "--dest-cert-dir",
                    str(registry.cert_dir),
                    "--dest-authfile",
                    str(registry.authfile),
                    f"containers-storage:{args.image}",
                    f"docker://{remote}",
                ],
                dict(os.environ),
            )
            failed |= proc.returncode
            raw = subprocess.run(
                ["skopeo", "inspect", "--raw", *registry.client_options(), f"docker://{remote}"],
                check=True,
                capture_output=True,
            ).stdout
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            from_image = variant(
                pipeline,
                f"requirements:\n  from: {registry.address}/elsewhere/requirements@{digest}",
                tmp / "from-image.yaml",
                "full-stack-from-image",
            )
            summary = tmp / "from-image.json"
            proc = timed(
                "the nine services from the image, by digest",
                [
                    *orchestrate,
                    "build",
                    str(from_image),
                    "--summary-json",
                    str(summary),
                    *registry.client_options(),
                ],
                env,
            )
            failed |= proc.returncode
            if summary.exists():
                print("  " + statuses(summary))
        finally:
            registry.stop()
            shutil.rmtree(tmp / "registry", ignore_errors=True)
            ours = subprocess.run(
                ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            ours = [name for name in ours if name.startswith(NAMESPACE + "/")]
            if ours:  # this benchmark's images: the host's own keep their tags
                subprocess.run(["buildah", "rmi", *ours], capture_output=True, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
