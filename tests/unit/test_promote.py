"""Release tags in the registry: all or nothing, idempotent (over the fake registry)."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.engine.buildah import RegistryAccess
from orchestrator.engine.registry import Registry
from orchestrator.execution.promote import PromotionError, promote
from orchestrator.planning.nodeplan import NodePlan, empty_plan
from tests.unit.test_buildah_executor import RecordingRunner, _digest

REG = "registry.example/os"


def plan(node: str, key: str) -> NodePlan:
    return dataclasses.replace(
        empty_plan(node), key=key, remote=f"{REG}/{node}", release_tags=("2026.1", "nightly")
    )


PLANS = {"base": plan("base", "b" * 64), "keystone": plan("keystone", "k" * 64)}


def registry(remote: dict[str, str]) -> tuple[RecordingRunner, Registry]:
    runner = RecordingRunner(remote=remote)
    return runner, Registry(runner, RegistryAccess(tls_verify=False))


def test_every_release_tag_points_at_its_key_tag_digest() -> None:
    runner, reg = registry({p.remote_key: p.key for p in PLANS.values()})
    done = promote(PLANS, reg, parallel=2)
    assert done.promoted == [
        f"{REG}/base:2026.1",
        f"{REG}/base:nightly",
        f"{REG}/keystone:2026.1",
        f"{REG}/keystone:nightly",
    ]
    for p in PLANS.values():
        assert runner.remote[f"{p.remote}:2026.1"] == p.key
    copies = [argv for argv in runner.calls if argv[:2] == ("skopeo", "copy")]
    assert all("--preserve-digests" in argv for argv in copies)
    source = f"docker://{REG}/base@{_digest(PLANS['base'].remote_key, 'b' * 64)}"
    assert source in {argv[-2] for argv in copies}


def test_a_missing_key_tag_moves_nothing() -> None:
    runner, reg = registry({PLANS["base"].remote_key: PLANS["base"].key})
    runner.remote[f"{REG}/keystone:2026.1"] = "the-old-keystone"
    with pytest.raises(PromotionError, match=r"key tags not in the registry: .*keystone:k+; no"):
        promote(PLANS, reg, parallel=2)
    assert [argv for argv in runner.calls if argv[:2] == ("skopeo", "copy")] == []
    assert runner.remote[f"{REG}/keystone:2026.1"] == "the-old-keystone"


def test_running_it_again_moves_only_what_is_not_there_yet() -> None:
    runner, reg = registry({p.remote_key: p.key for p in PLANS.values()})
    promote(PLANS, reg, parallel=1)
    copies = len([a for a in runner.calls if a[:2] == ("skopeo", "copy")])
    again = promote(PLANS, reg, parallel=1)
    assert again.promoted == [] and len(again.unchanged) == 4
    assert len([a for a in runner.calls if a[:2] == ("skopeo", "copy")]) == copies
