"""Several platforms: a chain of nodes per platform (``keystone@arm64``), the platform in
every key, one manifest-list node per image, and the host check for emulation."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from orchestrator.engine import naming
from orchestrator.engine.emulation import check_runnable, handler_problem, host_platform
from orchestrator.errors import EXIT_PLATFORM, ConfigError, PlatformError
from orchestrator.loading.load import load
from orchestrator.model.platforms import EMULATION_COST, SUPPORTED
from orchestrator.model.states import NodeKind
from orchestrator.planning.graph import build_graph, dependents_of, select
from orchestrator.planning.reuse import Decision, decide_all
from tests.conftest import WritePipeline
from tests.unit.test_plan import TWO, plans_of

BOTH = "platforms: [linux/amd64, linux/arm64]\n" + TWO
ARM64 = SUPPORTED["linux/arm64"]
AMD64 = SUPPORTED["linux/amd64"]


def test_the_default_is_the_host_platform_with_names_unchanged(
    write_pipeline: WritePipeline,
) -> None:
    graph = build_graph(load(write_pipeline(TWO)))
    assert "keystone" in graph and "keystone@amd64" not in graph
    assert {graph.nodes[n]["platform"] for n in graph} == {"linux/amd64"}  # the host (conftest)
    assert all(graph.nodes[n]["cost"] == 1.0 for n in graph)


def test_each_platform_has_its_chain_and_each_image_a_list(
    write_pipeline: WritePipeline,
) -> None:
    graph = build_graph(load(write_pipeline(BOTH)))
    for arch in ("amd64", "arm64"):
        assert set(graph.predecessors(f"keystone@{arch}")) == {
            f"openstack-base@{arch}",
            f"requirements@{arch}",
        }
    # No edge crosses from one platform's chain to another's: an arm64 failure stops no
    # amd64 node.
    arm = {n for n in graph if graph.nodes[n]["platform"] == "linux/arm64"}
    assert not any(nx.descendants(graph, n) & {"keystone@amd64", "glance@amd64"} for n in arm)
    assert graph.nodes["keystone"]["kind"] == NodeKind.MANIFEST
    assert set(graph.predecessors("keystone")) == {"keystone@amd64", "keystone@arm64"}
    assert graph.nodes["keystone@arm64"]["cost"] == EMULATION_COST
    # The emulated chain is the long pole: its nodes are served first.
    work = dependents_of(graph)
    assert work["base@arm64"] > work["base@amd64"]
    assert work["keystone@arm64"] > work["keystone@amd64"]


def test_selecting_an_image_takes_every_platform(write_pipeline: WritePipeline) -> None:
    graph = build_graph(load(write_pipeline(BOTH)))
    both = select(graph, only=["keystone"])
    assert {"keystone@amd64", "keystone@arm64", "keystone"} <= set(both)
    assert "glance@arm64" not in both
    amd = select(graph, skip=["base@arm64"])
    assert not {n for n in amd if "arm64" in n}
    assert "keystone" not in amd  # a list of one platform is no list


def test_the_platform_is_in_every_key(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(BOTH))
    for image in ("base", "wheel-builder", "requirements", "openstack-base", "keystone"):
        amd, arm = plans[f"{image}@amd64"], plans[f"{image}@arm64"]
        assert amd.key != arm.key
        assert (amd.inputs["platform"], arm.inputs["platform"]) == ("linux/amd64", "linux/arm64")
        assert naming.repository_of(amd.image) == naming.repository_of(arm.image)
    arm = plans["keystone@arm64"]
    assert arm.parents == ("openstack-base@arm64", "requirements@arm64")
    shared = plans["openstack-base@arm64"]
    needs = {need for step in shared.steps for need in step.needs}
    assert needs == {"requirements@arm64"}
    assert arm.containers[0].endswith("-keystone.arm64")
    froms = [s.argv for s in arm.steps if s.name == "from"]
    assert froms and all(argv[argv.index("--arch") + 1] == "arm64" for argv in froms)
    bootstrap = next(s for s in plans["base@arm64"].steps if s.name == "bootstrap")
    assert "--architectures=arm64" in bootstrap.argv
    # A single platform's plan of the same pipeline is the host's chain, keys included.
    alone = plans_of(write_pipeline(TWO, name="one.yaml"))
    assert alone["keystone"].key == plans["keystone@amd64"].key


def test_release_tags_name_the_list(write_pipeline: WritePipeline) -> None:
    plans = plans_of(
        write_pipeline('tags: ["{release}"]\n' + BOTH),
        cli={"push": True, "registry": "r.example/os"},
    )
    arm, amd, listed = plans["keystone@arm64"], plans["keystone@amd64"], plans["keystone"]
    assert arm.release_tags == amd.release_tags == ()
    assert listed.release_tags == ("2026.1",)
    assert listed.parents == ("keystone@amd64", "keystone@arm64")
    names = [step.name for step in listed.steps]
    assert names == ["create", "add:amd64", "add:arm64", "tag", "untag-candidate"]
    assert f"containers-storage:{arm.image}" in listed.steps[2].argv
    assert listed.steps[-1].argv[:3] == ("buildah", "manifest", "rm")  # never rmi
    (push,) = listed.push
    assert push.argv[:4] == ("buildah", "manifest", "push", "--all")
    assert push.argv[-1] == f"docker://r.example/os/keystone:{listed.key_tag}"
    assert arm.push and arm.push[0].argv[-1] == f"docker://r.example/os/keystone:{arm.key_tag}"
    again = plans_of(write_pipeline(BOTH, name="again.yaml"))
    assert again["keystone"].key == listed.key  # its members' keys make it


def test_a_rebuilt_member_rebuilds_its_list(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(BOTH))
    members = ("keystone@amd64", "keystone@arm64", "keystone")
    chosen = {name: plans[name] for name in members}
    reused = Decision(reuse=True, why="cache key matches")

    def decided(built: set[str]) -> dict[str, Decision]:
        return decide_all(
            chosen,
            {},
            lambda plan: Decision(reuse=False, why="new") if plan.node in built else reused,
        )

    assert decided(set())["keystone"].reuse
    rebuilt = decided({"keystone@arm64"})["keystone"]
    assert not rebuilt.reuse and "keystone@arm64" in rebuilt.why


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("platforms: [linux/riscv64]\n", "'linux/riscv64' is not a supported platform"),
        ("platforms: [linux/arm64, linux/arm64]\n", "duplicate entry 'linux/arm64'"),
        ("platforms: []\n", "leave 'platforms' out"),
        ("platforms: linux/arm64\n", "expected a list"),
    ],
)
def test_bad_platforms_name_the_field(
    write_pipeline: WritePipeline, body: str, message: str
) -> None:
    with pytest.raises(ConfigError, match="platforms") as err:
        load(write_pipeline(body + TWO))
    assert message in str(err.value)


def handler(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "register").touch()
    (folder / name).write_text(text)


def test_an_enabled_handler_with_the_fix_binary_flag_runs(tmp_path: Path) -> None:
    handler(tmp_path, "qemu-aarch64", "enabled\ninterpreter /usr/libexec/qemu\nflags: PF\n")
    assert handler_problem(ARM64, tmp_path) == ""
    check_runnable([AMD64, ARM64], native=AMD64, where="p.yaml: platforms", binfmt_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "no binfmt handler qemu-aarch64"),
        ("disabled\nflags: F\n", "qemu-aarch64 is disabled"),
        ("enabled\nflags: P\n", "lacks the F (fix binary) flag"),
    ],
)
def test_a_missing_or_unusable_handler_stops_the_run(
    tmp_path: Path, text: str | None, problem: str
) -> None:
    if text is None:
        handler(tmp_path, "qemu-arm", "enabled\nflags: F\n")
    else:
        handler(tmp_path, "qemu-aarch64", text)
    with pytest.raises(PlatformError) as err:
        check_runnable([ARM64], native=AMD64, where="p.yaml: platforms", binfmt_dir=tmp_path)
    assert err.value.exit_code == EXIT_PLATFORM
    message = str(err.value)
    assert message.startswith("p.yaml: platforms: linux/arm64 cannot run on this linux/amd64")
    assert problem in message and "setup-host" in message and "\n" not in message


def test_no_binfmt_misc_at_all(tmp_path: Path) -> None:
    assert "not mounted" in handler_problem(ARM64, tmp_path)
    # The host's own platform needs no handler.
    check_runnable([AMD64], native=AMD64, where="p", binfmt_dir=tmp_path)


def test_the_host_platform_from_its_machine_type() -> None:
    assert host_platform("x86_64") == AMD64
    assert host_platform("aarch64") == ARM64
    with pytest.raises(PlatformError, match="'mips' is not a supported platform"):
        host_platform("mips")


def test_a_build_for_a_platform_this_host_cannot_run_starts_nothing(
    write_pipeline: WritePipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orchestrator import cli
    from orchestrator.engine import emulation
    from orchestrator.execution import run

    monkeypatch.setattr(emulation, "BINFMT_DIR", tmp_path / "no-binfmt")
    monkeypatch.setattr(run, "require_tool", lambda name: None)  # no buildah needed here
    monkeypatch.setattr(run, "check_space", lambda folder, storage_conf: None)
    path = write_pipeline("platforms: [linux/amd64, linux/s390x]\n" + TWO)
    state = tmp_path / "state"
    monkeypatch.setattr("sys.argv", ["orchestrate", "--state-dir", str(state), "build", str(path)])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == EXIT_PLATFORM
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: platforms: linux/s390x cannot run on this" in err[0]
    assert "binfmt_misc is not mounted" in err[0]
    assert not (state / "runs").exists()  # no run started, nothing recorded


def test_an_image_name_skips_or_rebuilds_it_on_every_platform(
    write_pipeline: WritePipeline,
) -> None:
    from orchestrator.planning.reuse import decide

    graph = build_graph(load(write_pipeline(BOTH)))
    kept = select(graph, skip=["keystone"])
    assert not {"keystone", "keystone@amd64", "keystone@arm64"} & set(kept)
    assert {"glance@amd64", "glance@arm64", "glance"} <= set(kept)
    plans = plans_of(write_pipeline(BOTH, name="again.yaml"))

    def why(node: str) -> str:
        found = decide(
            plans[node],
            image_key=lambda image: plans[node].key,
            history=None,
            no_cache_for=frozenset({"keystone"}),
        )
        return "" if found.reuse else found.why

    assert why("keystone@arm64") == why("keystone@amd64") == "--no-cache-for"
    assert why("glance@arm64") == ""
