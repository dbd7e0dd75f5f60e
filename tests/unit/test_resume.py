"""Resume: stored options without credentials, and which run is resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.model.request import Request
from orchestrator.model.results import NodeResult
from orchestrator.model.states import Status
from orchestrator.records.history import History
from orchestrator.records.resume import find_run, finished_nodes, resumed_request


def stored_options(options: dict[str, object]) -> tuple[dict[str, object], tuple[str, ...]]:
    return Request.from_options(options, environ={}).stored()


def test_options_with_credentials_are_withheld() -> None:
    stored, withheld = stored_options(
        {
            "parallel": 9,
            "https_proxy": "http://bob:hunter2@proxy:3128",
            "pip_extra_index_urls": ("https://u:p@index.example/simple",),
            "http_proxy": "http://proxy:3128",
            "profiles_dir": Path("/p"),
            "only": ("keystone",),
            "dry_run": None,
            "skip": (),
        }
    )
    assert stored == {
        "parallel": 9,
        "http_proxy": "http://proxy:3128",
        "profiles_dir": "/p",
        "only": ["keystone"],
    }
    assert withheld == ("https_proxy", "pip_extra_index_urls")
    assert "hunter2" not in repr(stored)


def _run(history: History, run_id: str, options: dict[str, object], started: float) -> None:
    stored, withheld = stored_options(options)
    history.start_run(
        run_id=run_id,
        pipeline="/work/p.yaml",
        command="orchestrate",
        options=stored,
        withheld=withheld,
        nodes=["base", "requirements", "keystone", "nova"],
        log_dir=Path("/x"),
        pid=2**22 + 7,  # no such process
        started=started,
    )


def test_a_resumed_run_repeats_its_options_and_rebuilds_only_the_unfinished(
    tmp_path: Path,
) -> None:
    with History(tmp_path) as history:
        _run(history, "r1", {"no_cache": True, "profiles_dir": Path("/p"), "parallel": 2}, 1.0)
        for name, status in (("base", Status.BUILT), ("requirements", Status.BUILT)):
            history.record_node("r1", NodeResult(node=name, status=status), f"key-{name}")
        history.record_node("r1", NodeResult(node="keystone", status=Status.FAILED), "key-k")
        history.finish_run("r1", result="failed", exit_code=1, finished=2.0)

        record = find_run(history, None, None)
        assert record.id == "r1"
        request = resumed_request(history, record, {"parallel": 9, "only": ()}, environ={})
        assert request.given == {
            "profiles_dir": "/p",
            "parallel": 9,
            "no_cache_for": ("keystone,nova",),
        }
        assert request.profiles_dir == Path("/p")
        assert request.pipeline == Path("/work/p.yaml")
        assert request.no_cache_for == {"keystone", "nova"}
        assert not request.no_cache
        assert request.settings().parallel == 9
        assert finished_nodes(history, record) == {"key-base": "r1", "key-requirements": "r1"}


def test_only_unfinished_runs_can_be_resumed(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        with pytest.raises(ConfigError, match=r"no run in .* to resume"):
            find_run(history, None, None)
        _run(history, "r1", {}, 1.0)
        history.finish_run("r1", result="succeeded", exit_code=0, finished=2.0)
        with pytest.raises(ConfigError, match="run r1 succeeded: there is nothing to resume"):
            find_run(history, None, None)
        with pytest.raises(ConfigError, match="no run 'nope'"):
            find_run(history, "nope", None)
        _run(history, "r2", {}, 3.0)  # left "running" by a process that is gone
        assert find_run(history, None, None).id == "r2"
        assert find_run(history, "r2", None).id == "r2"
