"""Shared fixtures: small pipelines written into a temporary folder."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.logsetup import configure_logging
from tests.acceptance import serving

ROOT = Path(__file__).resolve().parent.parent
UPPER = ROOT / "constraints" / "2026.1" / "upper-constraints.txt"
# The nine services of pipelines/full-stack.yaml.
SERVICES = (
    "cinder",
    "glance",
    "heat",
    "horizon",
    "ironic",
    "keystone",
    "neutron",
    "nova",
    "octavia",
)

HEADER = f"""\
name: test
release: "2026.1"
toolchain: {{pip: "25.3", setuptools: "80.9.0", wheel: "0.45.1"}}
constraints: {{upper: {UPPER}}}
"""

KEYSTONE = """\
images:
  keystone:
    source: {pypi: keystone==29.1.0}
"""

WritePipeline = Callable[..., Path]


@pytest.fixture
def write_pipeline(tmp_path: Path) -> WritePipeline:
    """Write a pipeline file; ``body`` follows the standard header unless ``raw`` is set."""

    def write(body: str = KEYSTONE, *, name: str = "p.yaml", raw: bool = False) -> Path:
        path = tmp_path / name
        text = textwrap.dedent(body)
        path.write_text(text if raw else HEADER + text)
        return path

    return write


@pytest.fixture(scope="session")
def build_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state directory for every real build of a test session, integration and
    acceptance alike: sources and upper-constraints are fetched once, and a wheels build takes
    the unchanged wheels of the session's previous wheels image, as on a build host that
    keeps its state. (Tests that need a state of their own make one.)"""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(autouse=True)
def _logging_to_the_real_stderr() -> Iterator[None]:
    """Point structlog back at the process's stderr after each test: a test that configured
    it inside capsys or CliRunner leaves it writing to a stream that is closed afterwards."""
    yield
    configure_logging("auto", file=sys.__stderr__)


# Under a pipeline's gate (orchestrator/execution/gate.py): the services of a failing test
# that the gate's summary shows, by their kept logs (tests/acceptance/serving.py).
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    serving.forget_kept_logs()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    folder = os.environ.get(serving.GATE_LOGS)
    if folder and report.failed:
        blame = Path(folder) / "failed-services"
        named = blame.read_text().split() if blame.exists() else []
        new = [name for name in serving.blamed_logs() if name not in named]
        if new:
            blame.write_text("".join(f"{name}\n" for name in [*named, *new]))
