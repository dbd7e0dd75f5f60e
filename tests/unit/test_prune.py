"""What prune removes: superseded images and old run folders, never what the latest
successful run produced, never anything while a run is alive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestrator.model.results import NodeResult
from orchestrator.model.states import Status
from orchestrator.records.history import History
from orchestrator.records.prune import DAY, Policy, apply_prune, plan_prune

NOW = 100 * DAY


def _build(history: History, key: str, node: str, run_id: str, built: float) -> None:
    history.record_build(
        key=key,
        node=node,
        image=f"localhost/os/{node}:{key}",
        image_id="",
        inputs={},
        run_id=run_id,
        built=built,
    )


def _run(
    history: History, state: Path, run_id: str, result: str, started: float, **nodes: str
) -> None:
    history.start_run(
        run_id=run_id,
        pipeline="/p.yaml",
        command="orchestrate",
        options={},
        withheld=(),
        nodes=list(nodes),
        log_dir=state / "runs" / run_id / "logs",
        pid=2**22 + 7,
        started=started,
    )
    (state / "runs" / run_id / "logs").mkdir(parents=True)
    for node, key in nodes.items():
        image = f"localhost/os/{node}:{key}"
        history.record_node(run_id, NodeResult(node=node, status=Status.BUILT, image=image), key)
    history.finish_run(run_id, result=result, exit_code=0, finished=started + 1)


def test_superseded_images_go_and_the_latest_success_stays(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        # keystone built three times: k1 (old success), k2 (latest success), k3 (a failed run).
        _run(history, tmp_path, "20261101-000000-0001", "succeeded", 10 * DAY, keystone="k1")
        _run(
            history,
            tmp_path,
            "20261102-000000-0002",
            "succeeded",
            90 * DAY,
            keystone="k2",
            base="b1",
        )
        _run(history, tmp_path, "20261103-000000-0003", "failed", 95 * DAY, keystone="k3")
        for key, run, built in (("k1", "0001", 10), ("k2", "0002", 90), ("k3", "0003", 95)):
            _build(history, key, "keystone", f"2026110{run[-1]}-000000-{run}", built * DAY)
        _build(history, "b1", "base", "20261102-000000-0002", 90 * DAY)
        _build(history, "gone", "keystone", "0000", 1 * DAY)  # no longer in storage

        def image_key(image: str) -> str | None:
            return None if image.endswith(":gone") else image.rsplit(":", 1)[1]

        plan = plan_prune(history, Policy(), now=NOW, image_key=image_key)
        assert [b.key for b in plan.images] == ["k1"]
        recent = plan_prune(history, Policy(older_than_days=95), now=NOW, image_key=image_key)
        assert recent.images == []

        removed: list[str] = []
        lines = apply_prune(plan, history, remove_image=removed.append)
        assert removed == ["localhost/os/keystone:k1"]
        assert lines[0] == (
            "removed image localhost/os/keystone:k1 (keystone, built in run 20261101-000000-0001)"
        )
        assert "k1" not in {b.key for b in history.builds()}


def test_old_run_folders_go_but_not_the_latest_success(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        _run(history, tmp_path, "20261101-000000-0001", "succeeded", 10 * DAY)
        _run(history, tmp_path, "20261102-000000-0002", "failed", 20 * DAY)
        _run(history, tmp_path, "20261103-000000-0003", "failed", 99 * DAY)
        plan = plan_prune(history, Policy(), now=NOW, image_key=lambda i: None)
        assert [p.name for p in plan.run_dirs] == ["20261102-000000-0002"]
        by_count = plan_prune(
            history,
            Policy(keep_logs=0, logs_older_than_days=None),
            now=NOW,
            image_key=lambda i: None,
        )
        assert [p.name for p in by_count.run_dirs] == [
            "20261103-000000-0003",
            "20261102-000000-0002",
        ]
        apply_prune(by_count, history, remove_image=lambda ref: None)
        assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["20261101-000000-0001"]


def test_images_are_kept_while_a_run_is_alive(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        _build(history, "k1", "keystone", "0001", 1.0)
        _build(history, "k2", "keystone", "0002", 2.0)
        history.start_run(
            run_id="20261126-000000-aaaa",
            pipeline="/p.yaml",
            command="orchestrate",
            options={},
            withheld=(),
            nodes=[],
            log_dir=tmp_path,
            pid=os.getpid(),
        )
        run_dir = tmp_path / "runs" / "20261126-000000-aaaa"
        run_dir.mkdir(parents=True)
        # A live process whose command line names orchestrate stands for the running run.
        live = subprocess.Popen(
            [sys.executable, "-c", "import time; print(flush=True); time.sleep(60)", "orchestrate"],
            stdout=subprocess.PIPE,
        )
        try:
            assert live.stdout is not None
            live.stdout.readline()  # it runs: its command line is in /proc
            (run_dir / "pid").write_text(f"{live.pid}\n")
            plan = plan_prune(history, Policy(), now=NOW, image_key=lambda i: i.rsplit(":", 1)[1])
            assert plan.live_runs == ["20261126-000000-aaaa"]
            assert plan.images == []
        finally:
            live.kill()
            live.communicate()
        plan = plan_prune(history, Policy(), now=NOW, image_key=lambda i: i.rsplit(":", 1)[1])
        assert plan.live_runs == []
        assert [b.key for b in plan.images] == ["k1"]


def test_two_repositories_with_one_key_are_two_builds(tmp_path: Path) -> None:
    """Two images of identical content share a key; each is its repository's own build."""
    with History(tmp_path) as history:
        _run(history, tmp_path, "20261101-000000-0001", "succeeded", 1 * DAY, a="k1", b="k1")
        _run(history, tmp_path, "20261102-000000-0002", "succeeded", 2 * DAY, a="k2", b="k3")
        for node, key, run, built in (
            ("a", "k1", "0001", 1),
            ("b", "k1", "0001", 1),
            ("a", "k2", "0002", 2),
            ("b", "k3", "0002", 2),
        ):
            _build(history, key, node, f"2026110{run[-1]}-000000-{run}", built * DAY)
        plan = plan_prune(history, Policy(), now=NOW, image_key=lambda i: i.rsplit(":", 1)[1])
        assert sorted(b.image for b in plan.images) == [
            "localhost/os/a:k1",
            "localhost/os/b:k1",
        ]


def test_each_platform_and_the_list_keep_their_newest(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        builds = [  # (key, inputs, built day), one repository
            ("old-amd", {"platform": "linux/amd64"}, 10),
            ("new-amd", {"platform": "linux/amd64"}, 20),
            ("new-arm", {"platform": "linux/arm64"}, 15),  # older than new-amd: still newest
            ("old-list", {"kind": "manifest"}, 12),
            ("new-list", {"kind": "manifest"}, 21),
            ("pre-platforms", {}, 5),  # recorded before keys named a platform: the host's
        ]
        for key, inputs, day in builds:
            history.record_build(
                key=key,
                node="keystone",
                image=f"localhost/os/keystone:{key}",
                image_id="",
                inputs=inputs,
                run_id="20261101-000000-0001",
                built=day * DAY,
            )
        plan = plan_prune(
            history, Policy(), now=NOW, image_key=lambda image: image.rsplit(":", 1)[1]
        )
        assert sorted(b.key for b in plan.images) == ["old-amd", "old-list", "pre-platforms"]
        # A list answers with its key tag, the key's first digits.
        short = plan_prune(
            history, Policy(), now=NOW, image_key=lambda image: image.rsplit(":", 1)[1][:5]
        )
        assert sorted(b.key for b in short.images) == ["old-amd", "old-list", "pre-platforms"]
