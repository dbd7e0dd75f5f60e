"""A wheels image built elsewhere, pinned by digest, instead of building wheels."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loading.load import load
from tests.conftest import WritePipeline
from tests.unit.test_plan import TWO, plans_of

DIGEST = "sha256:" + "a" * 64
REF = f"registry.example/os/requirements@{DIGEST}"


def test_the_node_pulls_it_by_digest_and_builds_no_wheel(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO + f"requirements: {{from: {REF}}}\n"))
    wheels = plans["requirements"]
    assert [s.name for s in wheels.steps][:3] == ["from", "config", "commit"]
    assert wheels.steps[0].argv[-1] == REF and "--pull=missing" in wheels.steps[0].argv
    assert not any("build-wheels" in s.name for s in wheels.steps)
    # Services install from it as from any wheels image.
    install = next(s for s in plans["keystone"].steps if s.name == "install-project")
    assert f"from={wheels.image}," in " ".join(install.argv)


def test_its_digest_is_the_wheel_sets_identity_in_every_key(write_pipeline: WritePipeline) -> None:
    one = plans_of(write_pipeline(TWO + f"requirements: {{from: {REF}}}\n"))
    other = REF.replace("a" * 64, "b" * 64)
    two = plans_of(write_pipeline(TWO + f"requirements: {{from: {other}}}\n", name="o.yaml"))
    assert one["requirements"].key != two["requirements"].key
    assert one["keystone"].key != two["keystone"].key
    assert one["base"].key == two["base"].key


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{from: registry.example/os/requirements:2026.1}", "is not pinned by digest"),
        ("{from: 'r@sha256:abc'}", "is not pinned by digest"),
        (f"{{from: {REF}, scope: all}}", "requirements.scope: a wheels image from elsewhere"),
    ],
)
def test_a_wheels_image_not_pinned_or_mixed_is_refused(
    write_pipeline: WritePipeline, section: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(write_pipeline(TWO + f"requirements: {section}\n"))
