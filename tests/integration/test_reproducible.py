"""Bit-identical rebuilds, checked with ``orchestrate verify`` on real builds.

All of it is in ``nox -s reproducible`` (marker ``reproducible``), out of the default run's
fifteen minutes: the session's keystone run's base (one cold mmdebstrap in a scratch
storage), the whole keystone run (base, wheels and keystone rebuilt from nothing), a build
made deliberately unreproducible, whose differing file verify must name, and a rebuild held
to a package version no mirror serves.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from orchestrator.records.history import History
from tests.conftest import ROOT
from tests.integration.conftest import (
    assert_nothing_left,
    buildah_containers,
    orchestrate,
    run_ids,
)

NAMESPACE = "localhost/orchestrate-test"


def _verify(target: str, state_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return orchestrate("verify", target, "--json", *extra, state_dir=state_dir, timeout=2400)


def _verdicts(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    return {v["node"]: v for v in json.loads(proc.stdout)}


def _nothing_left_of(state_dir: Path, containers_before: set[str]) -> None:
    assert not list((state_dir / "verify").iterdir()), "the scratch storage was left behind"
    assert buildah_containers() <= containers_before


@pytest.mark.reproducible
def test_the_base_rebuilds_bit_for_bit(keystone_run: dict[str, object], state_dir: Path) -> None:
    base = next(n for n in keystone_run["nodes"] if n["node"] == "base")  # type: ignore[attr-defined]
    before = buildah_containers()
    proc = _verify(base["image"], state_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdicts = _verdicts(proc)
    assert list(verdicts) == ["base"]
    assert verdicts["base"]["result"] == "identical"
    assert verdicts["base"]["rebuilt"] == base["image_id"].removeprefix("sha256:")
    # The run it checked built this key, or (the image was made before this session's
    # state dir) is the newest that reused it: not always the keystone run, as later tests
    # of the session reuse the same base.
    checked = re.search(r"verifying run (\S+):", proc.stderr)
    assert checked, proc.stderr[-2000:]
    with History(state_dir, readonly=True) as history:
        key = next(n.key for n in history.nodes(str(keystone_run["run_id"])) if n.node == "base")
        made = history.build_of(key) or history.newest_with_key(key)
    assert made is not None and made.run_id == checked.group(1)
    assert made.image_id == base["image_id"]
    _nothing_left_of(state_dir, before)


@pytest.mark.reproducible
def test_the_keystone_run_rebuilds_bit_for_bit(
    keystone_run: dict[str, object], state_dir: Path
) -> None:
    before = buildah_containers()
    proc = _verify(str(keystone_run["run_id"]), state_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdicts = _verdicts(proc)
    assert list(verdicts) == ["base", "wheel-builder", "requirements", "keystone"]
    for node in keystone_run["nodes"]:  # type: ignore[attr-defined]
        assert verdicts[node["node"]]["result"] == "identical", verdicts[node["node"]]
        assert verdicts[node["node"]]["rebuilt"] == node["image_id"].removeprefix("sha256:")
    _nothing_left_of(state_dir, before)


@pytest.mark.reproducible
def test_verify_names_what_an_unreproducible_step_changed(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    """keystone plus a step that writes the time: every build of it differs, in that file."""
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text += "    steps:\n      - name: stamp\n        run: date +%s%N > /etc/build-stamp\n"
    pipeline = tmp_path / "stamped.yaml"
    pipeline.write_text(text)
    runs_before = run_ids(state_dir)
    built = orchestrate("build", str(pipeline), "--only", "keystone", state_dir=state_dir)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (run_id,) = run_ids(state_dir) - runs_before
    before = buildah_containers()
    proc = _verify(run_id, state_dir, "--limit", "0")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdicts = _verdicts(proc)
    assert verdicts["base"]["result"] == verdicts["requirements"]["result"] == "identical"
    keystone = verdicts["keystone"]
    assert keystone["result"] == "different"
    files = keystone["contents"]["files"]  # type: ignore[index]
    assert list(files["changed"]) == ["/etc/build-stamp"], files
    assert not files["added"] and not files["removed"]
    assert keystone["config"] == {}, keystone["config"]  # the same labels, dates and history
    _nothing_left_of(state_dir, before)
    assert_nothing_left(state_dir, {run_id})


@pytest.mark.reproducible
def test_a_mirror_that_moved_on_fails_the_rebuild_by_name(state_dir: Path, tmp_path: Path) -> None:
    """apt_pins holding bash at a version no mirror serves: the base fails naming bash, with
    no image made and nothing left behind."""
    pins = tmp_path / "pins"
    pins.mkdir()
    (pins / "base.txt").write_text("bash=5.2.15-2+b1~gone\n")
    runs_before = run_ids(state_dir)
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--only", "base", "--no-cache",
        "--apt-pins", str(pins), "--namespace", "localhost/orchestrate-test-pins",
        state_dir=state_dir,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "apt-pins: installed versions differ from the recorded build's" in output
    assert "bash 5.2.15-2+b" in output and "(recorded 5.2.15-2+b1~gone)" in output
    (run_id,) = run_ids(state_dir) - runs_before
    assert_nothing_left(state_dir, {run_id})
    images = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}"], capture_output=True, text=True, check=True
    ).stdout
    assert "orchestrate-test-pins" not in images
