"""A project the catalog does not know, named by a pipeline, builds with the site defaults and
passes its checks (runtime completeness, the console-script smoke check)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.model.site_projects import entry_points_smoke, site_uid
from tests.integration.conftest import ROOT, inspect, orchestrate, run_in

# A minute of build (its wheels and image): with the other builds of what LOCI users bring,
# in nox -s carry_over, not in the default run's fifteen minutes.
pytestmark = pytest.mark.carry_over

NS = "localhost/orchestrate-test"
SOURCE = ROOT / "tests" / "integration" / "site-echo"


def test_a_project_outside_the_catalog_builds_with_the_defaults(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    # After the keystone stack: its wheels (oslo.config, uwsgi ...) are carried over.
    pipeline = tmp_path / "site.yaml"
    pipeline.write_text(
        (ROOT / "pipelines" / "keystone.yaml")
        .read_text()
        .replace("../constraints", str(ROOT / "constraints"))
        .replace("name: keystone\n", "name: site-echo\n")
        .split("images:\n")[0]
        + f"images:\n  site-echo:\n    source: {{local: {SOURCE}}}\n"
    )
    out = tmp_path / "summary.json"
    proc = orchestrate(
        "build", str(pipeline), "--summary-json", str(out), state_dir=state_dir, timeout=1200
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    nodes = {n["node"]: n for n in json.loads(out.read_text())["nodes"]}
    assert nodes["site-echo"]["status"] in ("built", "reused")
    assert nodes["site-echo"]["absent"] == []

    image = nodes["site-echo"]["image"]
    assert inspect(image)["OCIv1"]["config"]["User"] == "site-echo"
    uid = site_uid("site-echo", ())
    ids = run_in(image, "id", "site-echo")
    assert ids.stdout.startswith(f"uid={uid}(site-echo) gid={uid}(site-echo)"), ids.stdout
    # Its etc/site-echo, found in the source, is its configuration folder.
    greeting = run_in(image, "site-echo", user="site-echo")
    assert greeting.stdout.strip() == "hello from site-echo", greeting.stderr
    # The runtime check ran: the filters' commands and the option's default file were found.
    report = json.loads(run_in(image, "cat", "/etc/image_info/runtime.json").stdout)
    assert report["project"] == "site-echo"
    assert set(report["present"]) == {"mkdir", "cat"} and report["absent"] == []
    assert report["config_defaults"] == [
        {
            "option": "[DEFAULT] greeting_file",
            "path": "/etc/site-echo/greeting.txt",
            "present": True,
            "accepted": False,
        }
    ]
    # The default smoke check (every console script loaded), as the build ran it: it names
    # each script it loaded (run again here: an image reused from an earlier run has no log
    # of it).
    smoke = run_in(image, *entry_points_smoke("site-echo"), user="site-echo")
    assert smoke.returncode == 0 and smoke.stdout == "site-echo: site_echo.cmd:main\n", (
        smoke.stdout + smoke.stderr
    )
