"""Planning does no I/O: with ``sh`` unimportable and every file read failing, the full stack
plans, and the plans equal the ones made normally."""

from __future__ import annotations

import builtins
import importlib
import io
import os
import pkgutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import orchestrator.planning
from orchestrator.loading.load import load, plan_inputs
from orchestrator.model.inputs import FetchedSource
from orchestrator.model.pipeline import Source
from orchestrator.model.settings import resolve_settings
from tests.conftest import ROOT, SERVICES

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PLANNING = sorted(
    f"orchestrator.planning.{m.name}" for m in pkgutil.iter_modules(orchestrator.planning.__path__)
)


def _sources() -> dict[str, FetchedSource]:
    return {
        name: FetchedSource(
            source=Source(kind="pypi", name=name, version="1.0"),
            path=Path(f"/src/{name}-1.0.tar.gz"),
            identity="sha256:" + "a" * 64,
            version="1.0",
            requires=("oslo.config>=9", "pbr>=2"),
        )
        for name in SERVICES
    }


def _forbid(*_: Any, **__: Any) -> Any:
    raise AssertionError("planning touched the file system or the environment")


def test_planning_modules_import_and_plan_the_full_stack_without_io(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    resolved = load(ROOT / "pipelines" / "full-stack.yaml")
    inputs = plan_inputs(resolved, _sources())
    settings = resolve_settings({}, {"state_dir": str(tmp_path)}, environ={})
    # Forget every orchestrator module so the planning modules and whatever they import are
    # imported again below, with sh unavailable.
    for name in [m for m in sys.modules if m.startswith("orchestrator.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sh", None)
    modules = {name: importlib.import_module(name) for name in PLANNING}
    assert "orchestrator.planning.plan" in modules and len(modules) >= 10

    for target, attr in (
        (builtins, "open"),
        (io, "open"),
        (os, "open"),
        (os, "stat"),
        (os, "listdir"),
        (os, "scandir"),
        (os, "getenv"),
        (Path, "read_bytes"),
        (Path, "read_text"),
        (Path, "open"),
        (Path, "stat"),
        (Path, "iterdir"),
    ):
        monkeypatch.setattr(target, attr, _forbid)
    monkeypatch.setattr(os, "environ", _Forbidden())
    try:
        graph = modules["orchestrator.planning.graph"].graph_for(resolved)
        ctx = modules["orchestrator.planning.nodeplan"].PlanContext(
            run_id="20261127-120000-abcd",
            run_dir=tmp_path / "work",
            settings=settings,
            inputs=inputs,
            now=NOW,
        )
        plans = modules["orchestrator.planning.plan"].plan_all(resolved, graph, ctx)
        failure = ""
    except Exception as exc:  # reported after the patches are gone: pytest reads files
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        monkeypatch.undo()
    assert failure == ""
    assert list(plans)[:3] == ["base", "wheel-builder", "requirements"]
    shared = {"openstack-base", "storage-base"}
    assert set(plans) == {"base", "wheel-builder", "requirements", *shared, *SERVICES}
    assert all(plan.key and plan.steps for plan in plans.values())


class _Forbidden(dict[str, str]):
    def __getitem__(self, key: str) -> str:
        raise AssertionError(f"planning read the environment ({key})")

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        raise AssertionError(f"planning read the environment ({key})")

    def __contains__(self, key: object) -> bool:
        raise AssertionError(f"planning read the environment ({key})")
