"""A wheels image built elsewhere, pinned by digest, instead of building wheels."""

from __future__ import annotations

from pathlib import Path

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


def published(tmp_path: Path, pins: str = "oslo.db==17.4.0\nflask==3.1.3\n") -> Path:
    index = tmp_path / "published"
    (index / "simple").mkdir(parents=True)
    (index / "resolved.txt").write_text(pins)
    (index / "runtime-packages.txt").write_text("uwsgi libxml2 libpcre3\n")
    return index


def index_section(index: Path) -> str:
    return (
        f"requirements: {{index: 'file://{index}/simple', pins: {index}/resolved.txt, "
        f"runtime_packages: {index}/runtime-packages.txt}}\n"
    )


def test_a_published_index_fills_the_wheels_image_with_exactly_its_pins(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    index = published(tmp_path)
    plans = plans_of(write_pipeline(TWO + index_section(index)))
    wheels = plans["requirements"]
    names = [s.name for s in wheels.steps]
    assert names[:6] == [
        "from", "setup-venv", "copy-pins", "copy-runtime-packages", "fetch-wheels", "cleanup",
    ]  # fmt: skip
    fetch = " ".join(next(s for s in wheels.steps if s.name == "fetch-wheels").argv)
    assert f"WHEELS_INDEX=file://{index}/simple" in fetch
    assert f"type=bind,src={index},dst={index},ro" in fetch  # the file:// index, read-only
    assert not any(s.name == "build-wheels" for s in wheels.steps)
    # Other pins, another wheel set: other keys.
    other = published(tmp_path / "o", "oslo.db==17.3.0\nflask==3.1.3\n")
    again = plans_of(write_pipeline(TWO + index_section(other), name="o.yaml"))
    assert again["requirements"].key != wheels.key
    assert again["keystone"].key != plans["keystone"].key


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{index: 'file:///x/simple'}", "a wheels index needs 'pins'"),
        ("{index: 'ftp://x/simple', pins: p.txt}", "is not an http"),
        ("{pins: p.txt}", "'pins' goes with 'index'"),
    ],
)
def test_a_wheels_index_without_its_pins_is_refused(
    write_pipeline: WritePipeline, section: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(write_pipeline(TWO + f"requirements: {section}\n"))


def test_a_pins_file_with_a_range_is_refused_naming_the_line(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    index = published(tmp_path, "oslo.db==17.4.0\nflask>=3\n")
    with pytest.raises(ConfigError, match=r"resolved\.txt line 2: 'flask>=3' is not name==version"):
        load(write_pipeline(TWO + index_section(index)))


@pytest.mark.parametrize(
    ("section", "env"),
    [
        ("{binary: none}", ["BINARY=none"]),
        ("{binary: only-pinned, only_binary: [cryptography, PyNaCl]}",
         ["BINARY=only-pinned", "ONLY_BINARY=cryptography,PyNaCl"]),
    ],
)  # fmt: skip
def test_wheels_from_sources_only_are_another_wheel_set(
    write_pipeline: WritePipeline, section: str, env: list[str]
) -> None:
    binaries = plans_of(write_pipeline(TWO))
    sources = plans_of(write_pipeline(TWO + f"requirements: {section}\n", name="s.yaml"))
    build = next(s for s in sources["requirements"].steps if s.name == "build-wheels")
    for value in env:
        assert value in build.argv
    assert sources["requirements"].key != binaries["requirements"].key
    assert sources["keystone"].key != binaries["keystone"].key


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{binary: some}", "'some' is not one of: any, none, only-pinned"),
        ("{binary: only-pinned}", "'only-pinned' needs 'only_binary'"),
        ("{only_binary: [x]}", "'only_binary' goes with 'binary: only-pinned'"),
    ],
)
def test_a_binary_policy_that_does_not_hold_together_is_refused(
    write_pipeline: WritePipeline, section: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(write_pipeline(TWO + f"requirements: {section}\n"))
