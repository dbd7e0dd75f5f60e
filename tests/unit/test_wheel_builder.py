"""The wheel-builder node: the wheels image's build environment, kept apart from the wheels
so that what changes only the wheels (a constraint, a service's pip packages) builds the
wheels only."""

from __future__ import annotations

from orchestrator.planning.nodeplan import NodePlan
from tests.conftest import WritePipeline
from tests.unit.test_plan import TWO, plans_of

REF = "registry.example/os/requirements@sha256:" + "a" * 64


def names(plan: NodePlan) -> list[str]:
    return [s.name for s in plan.steps]


def test_the_wheels_are_built_on_the_wheel_builder(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO))
    builder, wheels = plans["wheel-builder"], plans["requirements"]
    assert builder.parents == ("base",)
    assert names(builder)[:3] == ["from", "install-build-packages", "setup-venv"]
    assert plans["base"].image in builder.steps[0].argv
    assert wheels.parents == ("wheel-builder",)
    assert builder.image in wheels.steps[0].argv
    assert "install-build-packages" not in names(wheels)
    assert "setup-venv" not in names(wheels)
    assert "build_packages" in builder.inputs and "build_packages" not in wheels.inputs


def test_more_wheels_leave_the_builder_as_it_is(write_pipeline: WritePipeline) -> None:
    before = plans_of(write_pipeline(TWO))
    more = TWO.replace("    profiles: []\n", "    profiles: []\n    pip_packages: [pymemcache]\n")
    assert more != TWO
    after = plans_of(write_pipeline(more, name="more.yaml"))
    assert after["wheel-builder"].key == before["wheel-builder"].key
    assert after["requirements"].key != before["requirements"].key


def test_wheels_taken_from_elsewhere_need_no_builder(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO + f"requirements: {{from: {REF}}}\n"))
    assert "wheel-builder" not in plans
    assert plans["requirements"].parents == ("base",)
