"""A horizon whose offline manifest is incomplete fails its build instead of being tagged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.acceptance.conftest import ROOT, build
from tests.conftest import SERVICES as ALL_SERVICES

SERVICES = set(ALL_SERVICES)

# Empty the offline manifest compress wrote: every compressed block is then left out.
LOSE_THE_MANIFEST = (
    'site=$(/var/lib/openstack/bin/python -c "import sysconfig; print(sysconfig.get_paths()'
    "['purelib'])\") && echo '{}' > \"$site/static/dashboard/manifest.json\""
)


def _pipeline(tmp_path: Path, services: list[str]) -> Path:
    """full-stack.yaml with the services the session built (so base and the wheels are
    reused), and a horizon step that loses what compress wrote."""
    data = yaml.safe_load((ROOT / "pipelines" / "full-stack.yaml").read_text())
    for key in ("upper", "global"):
        data["constraints"][key] = str(ROOT / "pipelines" / data["constraints"][key])
    data["images"] = {name: data["images"][name] for name in services}
    data["images"]["horizon"]["steps"] = [{"name": "lose-the-manifest", "run": LOSE_THE_MANIFEST}]
    path = tmp_path / "broken-horizon.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.full_stack  # a whole horizon build that must fail: the acceptance session's
@pytest.mark.service("horizon")
def test_a_horizon_that_cannot_render_its_login_page_is_not_tagged(
    images: dict[str, str], tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    pipeline = _pipeline(tmp_path, sorted(set(images) & SERVICES))
    proc = build(str(pipeline), state_dir=tmp_path / "state", summary=summary)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    node = next(n for n in json.loads(summary.read_text())["nodes"] if n["node"] == "horizon")
    assert node["status"] == "failed"
    assert "'acceptance'" in node["error"]
    log = Path(node["log"]).read_text()
    assert "is missing from offline manifest" in log  # check-horizon's render, not the step
    # Neither the key tag nor a candidate of this run is left in storage.
    names = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert node["image"] not in names
    run_id = json.loads(summary.read_text())["run_id"]
    assert not [n for n in names if n.endswith(f":candidate-{run_id}")]
