"""Steps run sandboxed by default: a build step neither sees nor writes the host's /dev/shm,
and finds none of the host's device nodes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml

from tests.integration.conftest import ROOT, orchestrate


def _host_device() -> str:
    """A block device node the host has (a sandboxed step must not see it)."""
    for name in sorted(p.name for p in Path("/sys/block").iterdir()):
        if (Path("/dev") / name).exists() and not name.startswith(("loop", "ram", "zram")):
            return f"/dev/{name}"
    return "/dev/loop0"


def _pipeline(tmp_path: Path, step: str) -> Path:
    """pipelines/keystone.yaml, keystone with one more step."""
    data = yaml.safe_load((ROOT / "pipelines" / "keystone.yaml").read_text())
    for key in ("upper", "global"):
        if key in data["constraints"]:
            data["constraints"][key] = str(ROOT / "pipelines" / data["constraints"][key])
    data["images"]["keystone"]["steps"] = [{"name": "probe-the-host", "run": step}]
    path = tmp_path / "isolated.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_step_cannot_touch_the_hosts_dev_shm_or_devices(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path, no_leftovers: None
) -> None:
    token = uuid.uuid4().hex[:12]
    planted = Path(f"/dev/shm/orchestrate-planted-{token}")
    written = Path(f"/dev/shm/orchestrate-from-step-{token}")
    device = _host_device()
    step = (
        f"test ! -e {planted}\n"
        f"echo from-the-step > {written}\n"
        f"test ! -e {device}\n"
        "rm -rf /dev/shm/*\n"  # a LOCI-style cleanup: harmless in the sandbox
    )
    planted.write_text("the host's\n")
    summary = tmp_path / "summary.json"
    try:
        proc = orchestrate(
            "build",
            str(_pipeline(tmp_path, step)),
            "--summary-json",
            str(summary),
            state_dir=state_dir,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert planted.read_text() == "the host's\n"
        assert not written.exists()
        nodes = {n["node"]: n for n in json.loads(summary.read_text())["nodes"]}
        log = Path(nodes["keystone"]["log"]).read_text()
        assert "--isolation oci" in log
        assert "OCI isolation cannot start" not in log
    finally:
        planted.unlink(missing_ok=True)
        written.unlink(missing_ok=True)
