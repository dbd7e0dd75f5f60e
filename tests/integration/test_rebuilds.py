"""Rebuild only what changed, resume a killed run, prune, with real buildah.

Two keystone images (``ks-a`` and ``ks-b``, both of project keystone) share a test profile;
they install the wheels keystone.yaml's requirements image already holds, so the wheels image
is reused whenever the wheel set did not change, and what both install is their shared node's
(openstack-base). A uid drawn per session gives them keys no earlier session built, and their
repositories, and the shared images built here, are removed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, buildah_containers, orchestrate

SDIST = (
    "{pypi: keystone==29.1.0, "
    "sha256: 9090a34976c48b518dec21d73260d3af76029c05bd40bfe2cb097dfd7d343bc1}"
)
PROFILES = "[fluent, apache, ldap, tools]"
NS = "localhost/orchestrate-test"
UID = 60000 + secrets.randbelow(5000)
SHARED_BUILT: list[str] = []  # the openstack-base images this module built (and removes)


def _header() -> str:
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    return text[: text.index("images:")]


def _pipeline(folder: Path, b_packages: str = "", b_pip: str = "", upper: str = "") -> Path:
    body = f"""images:
  ks-a:
    project: keystone
    source: {SDIST}
    profiles: {PROFILES}
    uid: {UID}
  ks-b:
    project: keystone
    source: {SDIST}
    profiles: {PROFILES}
    uid: {UID}
"""
    if b_packages:
        body += f"    dist_packages: [{b_packages}]\n"
    if b_pip:
        body += f"    pip_packages: [{b_pip}]\n"
    header = _header()
    if upper:
        default = str(ROOT / "constraints" / "2026.1" / "upper-constraints.txt")
        assert default in header, header
        header = header.replace(default, upper)
    path = folder / "two.yaml"
    path.write_text(header + body)
    return path


def _profile(folder: Path, packages: str) -> None:
    (folder / "profiles" / "tools.yaml").write_text(
        "description: Distro tools for the rebuild tests.\n"
        f"projects:\n  keystone:\n    dist_packages: [{packages}]\n"
    )


def _images() -> list[str]:
    out = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ref for ref in out if ref.startswith((f"{NS}/ks-a:", f"{NS}/ks-b:"))]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("rebuilds")
    shutil.copytree(ROOT / "profiles", folder / "profiles")
    _profile(folder, "less")
    yield folder
    refs = _images() + SHARED_BUILT
    if refs:
        subprocess.run(["buildah", "rmi", "--force", *refs], capture_output=True, check=False)


def _build(workdir: Path, state_dir: Path, *args: str) -> dict[str, str]:
    """Run a build; return each node's status from its summary."""
    out = workdir / "summary.json"
    proc = orchestrate(
        "build",
        str(workdir / "two.yaml"),
        "--profiles-dir",
        str(workdir / "profiles"),
        "--summary-json",
        str(out),
        *args,
        state_dir=state_dir,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nodes = json.loads(out.read_text())["nodes"]
    SHARED_BUILT.extend(
        n["image"]
        for n in nodes
        if n["node"] in ("openstack-base", "requirements") and n["status"] == "built"
    )
    return {n["node"]: n["status"] for n in nodes}


def _plan_table(workdir: Path, state_dir: Path) -> str:
    """``orchestrate plan``'s closing table (each node's action and why)."""
    plan = orchestrate(
        "plan",
        str(workdir / "two.yaml"),
        "--profiles-dir",
        str(workdir / "profiles"),
        state_dir=state_dir,
    )
    assert plan.returncode == 0, plan.stderr
    return plan.stdout[plan.stdout.rindex("NODE ") :]


def _built(statuses: dict[str, str]) -> set[str]:
    return {node for node, status in statuses.items() if status == "built"}


# Seven builds (about 3 minutes): in nox -s integration, not the default run (moved on
# 2026-12-07, when that run took 957 s of its 900 on a slow machine); the resume test below
# stays in it.
@pytest.mark.rebuild_chain
def test_rebuilds_follow_what_changed(workdir: Path, state_dir: Path, no_leftovers: None) -> None:
    _pipeline(workdir)
    first = _build(workdir, state_dir)
    # What both install (the test profile's packages, keystone's requirements) is built once.
    assert _built(first) in ({"ks-a", "ks-b"}, {"openstack-base", "ks-a", "ks-b"})
    assert first["requirements"] == "reused"

    again = _build(workdir, state_dir)
    assert set(again.values()) == {"reused"}, again

    # One service's own setting: that service only, and plan says why before the build.
    _pipeline(workdir, b_packages="file")
    table = _plan_table(workdir, state_dir)
    assert re.search(r"^ks-b +build ", table, re.M) and "dist_packages +file" in table, table
    assert re.search(r"^ks-a +reuse ", table, re.M), table
    assert _built(_build(workdir, state_dir)) == {"ks-b"}

    # A profile both services use: its packages are the shared node's, so that and both
    # services on it, and not the wheels (the wheel set is the same).
    _profile(workdir, "less, tree")
    assert _built(_build(workdir, state_dir)) == {"openstack-base", "ks-a", "ks-b"}

    # Prune: the superseded builds go, the latest run's images stay.
    before = set(_images())
    pruned = orchestrate("prune", "--keep-logs", "100", state_dir=state_dir)
    assert pruned.returncode == 0, pruned.stderr
    after = set(_images())
    removed = before - after
    assert len([r for r in removed if "/ks-a:" in r]) == 1, pruned.stdout  # the first build
    assert len([r for r in removed if "/ks-b:" in r]) == 2, pruned.stdout  # first, +file
    assert {f"{NS}/ks-a:2026.1", f"{NS}/ks-b:2026.1"} <= after
    assert _build(workdir, state_dir)["ks-a"] == "reused"

    # A pip package of one service: the wheels image holds one more pin, and only that
    # service installs it. Each image is keyed by the pins it installs: the shared node and
    # ks-a are reused (while the new wheels image is built: ks-b's install waits for it).
    _pipeline(workdir, b_packages="file", b_pip="tabulate")
    assert _built(_build(workdir, state_dir)) == {"requirements", "ks-b"}
    # A new pin of it (an older release, as a nightly's constraints may bring): the same.
    upper = workdir / "upper-constraints.txt"
    text = (ROOT / "constraints" / "2026.1" / "upper-constraints.txt").read_text()
    assert "tabulate===0.9.0\n" in text
    upper.write_text(text.replace("tabulate===0.9.0\n", "tabulate===0.8.10\n"))
    _pipeline(workdir, b_packages="file", b_pip="tabulate", upper=str(upper))
    table = _plan_table(workdir, state_dir)
    assert "installs +tabulate==0.8.10 -tabulate==0.9.0" in table, table
    assert _built(_build(workdir, state_dir)) == {"requirements", "ks-b"}


def _newest_run(state_dir: Path, after: set[str]) -> Path | None:
    runs = sorted(p for p in (state_dir / "runs").iterdir() if p.name not in after)
    return runs[-1] if runs else None


def test_a_killed_run_resumes_without_repeating_work(
    workdir: Path, state_dir: Path, no_leftovers: None
) -> None:
    _pipeline(workdir)
    _profile(workdir, "less")
    before = {p.name for p in (state_dir / "runs").iterdir()}
    env = dict(
        os.environ,
        ORCHESTRATE_STATE_DIR=str(state_dir),
        ORCHESTRATE_NAMESPACE="localhost/orchestrate-test",
    )
    argv = [sys.executable, "-m", "orchestrator", "build", str(workdir / "two.yaml")]
    argv += ["--profiles-dir", str(workdir / "profiles"), "--no-cache-for", "ks-a,ks-b"]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    killed_run = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            killed_run = _newest_run(state_dir, before)
            log = killed_run / "logs" / "ks-a.log" if killed_run else None
            # A step every service has (ks-a installs no package of its own: no such step).
            if log is not None and log.exists() and "--- step install-project" in log.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the build ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert killed_run is not None
    time.sleep(1)  # the kernel's SIGTERM to its commands (PR_SET_PDEATHSIG) takes effect
    assert any(name.startswith(f"orch-{killed_run.name}-") for name in buildah_containers())

    resumed = orchestrate("build", "--resume", str(workdir / "two.yaml"), state_dir=state_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming run {killed_run.name} (killed)" in resumed.stdout
    assert not any(name.startswith(f"orch-{killed_run.name}-") for name in buildah_containers())

    db = sqlite3.connect(state_dir / "history.sqlite3")
    rows = db.execute(
        "SELECT r.id, n.node, n.status FROM runs r JOIN nodes n ON n.run_id = r.id "
        "WHERE r.id = ? OR r.resumed_from = ?",
        (killed_run.name, killed_run.name),
    ).fetchall()
    result = db.execute("SELECT result FROM runs WHERE id = ?", (killed_run.name,)).fetchone()
    db.close()
    assert result == ("killed",)
    first = {node: status for run, node, status in rows if run == killed_run.name}
    second = {node: status for run, node, status in rows if run != killed_run.name}
    assert set(first.values()) <= {"built", "reused"}  # what ended before the kill
    assert {"ks-a", "ks-b"} - set(first), "both services ended before the kill"
    # Nothing the killed run finished is built again; the rest is built (its --no-cache-for
    # still applies to what it had not finished).
    assert {n for n, s in second.items() if s == "built"} == {"ks-a", "ks-b"} - set(first)
    assert set(second) == {
        "base",
        "wheel-builder",
        "requirements",
        "openstack-base",
        "ks-a",
        "ks-b",
    }
