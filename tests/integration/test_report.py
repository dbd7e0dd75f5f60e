"""The HTML report of a real run, opened in a real headless Chromium (Debian's chromium)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.integration.conftest import orchestrate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
# The status colours of orchestrator.reporting.html.COLOURS for built and reused nodes.
BUILT, REUSED = (0x2E, 0x7D, 0x32), (0x81, 0xC7, 0x84)


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "chromium is not installed: run ./setup-host"
    return subprocess.run(
        [CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def report(keystone_run: dict[str, object], state_dir: Path, tmp_path: Path) -> Path:
    run_id = str(keystone_run["run_id"])
    path = tmp_path / "report.html"
    proc = orchestrate("report", run_id, "-o", str(path), state_dir=state_dir)
    assert proc.returncode == 0, proc.stderr
    return path


def test_report_renders_every_node_in_chromium(
    report: Path, keystone_run: dict[str, object], tmp_path: Path
) -> None:
    nodes = [n["node"] for n in keystone_run["nodes"]]  # type: ignore[attr-defined]
    dom = _chromium("--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr
    for node in nodes:
        assert f'data-node="{node}"' in dom.stdout  # the DAG box, the timeline bar, the row
        assert f'<tr data-node="{node}"><td>{node}</td>' in dom.stdout
    # Each built node's steps, as segments under its bar (reused nodes run none).
    built = [n["node"] for n in keystone_run["nodes"] if n["status"] == "built"]  # type: ignore[attr-defined]
    if built:
        assert 'class="step commit" data-step="commit"' in dom.stdout

    shot = tmp_path / "report.png"
    proc = _chromium(f"--screenshot={shot}", "--window-size=1280,1400", report.as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr
    with Image.open(shot) as image:
        data = image.convert("RGB").tobytes()
    pixels = [tuple(data[i : i + 3]) for i in range(0, len(data), 3)]
    assert len(set(pixels[:: max(len(pixels) // 20000, 1)])) > 20, "a blank page"
    statuses = {n["status"] for n in keystone_run["nodes"]}  # type: ignore[attr-defined]
    for status, colour in (("built", BUILT), ("reused", REUSED)):
        if status in statuses:
            assert pixels.count(colour) > 500, f"no {status} boxes drawn"
