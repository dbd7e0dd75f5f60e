"""The HTML report's content, without a browser: every node, the edges, the critical path,
links to logs, and nothing fetched from the network."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.records.history import NodeRecord, RunRecord
from orchestrator.reporting.html import critical_path, render

NODES = ("base", "requirements", "keystone", "nova")
EDGES = (("base", "requirements"), ("requirements", "keystone"), ("requirements", "nova"))


def record() -> RunRecord:
    return RunRecord(
        id="20261126-120000-abcd",
        pipeline="/p/full-stack.yaml",
        command="orchestrate --parallel 9",
        options={"parallel": 9},
        withheld=(),
        nodes=NODES,
        edges=EDGES,
        resumed_from=None,
        started=1000.0,
        finished=1250.0,
        result="failed",
        exit_code=1,
        pid=1,
        log_dir="/s/runs/r/logs",
    )


def node(name: str, status: str, start: float | None, end: float | None) -> NodeRecord:
    return NodeRecord(
        run_id="r",
        node=name,
        status=status,
        reason="",
        key="k",
        image=f"ns/{name}:k",
        image_id="sha256:abc",
        size=341_000_000,
        started=start,
        finished=end,
        duration=(end or 0) - (start or 0),
        attempts=1 if start else 0,
        log_path=f"/s/runs/r/logs/{name}.log" if start else "",
        error="step 'smoke' exited 1" if status == "failed" else "",
    )


def nodes() -> list[NodeRecord]:
    return [
        node("base", "reused", 1000, 1001),
        node("requirements", "built", 1001, 1090),
        node("keystone", "built", 1010, 1120),  # started early (late edge), ended after
        node("nova", "failed", 1020, 1250),
    ]


def test_critical_path_follows_the_parent_that_ended_last() -> None:
    by_node = {n.node: n for n in nodes()}
    assert critical_path(record(), by_node) == ["base", "requirements", "nova"]


def test_page_shows_every_node_edge_and_log_link(tmp_path: Path) -> None:
    page = render(record(), nodes(), Path("/s/reports"))
    for name in NODES:
        assert '<g class="node' in page and f'data-node="{name}"' in page
        assert f'<tr data-node="{name}">' in page
    assert page.count('class="edge"') == len(EDGES)
    assert 'href="../runs/r/logs/keystone.log"' in page
    assert "Critical path (outlined): base → requirements → nova" in page
    assert "limit 9" in page
    # Self-contained: no scripts, styles or images from anywhere else.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page


def test_a_killed_run_shows_its_unfinished_nodes() -> None:
    rec = record()
    page = render(rec, nodes()[:2], Path("/tmp"))
    assert '<tr data-node="nova"><td>nova</td><td>not finished</td>' in page
    assert "2 not finished" in page


def test_each_node_shows_its_steps_as_segments_by_kind(tmp_path: Path) -> None:
    from dataclasses import replace

    from orchestrator.reporting.history_view import step_lines
    from orchestrator.reporting.html import step_kind

    steps = (("waiting for requirements", 1010.0, 1090.0), ("install-project", 1090.0, 1100.0),
             ("commit", 1100.0, 1110.0), ("smoke", 1110.0, 1120.0))  # fmt: skip
    timed = [replace(n, steps=steps) if n.node == "keystone" else n for n in nodes()]
    page = render(record(), timed, tmp_path)
    segments = re.findall(r'<rect class="step (\w+)" data-step="([^"]+)"', page)
    assert segments == [("waiting", "waiting for requirements"), ("install", "install-project"),
                        ("commit", "commit"), ("checks", "smoke")]  # fmt: skip
    assert "keystone: install-project 10.0s" in page
    assert [step_kind(n) for n in ("bootstrap", "install-packages", "push:abc", "tag")] == [
        "packages", "packages", "push", "commit"]  # fmt: skip
    lines = step_lines(timed)
    assert lines[2:] == [
        "  keystone: waiting for requirements 80.0, install-project 10.0, commit 10.0, smoke 10.0"
    ]
