"""The SQLite run history: records, concurrent writers, what plan and resume read back."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from orchestrator.engine.naming import repository_of
from orchestrator.errors import StateError
from orchestrator.model.results import (
    Attempt,
    CheckResult,
    CheckState,
    GateResult,
    NodeResult,
    StepTime,
)
from orchestrator.model.states import Status
from orchestrator.records.history import History
from orchestrator.reporting.history_view import run_detail


def node(name: str, status: Status = Status.BUILT, **extra: object) -> NodeResult:
    attempts = (Attempt(number=1, started=100.0, finished=112.5),)
    return NodeResult(node=name, status=status, attempts=attempts, image=f"r/{name}:k", **extra)  # type: ignore[arg-type]


def start(history: History, run_id: str, pipeline: str = "/p.yaml", started: float = 1.0) -> None:
    history.start_run(
        run_id=run_id,
        pipeline=pipeline,
        command="orchestrate build p.yaml",
        options={"parallel": 9},
        withheld=["https_proxy"],
        nodes=["base", "keystone"],
        log_dir=Path("/state/runs") / run_id / "logs",
        pid=4242,
        started=started,
    )


def test_a_run_reads_back_as_written(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        start(history, "r1")
        history.record_node("r1", node("base", Status.REUSED, reason="cache key matches"), "k0")
        history.record_node("r1", node("keystone", Status.FAILED, error="step 'x' exited 1"), "k1")
        history.finish_run("r1", result="failed", exit_code=1, finished=130.0)
    with History(tmp_path) as history:  # a new connection: it was committed
        record = history.run("r1")
        assert record is not None
        assert (record.result, record.exit_code, record.finished) == ("failed", 1, 130.0)
        assert record.options == {"parallel": 9} and record.withheld == ("https_proxy",)
        assert record.nodes == ("base", "keystone")
        nodes = {n.node: n for n in history.nodes("r1")}
        assert nodes["keystone"].error == "step 'x' exited 1"
        assert nodes["keystone"].duration == 12.5
        assert nodes["base"].key == "k0" and nodes["base"].reason == "cache key matches"
        assert history.status_counts(["r1"]) == {"r1": {"failed": 1, "reused": 1}}


def test_node_results_written_by_many_threads_at_once_are_all_kept(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        start(history, "r1")
        barrier = threading.Barrier(16)

        def write(i: int) -> None:
            barrier.wait()
            for j in range(10):
                history.record_node("r1", node(f"n{i}-{j}"), f"k{i}-{j}")
                history.record_build(
                    key=f"k{i}-{j}",
                    node=f"n{i}-{j}",
                    image=f"r/n{i}:t",
                    image_id="id",
                    inputs={"a": str(j)},
                    run_id="r1",
                    built=float(j),
                )

        threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(history.nodes("r1")) == 160
        assert len(list(history.builds())) == 160


def test_last_build_is_the_newest_of_its_repository(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        for key, built in (("old", 1.0), ("new", 2.0)):
            history.record_build(
                key=key,
                node="keystone",
                image=f"localhost/os/keystone:{key}",
                image_id="",
                inputs={"source": key},
                run_id=f"run-{key}",
                built=built,
            )
        last = history.last_build("localhost/os/keystone")
        assert last is not None and last.key == "new" and last.inputs == {"source": "new"}
        assert history.last_build("localhost/os/nova") is None


def test_only_running_runs_are_marked_killed(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        start(history, "r1")
        start(history, "r2", started=2.0)
        history.finish_run("r2", result="succeeded", exit_code=0, finished=3.0)
        history.mark_killed(["r1", "r2"])
        assert [(r.id, r.result) for r in history.runs()] == [("r2", "succeeded"), ("r1", "killed")]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    History(tmp_path).close()
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError, match="history schema 99 is newer"):
        History(tmp_path)


def test_a_schema_1_history_is_upgraded_keeping_its_runs(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        start(history, "r1")
        history.finish_run("r1", result="succeeded", exit_code=0, finished=3.0)
    # Back to what schema 1 wrote: no error column, no step times.
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    db.execute("ALTER TABLE runs DROP COLUMN error")
    db.execute("ALTER TABLE nodes DROP COLUMN steps")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with History(tmp_path) as history:
        start(history, "r2", started=2.0)
        history.finish_run("r2", result="failed", exit_code=3, finished=4.0, error="no index")
        got = [(r.id, r.result, r.exit_code, r.error) for r in history.runs()]
    assert got == [("r2", "failed", 3, "no index"), ("r1", "succeeded", 0, "")]
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    db.close()


def test_a_schema_2_history_gains_step_times(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        start(history, "r1")
        history.record_node("r1", node("base", Status.BUILT), "k0")
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    db.execute("ALTER TABLE nodes DROP COLUMN steps")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    with History(tmp_path) as history:
        (old,) = history.nodes("r1")
        assert old.steps == ()
        steps = (StepTime("from", 100.0, 100.5), StepTime("install-project", 100.5, 130.25))
        timed = node("keystone", Status.BUILT, steps=steps)
        history.record_node("r1", timed, "k1")
        got = {n.node: n.steps for n in history.nodes("r1")}
    assert got["keystone"] == (("from", 100.0, 100.5), ("install-project", 100.5, 130.25))


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "history.sqlite3").write_text("not a database, " * 100)
    with pytest.raises(StateError, match=r"history\.sqlite3: cannot use the run history"):
        History(tmp_path)


def test_repository_of_an_image() -> None:
    assert repository_of("localhost:5000/os/keystone:abc") == "localhost:5000/os/keystone"
    assert repository_of("localhost:5000/os/keystone") == "localhost:5000/os/keystone"


def test_an_image_is_found_by_the_run_that_built_it_before_those_that_reused_it(
    tmp_path: Path,
) -> None:
    with History(tmp_path) as history:
        for run_id, started in (("r1", 1.0), ("r2", 2.0)):
            start(history, run_id, started=started)
        history.record_node("r1", node("base", Status.BUILT, image_id="sha256:b"), "kb")
        history.record_build(key="kb", node="base", image="r/base:k", image_id="sha256:b",
                             inputs={}, run_id="r1", built=1.5)  # fmt: skip
        history.record_node("r2", node("base", Status.REUSED, image_id="sha256:b"), "kb")
        built = history.build_of("kb")
        assert built is not None and (built.run_id, built.node) == ("r1", "base")
        newest = history.newest_with_key("kb")
        assert newest is not None and newest.run_id == "r2"
        assert history.build_of("other") is None and history.newest_with_key("other") is None


def test_last_build_of_a_platform(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        for key, platform, built in (("amd", "linux/amd64", 1.0), ("arm", "linux/arm64", 2.0)):
            history.record_build(
                key=key,
                node=f"requirements@{key}64",
                image=f"localhost/os/requirements:{key}",
                image_id="",
                inputs={"platform": platform},
                run_id="r1",
                built=built,
            )
        repo = "localhost/os/requirements"
        assert history.last_build(repo).key == "arm"  # type: ignore[union-attr]
        assert history.last_build(repo, {"platform": "linux/amd64"}).key == "amd"  # type: ignore[union-attr]
        # None of that platform: the repository's last.
        assert history.last_build(repo, {"platform": "linux/s390x"}).key == "arm"  # type: ignore[union-attr]


def test_an_emulated_node_is_estimated_from_its_own_builds_or_at_its_cost(
    tmp_path: Path,
) -> None:
    with History(tmp_path) as history:
        start(history, "r1")
        # keystone built natively in 12.5 s (the node helper's attempt).
        history.record_node("r1", node("keystone"), "k1")
        images = {
            "keystone": ("r/keystone:new", "k2"),
            "keystone@arm64": ("r/keystone:arm", "k3"),
            "keystone-list": ("r/keystone:list", "k4"),
        }
        cost = {"keystone": 1.0, "keystone@arm64": 5.0, "keystone-list": 0.0}
        assert history.estimates(images, cost) == {
            "keystone": 12.5,
            "keystone@arm64": 62.5,
            "keystone-list": 1.0,
        }
        history.record_node("r1", node("keystone@arm64"), "k3x")
        assert history.estimates(images, cost)["keystone@arm64"] == 12.5  # its own, measured


def test_a_gate_reads_back_as_written_and_shows_in_show(tmp_path: Path) -> None:
    checks = [
        CheckResult(
            name="cloud",
            state=CheckState.FAILED,
            exit_code=1,
            seconds=95.25,
            log="/s/runs/r1/gate/cloud.log",
            logs_dir="/s/runs/r1/gate/cloud",
            why="FAILED tests/cloud/test_x.py::test_y - boom",
            services=(("/s/runs/r1/gate/cloud/nova-compute.log", "ERROR nova"),),
        ),
        CheckResult(name="heat", state=CheckState.NOT_RUN),
    ]
    with History(tmp_path) as history:
        start(history, "r1")
        history.record_gate("r1", GateResult(checks=checks))
        history.finish_run("r1", result="failed", exit_code=5, finished=130.0)
    with History(tmp_path) as history:
        record, gate = history.run("r1"), history.gate_checks("r1")
        assert record is not None and gate == checks and history.gate_checks("r2") == []
    shown = run_detail(record, [], gate).splitlines()
    assert shown[shown.index("Gate:") + 1 :] == [
        "gate cloud: failed in 95s",
        "gate heat: not run",
        "gate check 'cloud' failed: FAILED tests/cloud/test_x.py::test_y - boom "
        "(log: /s/runs/r1/gate/cloud.log)",
        "--- last lines of /s/runs/r1/gate/cloud/nova-compute.log:",
        "    ERROR nova",
        "  cloud log: /s/runs/r1/gate/cloud.log",
    ]
