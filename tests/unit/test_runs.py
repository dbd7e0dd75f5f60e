"""Telling live runs from dead ones, so only dead runs' containers are removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestrator.records import runs


def test_live_run_keeps_its_containers(tmp_path: Path) -> None:
    # A live process whose command line names orchestrate, as a real run's does.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; print('ready', flush=True); time.sleep(30)",
            "orchestrate",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"  # exec'd
        run_dir = tmp_path / "runs" / "20261126-120000-abcd"
        run_dir.mkdir(parents=True)
        (run_dir / "pid").write_text(f"{proc.pid}\n")
        (tmp_path / "runs" / "20261126-110000-ffff").mkdir()  # a dead run of ours
        names = [
            "orch-20261126-120000-abcd-keystone",
            "orch-20261126-110000-ffff-nova",
            "someone-elses-container",
            "orch-notarun-x",
        ]
        assert runs.of_dead_runs(tmp_path, names) == ["orch-20261126-110000-ffff-nova"]
    finally:
        proc.kill()
        proc.communicate()
    assert runs.of_dead_runs(tmp_path, names) == names[:2]


def test_mark_running_records_this_process(tmp_path: Path) -> None:
    pid_file = runs.mark_running(tmp_path / "runs" / "r")
    assert pid_file.read_text() == f"{os.getpid()}\n"


def test_dead_pid_is_not_alive(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "20261126-120000-abcd"
    run_dir.mkdir(parents=True)
    (run_dir / "pid").write_text("999999999\n")
    assert not runs.is_alive(tmp_path, "20261126-120000-abcd")
    assert runs.of_dead_runs(tmp_path, ["orch-20261126-120000-abcd-base"]) == [
        "orch-20261126-120000-abcd-base"
    ]


def test_unrelated_containers_are_never_orphans(tmp_path: Path) -> None:
    assert runs.of_dead_runs(tmp_path, ["keystone-dev", "orch-x-y", "orchestrate"]) == []


def test_runs_of_another_state_dir_are_never_orphans(tmp_path: Path) -> None:
    """Another checkout or test suite may be building right now with its own state dir."""
    theirs = "orch-20261126-110000-ffff-nova"
    assert runs.of_dead_runs(tmp_path, [theirs]) == []
    assert runs.of_dead_runs(tmp_path, ["r/nova:candidate-20261126-110000-ffff"]) == []


def test_only_dead_runs_candidate_images_are_orphans(tmp_path: Path) -> None:
    (tmp_path / "runs" / "20261126-110000-ffff").mkdir(parents=True)
    images = [
        "localhost/openstack/keystone:candidate-20261126-110000-ffff",
        "localhost/openstack/keystone:2026.1",
        "localhost/openstack/candidate-x:latest",
    ]
    assert runs.of_dead_runs(tmp_path, images) == images[:1]


def test_a_dead_runs_secret_and_scratch_files_go_with_it(tmp_path: Path) -> None:
    from orchestrator.engine.storage import Storage
    from orchestrator.records.history import History
    from orchestrator.records.housekeeping import clean_up_dead_runs

    class NoContainers:
        def capture(self, argv: object, *, ok_codes: object = (0,)) -> str:
            return ""

    run_id = "20261126-110000-ffff"
    work = tmp_path / "runs" / run_id / "work" / "keystone"
    work.mkdir(parents=True)
    (work / "network.env").write_text("https_proxy=http://bob:pw@proxy:3128\n")
    (tmp_path / "runs" / run_id / "logs").mkdir()
    with History(tmp_path) as history:
        history.start_run(
            run_id=run_id,
            pipeline="/p.yaml",
            command="orchestrate",
            options={},
            withheld=(),
            nodes=["keystone"],
            log_dir=tmp_path / "runs" / run_id / "logs",
            pid=2**22 + 7,  # no such process
        )
        clean_up_dead_runs(history, Storage(NoContainers()))  # type: ignore[arg-type]
        assert history.run(run_id).result == "killed"  # type: ignore[union-attr]
    assert not (tmp_path / "runs" / run_id / "work").exists()
    assert (tmp_path / "runs" / run_id / "logs").is_dir()
