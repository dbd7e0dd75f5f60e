"""Faults injected into real runs: each leaves no working container, candidate image, running
step or secret file, the history consistent, a clear cause on the terminal, and the next run
finishes with a good image.

The keystone pipeline's base, wheels and keystone come from the session's cache (the
``keystone_run`` fixture); what a fault needs built is a small child image FROM keystone,
named per test so that no other test session's images are touched.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    ROOT,
    assert_nothing_left,
    buildah_image_names,
    free_port,
    orchestrate,
    plain_registry,
    processes_with,
    run_ids,
    tags,
)
from tests.integration.test_interruptions import HANG_MARKER, hanging_pipeline

NAMESPACE = "localhost/orchestrate-test"


@pytest.fixture
def child(tmp_path: Path) -> Iterator[str]:
    """A child node name of this test only; its images are removed afterwards."""
    name = f"fault-{secrets.token_hex(3)}"
    yield name
    mine = sorted(i for i in buildah_image_names() if i.startswith(f"{NAMESPACE}/{name}:"))
    if mine:
        subprocess.run(["buildah", "rmi", "-f", *mine], capture_output=True, check=False)


def with_child(tmp_path: Path, name: str, run: str) -> Path:
    """pipelines/keystone.yaml plus a child FROM keystone whose Containerfile runs ``run``."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "Containerfile").write_text(f"FROM keystone\n# {name}\nRUN {run}\n")
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text += f"children:\n  {name}:\n    from: keystone\n    containerfile: {folder}/Containerfile\n"
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def runs_in_history(state_dir: Path) -> dict[str, tuple[str, int | None, str]]:
    """run id -> (result, exit code, error), read straight from the database."""
    db = sqlite3.connect(state_dir / "history.sqlite3")
    try:
        rows = db.execute("SELECT id, result, exit_code, error FROM runs").fetchall()
    finally:
        db.close()
    return {run: (result, code, error) for run, result, code, error in rows}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_sigkill_of_orchestrate_is_cleaned_up_by_the_next_run(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    before = run_ids(state_dir)
    env = dict(os.environ, ORCHESTRATE_STATE_DIR=str(state_dir), ORCHESTRATE_NAMESPACE=NAMESPACE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "build", str(hanging_pipeline(tmp_path))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    killed = ""
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before its hang step"
        new = run_ids(state_dir) - before
        log = state_dir / "runs" / next(iter(new), "-") / "logs" / "keystone.log"
        if new and log.is_file() and "\nhanging\n" in log.read_text(errors="replace"):
            (killed,) = new
            break
        time.sleep(1)
    assert killed, "the hang step never started"
    assert list((state_dir / "runs" / killed).rglob("network.env"))  # the step's secret file
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    # The next run marks it killed, stops its step, removes its container and secret file,
    # and builds (here: reuses) keystone.
    after = orchestrate("build", "pipelines/keystone.yaml", state_dir=state_dir)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "runs ended without finishing (killed)" in after.stderr
    assert runs_in_history(state_dir)[killed][0] == "killed"
    assert_nothing_left(state_dir, {killed})
    assert processes_with(HANG_MARKER) == []


def test_a_full_state_disk_fails_the_node_saying_so_and_the_next_run_finishes(
    keystone_run: dict[str, object], small_disk: Path, tmp_path: Path, child: str
) -> None:
    state = small_disk / "state"
    # The child's one step writes far more output than the disk holds.
    noisy = with_child(tmp_path, child, "yes 'filling the log' | head -c 60000000")
    full = orchestrate("build", str(noisy), state_dir=state)
    assert full.returncode == 1, full.stdout[-2000:] + full.stderr[-2000:]
    assert f"{child} failed: " in full.stderr
    assert "cannot write the node's log" in full.stderr
    assert "No space left on device" in full.stderr
    assert "Traceback" not in full.stderr
    assert re.search(r"^keystone\s+reused", full.stdout, re.M)  # the table reached the terminal
    assert f"{NAMESPACE}/{child}:2026.1" not in buildah_image_names()
    (first,) = run_ids(state)
    assert_nothing_left(state, {first})

    # Space back (the operator deletes the huge log): the next run finishes and the
    # history is consistent (the full-disk run ended recorded, or is marked killed now).
    (state / "runs" / first / "logs" / f"{child}.log").unlink()
    (tmp_path / "again").mkdir()
    quiet = with_child(tmp_path / "again", child, "true")
    again = orchestrate("build", str(quiet), state_dir=state)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert re.search(rf"^{child}\s+built", again.stdout, re.M)
    results = runs_in_history(state)
    assert results[first][0] in {"failed", "killed"}
    assert [r for r, (result, _, _) in results.items() if result == "running"] == []
    assert f"{NAMESPACE}/{child}:2026.1" in buildah_image_names()


def test_a_full_tmpdir_is_named_and_nothing_starts(
    keystone_run: dict[str, object],
    small_disk: Path,
    state_dir: Path,
    tmp_path: Path,
    child: str,
) -> None:
    # buildah needs TMPDIR for every command (a full one makes even `buildah images` fail
    # with "read/write on closed pipe"): the run is refused before it starts, naming it.
    filler = small_disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=64"], check=False)
    pipeline = with_child(tmp_path, child, "echo built")
    before = run_ids(state_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "build", str(pipeline)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "TMPDIR": str(small_disk),
            "ORCHESTRATE_STATE_DIR": str(state_dir),
            "ORCHESTRATE_NAMESPACE": NAMESPACE,
        },
        timeout=900,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip() == (
        f"orchestrate: error: no space left on device: TMPDIR {small_disk} has 0 MiB free: "
        "buildah needs room there for every command and image; free some space (orchestrate "
        "prune) or point TMPDIR or --state-dir elsewhere"
    )
    assert run_ids(state_dir) == before  # nothing started, nothing recorded

    filler.unlink()
    again = orchestrate("build", str(pipeline), state_dir=state_dir)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f"{NAMESPACE}/{child}:2026.1" in buildah_image_names()


def test_an_unreachable_index_exits_3_records_the_run_and_the_next_run_finishes(
    keystone_run: dict[str, object], tmp_path: Path
) -> None:
    state = tmp_path / "state"  # nothing fetched yet
    dead_index = f"http://127.0.0.1:{free_port()}/simple"
    failed = orchestrate(
        "build", "pipelines/keystone.yaml", "--pip-index-url", dead_index, state_dir=state
    )
    assert failed.returncode == 3, failed.stdout + failed.stderr
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("orchestrate: error: pypi:keystone==29.1.0: cannot read"), line
    assert "Connection refused" in line and "recorded as failed" in line
    (run,) = run_ids(state)
    result, code, error = runs_in_history(state)[run]
    assert (result, code) == ("failed", 3) and "Connection refused" in error
    show = orchestrate("show", "latest", state_dir=state)
    assert "error:     pypi:keystone==29.1.0: cannot read" in show.stdout

    good = orchestrate("build", "pipelines/keystone.yaml", state_dir=state)
    assert good.returncode == 0, good.stdout + good.stderr
    # A marker left empty by a full disk is read as "not known": asked again, not a crash.
    (marker,) = (state / "sources" / "pypi").glob("keystone-*.json")
    marker.write_text("")
    again = orchestrate("build", "pipelines/keystone.yaml", state_dir=state)
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"^keystone\s+reused", again.stdout, re.M)


def test_an_unreachable_registry_exits_3_before_anything_runs(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    closed = f"127.0.0.1:{free_port()}/openstack"
    before = run_ids(state_dir)
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--registry", closed, "--no-tls-verify",
        state_dir=state_dir,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"orchestrate: error: registry: cannot look up {closed}/"), line
    assert "connection refused" in line.lower()
    (run,) = run_ids(state_dir) - before
    result, code, error = runs_in_history(state_dir)[run]
    assert (result, code) == ("failed", 3) and "cannot look up" in error
    assert_nothing_left(state_dir, {run})


@pytest.mark.scale_out
def test_a_failed_push_moves_no_release_tag_and_resume_pushes_what_was_built(
    keystone_run: dict[str, object],
    registry: str,
    state_dir: Path,
    tmp_path: Path,
    child: str,
) -> None:
    pipeline = with_child(tmp_path, child, "echo site")
    before = run_ids(state_dir)
    # A registry that answers lookups (nothing is there) but refuses every push.
    (tmp_path / "readonly").mkdir()
    with plain_registry(tmp_path / "readonly", readonly=True) as readonly:
        failed = orchestrate(
            "build", str(pipeline), "--push", "--registry", f"{readonly}/openstack",
            "--no-tls-verify", state_dir=state_dir,
        )  # fmt: skip
    assert failed.returncode == 1, failed.stdout[-2000:] + failed.stderr[-2000:]
    # keystone's push failed, yet its child was built on its image (not skipped); the
    # child's own push failed, so its release tag did not move; nothing was promoted.
    assert re.search(r"^keystone\s+failed", failed.stdout, re.M), failed.stdout
    assert re.search(rf"^{child}\s+failed", failed.stdout, re.M), failed.stdout
    assert "skipped" not in failed.stdout
    assert "release tags not promoted" in failed.stdout
    assert "405, Method not allowed" in failed.stderr  # the registry refusing the upload
    names = buildah_image_names()
    assert any(n.startswith(f"{NAMESPACE}/{child}:") for n in names)
    assert f"{NAMESPACE}/{child}:2026.1" not in names
    (run,) = run_ids(state_dir) - before
    assert_nothing_left(state_dir, {run})

    # A registry that takes pushes: resume pushes the images it has, builds nothing.
    resumed = orchestrate(
        "resume", run, "--registry", f"{registry}/openstack", "--no-tls-verify", state_dir=state_dir
    )
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert not re.search(r"^\S+\s+built", resumed.stdout, re.M), resumed.stdout
    assert "2026.1" in tags(registry, f"openstack/{child}")
    assert "2026.1" in tags(registry, "openstack/keystone")
    assert f"{NAMESPACE}/{child}:2026.1" in buildah_image_names()
