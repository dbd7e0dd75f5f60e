"""The wheels image as a PEP 503 index: every resolved pin installs from it with plain pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import buildah_containers, orchestrate


def test_the_wheels_of_a_run_export_to_an_index_pip_installs_every_pin_from(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    before = {c for c in buildah_containers() if c.endswith("-wheels-export")}
    proc = orchestrate(
        "wheels", "export", str(keystone_run["run_id"]), str(index), state_dir=state_dir
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"pip install --index-url file://{index}/simple" in proc.stdout
    # Its working container is gone (other builds on the host may come and go meanwhile).
    assert {c for c in buildah_containers() if c.endswith("-wheels-export")} <= before
    pins = (index / "resolved.txt").read_text().split()
    assert len(pins) > 50 and all("==" in pin for pin in pins)
    # Keyed by its pins, the image holds them (resolved.txt), not the constraints file.
    assert (index / "constraints").is_dir() and not any((index / "constraints").iterdir())
    page = (index / "simple" / "oslo-db" / "index.html").read_text()
    assert "#sha256=" in page and "../../wheels/oslo_db-" in page
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
            "--index-url", f"file://{index}/simple", "--target", str(tmp_path / "site"),
            "-r", str(index / "resolved.txt"),
        ],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    installed = list((tmp_path / "site").glob("*.dist-info"))
    assert len(installed) == len(pins)
    # An existing, non-empty folder is refused, untouched.
    again = orchestrate(
        "wheels", "export", str(keystone_run["run_id"]), str(index), state_dir=state_dir
    )
    assert again.returncode == 2 and "exists and is not an empty folder" in again.stderr
