"""A storage root travels with the runner: each command's environment names its storage.conf,
and orchestrate's own environment is never changed (no buildah here: ``sh`` stands in)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.engine import storageconf
from orchestrator.engine.runner import ShRunner
from orchestrator.execution.run import prepare
from orchestrator.model.request import Request
from orchestrator.workflows import verify
from tests.conftest import WritePipeline

ENV = storageconf.ENV
SHOW = ["sh", "-c", f'echo "conf=${{{ENV}-unset}} proxy=${{http_proxy-unset}}"']


@pytest.fixture(autouse=True)
def _no_storage_conf_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("http_proxy", raising=False)


def test_a_runner_on_a_storage_root_names_it_to_every_command(tmp_path: Path) -> None:
    conf = storageconf.make_storage_root(tmp_path / "storage")
    before = dict(os.environ)
    runner = ShRunner(conf)
    assert runner.capture(SHOW).strip() == f"conf={conf} proxy=unset"
    log_path = tmp_path / "n.log"
    with log_path.open("w") as log:
        runner.run(SHOW, step="s", log=log)
    assert f"conf={conf} proxy=unset" in log_path.read_text()
    assert dict(os.environ) == before


def test_a_runner_without_one_gives_commands_orchestrate_s_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ShRunner().capture(SHOW).strip() == "conf=unset proxy=unset"
    monkeypatch.setenv(ENV, "/etc/mine.conf")  # the caller's own storage.conf, as before
    assert ShRunner().capture(SHOW).strip() == "conf=/etc/mine.conf proxy=unset"


def test_a_step_s_variables_go_on_top_of_the_runner_s(tmp_path: Path) -> None:
    conf = tmp_path / "storage.conf"
    log_path = tmp_path / "n.log"
    with log_path.open("w") as log:
        ShRunner(conf).run(SHOW, step="s", log=log, env={"http_proxy": "http://p:3128"})
    assert f"conf={conf} proxy=http://p:3128" in log_path.read_text()
    assert "http_proxy" not in os.environ


def test_the_image_storage_checked_for_space_is_the_runner_s(tmp_path: Path) -> None:
    conf = storageconf.make_storage_root(tmp_path / "storage")
    assert storageconf.graphroot(conf) == str(tmp_path / "storage" / "graph")
    assert storageconf.graphroot(None) == storageconf.DEFAULT_GRAPHROOT


def _local_pipeline(write_pipeline: WritePipeline, tmp_path: Path) -> Path:
    src = tmp_path / "keystone-src"
    src.mkdir()
    (src / "requirements.txt").write_text("pbr>=2\n")
    (src / "setup.cfg").write_text("[metadata]\nname = keystone\n")
    return write_pipeline(
        textwrap.dedent("""\
        images:
          keystone:
            source: {local: keystone-src}
        """)
    )


@pytest.mark.parametrize("dry_run", [False, True])
def test_preparing_a_run_with_a_storage_root_leaves_os_environ_alone(
    write_pipeline: WritePipeline, tmp_path: Path, dry_run: bool
) -> None:
    path = _local_pipeline(write_pipeline, tmp_path)
    root = tmp_path / "storage"
    values = {"state_dir": str(tmp_path / "state"), "storage_root": str(root)}
    request = Request.from_options({**values, "dry_run": dry_run}, environ={}, pipeline=path)
    before = dict(os.environ)
    prepared = prepare(request, check_tools=False)
    assert dict(os.environ) == before
    assert prepared.storage_conf is not None and prepared.storage_conf.is_file()
    if dry_run:  # a plan looks at a throwaway storage rather than making the root
        assert not root.exists() and prepared.storage_conf.parent != root
    else:
        assert prepared.storage_conf == root / "storage.conf"
        assert storageconf.graphroot(prepared.storage_conf) == str(root / "graph")
    shown = ShRunner(prepared.storage_conf).capture(SHOW).strip()
    assert shown == f"conf={prepared.storage_conf} proxy=unset"


def test_preparing_a_run_without_one_names_none(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    path = _local_pipeline(write_pipeline, tmp_path)
    request = Request.from_options(
        {"state_dir": str(tmp_path / "state")}, environ={}, pipeline=path
    )
    assert prepare(request, check_tools=False).storage_conf is None


@dataclass
class _Recorder:
    """A runner that records what it is asked and answers nothing."""

    conf: Path | None
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def run(self, argv: Sequence[str], **_: object) -> None:
        self.calls.append(tuple(argv))

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        self.calls.append(tuple(argv))
        return ""


def test_verify_empties_the_scratch_storage_through_a_runner_on_it(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    conf = storageconf.make_storage_root(scratch / "storage")
    made: list[_Recorder] = []

    def runner_on(conf: Path | None) -> _Recorder:
        made.append(_Recorder(conf))
        return made[-1]

    before = dict(os.environ)
    verify.remove_scratch(scratch, runner_on)  # type: ignore[arg-type]
    assert dict(os.environ) == before
    assert [(r.conf, r.calls) for r in made] == [
        (conf, [("buildah", "rm", "--all"), ("buildah", "rmi", "--all", "--force")])
    ]
    assert not scratch.exists()
