"""The wheels node takes the wheels of unchanged pins from the previous wheels image, only
where that image's wheels are the ones a cold build would make; and build-wheels.sh's reuse."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from orchestrator.errors import StepFailedError
from orchestrator.execution.run import previous_builds
from orchestrator.loading.load import load, plan_inputs
from orchestrator.model.settings import resolve_settings
from orchestrator.planning.graph import graph_for
from orchestrator.planning.nodeplan import NodePlan, PlanContext, PreviousBuild
from orchestrator.planning.plan import plan_all
from orchestrator.records.history import History
from tests.conftest import ROOT, WritePipeline
from tests.unit.test_plan import NOW, SOURCES, TWO

MOUNT = "dst=/run/orchestrate/previous-wheels"


def plan(path: Path, previous: dict[str, list[PreviousBuild]]) -> dict[str, NodePlan]:
    resolved = load(path)
    settings = resolve_settings({}, {"state_dir": str(path.parent / "s")}, environ={})
    ctx = PlanContext(
        run_id="r1",
        run_dir=path.parent / "s" / "runs" / "r1",
        settings=settings,
        inputs=plan_inputs(resolved, SOURCES),
        now=NOW,
        previous=previous,
    )
    return plan_all(resolved, graph_for(resolved), ctx)


def build_wheels(p: dict[str, NodePlan]) -> tuple[str, ...]:
    return next(s.argv for s in p["requirements"].steps if s.name == "build-wheels")


def test_the_previous_wheels_are_mounted_only_when_they_are_what_a_cold_build_makes(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline(TWO)
    cold = plan(path, {})
    assert not any(MOUNT in a for a in build_wheels(cold))
    same = PreviousBuild(image="ns/requirements:old", inputs=cold["requirements"].inputs)
    warm = plan(path, {"requirements": [same]})
    argv = build_wheels(warm)
    assert f"type=bind,from=ns/requirements:old,src=/wheels,{MOUNT},ro" in argv
    assert "PREVIOUS_WHEELS=/run/orchestrate/previous-wheels" in argv
    # A cache, not an input: the key is a cold build's.
    assert warm["requirements"].key == cold["requirements"].key
    for changed in ("parent:wheel-builder", "toolchain"):
        other = replace(same, inputs={**same.inputs, changed: "something else"})
        assert not any(MOUNT in a for a in build_wheels(plan(path, {"requirements": [other]})))
        # A newer image of another builder or toolchain (another pipeline's, an older
        # checkout's) is passed over for an older one that fits.
        older = replace(same, image="ns/requirements:older")
        argv = build_wheels(plan(path, {"requirements": [other, older]}))
        assert f"type=bind,from=ns/requirements:older,src=/wheels,{MOUNT},ro" in argv
    sources = write_pipeline(TWO + "requirements: {binary: none}\n", name="sources.yaml")
    assert not any(MOUNT in a for a in build_wheels(plan(sources, {"requirements": [same]})))


def test_build_wheels_copies_the_wheels_of_unchanged_pins(tmp_path: Path) -> None:
    previous, wheels = tmp_path / "previous", tmp_path / "wheels"
    previous.mkdir()
    wheels.mkdir()
    for name in ("oslo.utils-7.3.0-py3-none-any.whl", "PyYAML-6.0.2-cp311-cp311-linux_x86_64.whl",
                 "eventlet-0.36.1-py3-none-any.whl"):  # fmt: skip
        (previous / name).write_bytes(name.encode())
    pins = tmp_path / "todo.txt"
    pins.write_text("oslo-utils==7.4.0\npyyaml==6.0.2\neventlet==0.36.1\nnew-one==1.0\n")
    script = (ROOT / "scripts" / "build-wheels.sh").read_text()
    function = script[script.index("reuse_previous() {") : script.index("\n}\n") + 3]
    proc = subprocess.run(
        ["bash", "-c", textwrap.dedent(f"""
            set -euo pipefail
            VENV={Path(sys.executable).parent.parent} PREVIOUS_WHEELS={previous} WHEELS_DIR={wheels}
            {function}
            reuse_previous {pins}
        """)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "reused 2 wheels of the previous wheels image; 2 to fetch or build" in proc.stdout
    assert sorted(p.name for p in wheels.iterdir()) == [
        "PyYAML-6.0.2-cp311-cp311-linux_x86_64.whl",
        "eventlet-0.36.1-py3-none-any.whl",
    ]
    assert pins.read_text() == "oslo-utils==7.4.0\nnew-one==1.0\n"


def test_no_cache_builds_the_wheels_from_nothing(write_pipeline: WritePipeline) -> None:
    from orchestrator.execution.run import _previous_wheels_for
    from orchestrator.model.request import Request

    graph = graph_for(load(write_pipeline(TWO)))
    host = {"requirements": "linux/amd64"}
    assert _previous_wheels_for(Request(), graph) == host
    assert not _previous_wheels_for(Request(no_cache=True), graph)
    assert not _previous_wheels_for(Request(no_cache_for=frozenset({"requirements"})), graph)
    assert _previous_wheels_for(Request(no_cache_for=frozenset({"keystone"})), graph) == host


def test_each_platform_takes_its_own_previous_wheels(write_pipeline: WritePipeline) -> None:
    from orchestrator.execution.run import _previous_wheels_for
    from orchestrator.model.request import Request

    both = TWO.replace("images:", "platforms: [linux/amd64, linux/arm64]\nimages:", 1)
    graph = graph_for(load(write_pipeline(both)))
    assert _previous_wheels_for(Request(), graph) == {
        "requirements@amd64": "linux/amd64",
        "requirements@arm64": "linux/arm64",
    }
    no_arm = Request(no_cache_for=frozenset({"requirements@arm64"}))
    assert _previous_wheels_for(no_arm, graph) == {"requirements@amd64": "linux/amd64"}


class _Present:
    """Answers ``buildah inspect`` for the images named, fails for any other."""

    def __init__(self, present: set[str]) -> None:
        self.present = present

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        assert argv[:2] == ("buildah", "inspect"), argv
        if argv[-1] not in self.present:
            raise StepFailedError("inspect", 125, "image not known", "")
        return "sha256:" + argv[-1][-1] * 64 + "\n"


def test_the_previous_wheels_images_are_the_recent_ones_still_in_storage(tmp_path: Path) -> None:
    """The last wheels image built may be gone (removed by an operator, or a benchmark):
    the ones before it, still there, are offered instead of none (a cold wheels build)."""
    settings = resolve_settings({}, {"state_dir": str(tmp_path)}, environ={})
    repo = f"{settings.namespace.rstrip('/')}/requirements"
    with History(tmp_path) as history:
        for n in range(1, 8):  # seven builds, the newest last
            history.record_build(
                key=f"k{n}", node="requirements", image=f"{repo}:k{n}", image_id="",
                inputs={"platform": "linux/amd64"}, run_id=f"r{n}", built=float(n),
            )  # fmt: skip
    nodes = {"requirements": "linux/amd64"}
    runner = _Present({f"{repo}:k5", f"{repo}:k6"})
    found = previous_builds(settings, nodes, runner)  # type: ignore[arg-type]
    assert [b.image for b in found["requirements"]] == [f"{repo}:k6", f"{repo}:k5"]
    # Of the last five only: an older one is too far behind to save much.
    assert previous_builds(settings, nodes, _Present({f"{repo}:k2"})) == {"requirements": []}  # type: ignore[arg-type]
