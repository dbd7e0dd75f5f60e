"""The buildah executor and the dead-run cleanup against a recording fake of buildah.

:class:`RecordingRunner` records every argv and answers from a small in-memory model of local
storage (image names with their key label, working containers), so the tests can check both
the commands sent and what storage holds afterwards, without running buildah.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from structlog.testing import capture_logs

from orchestrator.engine import buildah, naming
from orchestrator.engine.buildah import Isolation, Mount, RegistryAccess
from orchestrator.engine.naming import KEY_LABEL
from orchestrator.engine.registry import Registry
from orchestrator.engine.storage import Storage
from orchestrator.errors import (
    CancelledError,
    FetchError,
    LogWriteError,
    OrchestrateError,
    StepFailedError,
    StepTimeoutError,
)
from orchestrator.execution.buildah_executor import STARTUP_RETRIES, BuildahExecutor
from orchestrator.execution.executor import NodeContext
from orchestrator.model.states import NodeKind, RunState, Status
from orchestrator.planning.builder import DOCUMENTS
from orchestrator.planning.nodeplan import GeneratedFile, ListsFetch, NodePlan, Step, empty_plan
from orchestrator.records.history import History
from orchestrator.records.housekeeping import clean_up_dead_runs

Argv = tuple[str, ...]

RUN_ID = "20261126-154012-a1b2"
NODE = "keystone"
REPO = "localhost/openstack/keystone"
BASE = "localhost/openstack/base:k0"
KEY = "k1"
TAGS = (f"{REPO}:2026.1", f"{REPO}:latest")
CONTAINER = naming.container_name(RUN_ID, NODE)
CANDIDATE = naming.candidate_name(REPO, RUN_ID)
IMAGE = f"{REPO}:{KEY}"
TRANSIENT_TAIL = (
    "Error: sealing memfd copy: Device or resource busy\nerror running container: exit status 1"
)


# -- the fake --------------------------------------------------------------------------------


@dataclass
class RecordingRunner:
    """A :class:`~orchestrator.engine.runner.Runner` over an in-memory model of storage.

    ``images`` maps image names to their key label; ``containers`` holds working containers.
    Steps given to :meth:`fail` or :meth:`raise_on` fail in ``run`` before touching storage.
    """

    images: dict[str, str] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)
    calls: list[Argv] = field(default_factory=list)  # every argv, run and capture, in order
    steps: list[tuple[str, Argv]] = field(default_factory=list)  # (step, argv) given to run
    on_run: Callable[[str], None] | None = None
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # container -> labels
    scripted: dict[str, list[str | OrchestrateError]] = field(default_factory=dict)
    capture_failures: dict[str, int] = field(default_factory=dict)  # subcommand -> times
    # runc's containers (id -> bundle folder): steps a killed ``buildah run`` left running
    payloads: dict[str, Path] = field(default_factory=dict)
    # the registry: reference (repository:tag) -> key label of the image it names
    remote: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)  # reference -> pushed document
    # ``buildah mount``: a folder per container holding the image's SBOM, removed with the fake
    mounts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.mounts = Path(tempfile.mkdtemp(prefix="fake-mounts-"))
        weakref.finalize(self, shutil.rmtree, self.mounts, ignore_errors=True)

    # scripting ------------------------------------------------------------------------------
    def fail(self, step: str, times: int = 1, tail: str = "boom") -> None:
        """Make ``step`` exit 1 with ``tail`` the next ``times`` times it runs."""
        self.scripted.setdefault(step, []).extend([tail] * times)

    def raise_on(self, step: str, error: OrchestrateError) -> None:
        """Make ``step`` raise ``error`` (a timeout, a cancel) the next time it runs."""
        self.scripted.setdefault(step, []).append(error)

    def fail_capture(self, subcommand: str, times: int = 1) -> None:
        """Make the next ``times`` queries ``buildah <subcommand>`` fail."""
        self.capture_failures[subcommand] = times

    # the Runner protocol --------------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        log: IO[str] | None = None,
        log_path: str = "",
        env: dict[str, str] | None = None,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
        niceness: int = 0,
    ) -> None:
        argv = tuple(argv)
        self.calls.append(argv)
        self.steps.append((step, argv))
        if self.on_run is not None:
            self.on_run(step)
        pending = self.scripted.get(step)
        if pending:
            scripted = pending.pop(0)
            if isinstance(scripted, OrchestrateError):
                raise scripted
            raise StepFailedError(step, 1, scripted, log_path)
        self._apply(argv)

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        argv = tuple(argv)
        self.calls.append(argv)
        if self.capture_failures.get(argv[1], 0) > 0:
            self.capture_failures[argv[1]] -= 1
            raise StepFailedError(argv[1], 125, "database is locked", "")
        return self._apply(argv)

    def _skopeo(self, argv: Argv) -> str:
        command, ref = argv[1], argv[-1].removeprefix("docker://")
        if command == "inspect":
            if ref not in self.remote:
                raise StepFailedError("skopeo", 1, f"Error: {ref}: manifest unknown", "")
            return _manifest(ref, self.remote[ref])
        assert command == "copy", argv
        if argv[-2].startswith("oci:"):  # an artifact: the one layer of the layout
            layout = Path(argv[-2].removeprefix("oci:"))
            index = json.loads((layout / "index.json").read_text())
            digest = index["manifests"][0]["digest"].split(":")[1]
            manifest = json.loads((layout / "blobs/sha256" / digest).read_text())
            layer = manifest["layers"][0]["digest"].split(":")[1]
            self.artifacts[ref] = (layout / "blobs/sha256" / layer).read_bytes()
            self.remote[ref] = "artifact"
            return ""
        source = argv[-2].removeprefix("docker://")
        digest = source.split("@")[1]
        tagged = next(r for r, k in self.remote.items() if _digest(r, k) == digest)
        self.remote[ref] = self.remote[tagged]
        return ""

    # the model ------------------------------------------------------------------------------
    def steps_named(self, name: str) -> list[Argv]:
        return [argv for step, argv in self.steps if step == name]

    def _error(self, argv: Argv, message: str) -> StepFailedError:
        return StepFailedError(argv[1], 125, f"Error: {message}", "")

    def _need_image(self, argv: Argv, image: str) -> None:
        if image not in self.images:
            raise self._error(argv, f"{image}: image not known")

    def _need_container(self, argv: Argv, container: str) -> None:
        if container not in self.containers:
            raise self._error(argv, f"container {container!r} not known")

    def _apply(self, argv: Argv) -> str:
        tool, command, *rest = argv
        if tool == "skopeo":
            return self._skopeo(argv)
        if tool in ("runc", "crun"):
            if command == "list":
                listed = [{"id": i, "bundle": str(b)} for i, b in self.payloads.items()]
                return json.dumps(listed if tool == "runc" else [])
            assert command == "delete" and rest[0] == "--force", argv
            del self.payloads[rest[-1]]
            return ""
        if tool == "podman" and command == "manifest":
            # No manifest list in this model: every name is an image's.
            assert rest[0] == "exists", argv
            raise self._error(argv, f"{rest[-1]}: image is not a manifest list")
        if tool == "podman" and command == "image" and rest[0] == "inspect":
            self._need_image(argv, rest[-1])
            return "sha256:abc 123\n"
        assert tool == "buildah", f"unexpected command {argv}"
        match command:
            case "inspect":
                self._need_image(argv, rest[-1])
                return f"{self.images[rest[-1]]}\n" if KEY_LABEL in rest[-2] else "sha256:abc\n"
            case "containers":
                return "".join(f"{name}\n" for name in sorted(self.containers))
            case "images":
                return "".join(f"{name}\n" for name in sorted(self.images))
            case "from":
                name, source = rest[rest.index("--name") + 1], rest[-1]
                if name in self.containers:
                    raise self._error(argv, f"the container name {name!r} is already in use")
                inherited = {}
                if source != "scratch":
                    self._need_image(argv, source)
                    inherited = {KEY_LABEL: self.images[source]}
                self.containers.add(name)
                self.labels[name] = inherited
            case "run":
                self._need_container(argv, rest[rest.index("--") - 1])
            case "mount":
                self._need_container(argv, rest[-1])
                root = self.mounts / rest[-1]
                (root / "etc/image_info").mkdir(parents=True, exist_ok=True)
                sbom = {"bomFormat": "CycloneDX", "key": self.labels[rest[-1]].get(KEY_LABEL)}
                (root / "etc/image_info/sbom.cdx.json").write_text(json.dumps(sbom))
                return f"{root}\n"
            case "umount":
                self._need_container(argv, rest[-1])
            case "config":
                container = rest[-1]
                self._need_container(argv, container)
                for i, word in enumerate(rest):
                    if word == "--label":
                        label, _, value = rest[i + 1].partition("=")
                        self.labels[container][label] = value
            case "commit":
                container, image = rest[-2:]
                self._need_container(argv, container)
                self.images[image] = self.labels[container].get(KEY_LABEL, "")
                if "--rm" in rest:
                    self.containers.discard(container)
            case "tag":
                source, *names = rest
                self._need_image(argv, source)
                for name in names:
                    self.images[name] = self.images[source]
            case "rmi":
                for image in rest:
                    self._need_image(argv, image)
                for image in rest:
                    del self.images[image]
            case "rm":
                for container in rest:
                    self._need_container(argv, container)
                self.containers.difference_update(rest)
            case "push":
                image, destination = rest[-2], rest[-1].removeprefix("docker://")
                self._need_image(argv, image)
                self.remote[destination] = self.images[image]
            case "pull":
                ref = rest[-1].removeprefix("docker://")
                digest = ref.split("@")[1]
                tagged = [r for r, k in self.remote.items() if _digest(r, k) == digest]
                if not tagged:
                    raise self._error(argv, f"{ref}: manifest unknown")
                self.images[ref] = self.remote[tagged[0]]
            case _:
                raise AssertionError(f"unexpected command {argv}")
        return ""


def _manifest(ref: str, key: str) -> str:
    """The raw manifest the fake registry serves for an image of ``key``."""
    return json.dumps({"schemaVersion": 2, "layers": [{"size": 100}], "key": key})


def _digest(ref: str, key: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(_manifest(ref, key).encode()).hexdigest()


# -- helpers ---------------------------------------------------------------------------------


def make_plan(tmp_path: Path, *, key: str = KEY, tags: tuple[str, ...] = TAGS) -> NodePlan:
    """A keystone-like plan: from the base, install, label, commit, promote the candidate."""
    node_dir = tmp_path / "run" / NODE
    network = GeneratedFile(
        path=node_dir / "network.env",
        content="PIP_INDEX_URL=https://user:secret@pypi.example/simple\n",
        secret=True,
    )
    scratch = node_dir / "wheels.tar"
    image = f"{REPO}:{key}"
    steps = (
        Step(name="from", argv=buildah.from_image(CONTAINER, BASE)),
        Step(
            name="install",
            argv=buildah.run(
                CONTAINER,
                ["pip", "install", "keystone"],
                isolation=Isolation(),
                mounts=[Mount(source=str(network.path), target="/run/network.env")],
            ),
        ),
        Step(
            name="config",
            argv=buildah.config(
                CONTAINER,
                labels=[("io.orchestrate.node", NODE), (KEY_LABEL, key)],
                options=["--user", "keystone"],
            ),
        ),
        Step(name="commit", argv=buildah.commit(CONTAINER, CANDIDATE)),
        Step(name="tag", argv=buildah.tag(CANDIDATE, image)),
        Step(name="untag-candidate", argv=buildah.rmi(CANDIDATE)),
    )
    release = (Step(name="tag-release", argv=buildah.tag(image, *tags)),) if tags else ()
    return NodePlan(
        node=NODE,
        kind=NodeKind.SERVICE,
        parents=("base",),
        image=image,
        candidate=CANDIDATE,
        tags=tags,
        key=key,
        inputs={"source": "pypi:keystone==29.1.0"},
        containers=(CONTAINER,),
        files=(network,),
        scratch=(scratch,),
        steps=steps,
        release=release,
        run_dir=node_dir,
    )


def make_ctx(tmp_path: Path) -> NodeContext:
    return NodeContext(
        run_id=RUN_ID,
        attempt=1,
        cancel=threading.Event(),
        deadline=None,
        log_path=tmp_path / "logs" / f"{NODE}.log",
    )


def with_scratch(plan: NodePlan) -> NodePlan:
    """Leave the scratch file a host step (mmdebstrap, a wheel download) would have left."""
    for path in plan.scratch:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("scratch")
    return plan


def assert_no_leftovers(runner: RecordingRunner, plan: NodePlan) -> None:
    assert runner.containers == set()
    assert plan.candidate not in runner.images
    assert [f.path for f in plan.files if f.path.exists()] == []
    assert [p for p in plan.scratch if p.exists()] == []


@pytest.fixture
def runner() -> RecordingRunner:
    return RecordingRunner(images={BASE: "k0"})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The executor's waits between tries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr("orchestrator.execution.buildah_executor.time.sleep", waited.append)
    return waited


# -- transient start-up failures -------------------------------------------------------------


def test_transient_startup_failure_is_tried_again(
    tmp_path: Path, runner: RecordingRunner, sleeps: list[float]
) -> None:
    runner.fail("install", tail=TRANSIENT_TAIL)
    plan = with_scratch(make_plan(tmp_path))

    outcome = BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert outcome.status is Status.BUILT
    assert len(runner.steps_named("install")) == 2
    assert sleeps == [1]
    assert runner.images[IMAGE] == KEY
    assert "failed to start step install; again" in make_ctx(tmp_path).log_path.read_text()


def test_non_transient_failure_is_not_tried_again(
    tmp_path: Path, runner: RecordingRunner, sleeps: list[float]
) -> None:
    runner.fail("install", tail="ERROR: No matching distribution found for keystone")
    plan = with_scratch(make_plan(tmp_path))

    with pytest.raises(StepFailedError) as raised:
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert raised.value.step == "install"
    assert "No matching distribution" in raised.value.tail
    assert len(runner.steps_named("install")) == 1
    assert runner.steps_named("config") == []
    assert sleeps == []


def test_transient_failure_gives_up_after_the_retries(
    tmp_path: Path, runner: RecordingRunner, sleeps: list[float]
) -> None:
    runner.fail("install", times=STARTUP_RETRIES + 1, tail=TRANSIENT_TAIL)
    plan = with_scratch(make_plan(tmp_path))

    with pytest.raises(StepFailedError):
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert len(runner.steps_named("install")) == STARTUP_RETRIES + 1
    assert sleeps == [1] * STARTUP_RETRIES
    assert_no_leftovers(runner, plan)


# -- cleanup ---------------------------------------------------------------------------------


def test_failed_step_leaves_nothing_behind(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.fail("install", tail="ERROR: pip exited 1")
    plan = with_scratch(make_plan(tmp_path))
    modes: list[int] = []
    runner.on_run = lambda step: modes.append(stat.S_IMODE(plan.files[0].path.stat().st_mode))

    with pytest.raises(StepFailedError):
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert set(modes) == {0o600}  # the secret file existed, private, while steps ran
    assert buildah.rm(CONTAINER) in runner.calls
    assert not any(argv[:2] == ("buildah", "rmi") for argv in runner.calls)  # no candidate yet
    assert_no_leftovers(runner, plan)
    assert runner.images == {BASE: "k0"}


def test_failure_after_commit_drops_the_candidate(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.fail("tag", tail="Error: locking storage: timed out")
    plan = with_scratch(make_plan(tmp_path))

    with pytest.raises(StepFailedError) as raised:
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert raised.value.step == "tag"
    assert buildah.rmi(CANDIDATE) in runner.calls
    assert not any(argv[:2] == ("buildah", "rm") for argv in runner.calls)  # commit --rm did
    assert_no_leftovers(runner, plan)
    assert runner.images == {BASE: "k0"}


@pytest.mark.parametrize(
    "error",
    [StepTimeoutError("keystone timed out after 60s"), CancelledError("keystone cancelled")],
    ids=["timeout", "cancel"],
)
def test_timeout_or_cancel_leaves_nothing_behind(
    tmp_path: Path, runner: RecordingRunner, error: OrchestrateError
) -> None:
    runner.raise_on("install", error)
    plan = with_scratch(make_plan(tmp_path))

    with pytest.raises(type(error)) as raised:
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert raised.value is error
    assert len(runner.steps_named("install")) == 1
    assert runner.steps_named("config") == []
    assert buildah.rm(CONTAINER) in runner.calls
    assert_no_leftovers(runner, plan)


def _bundle(where: Path, name: str, owner: str) -> Path:
    """A step bundle as buildah leaves it: ``run/.containerenv`` names the container."""
    bundle = where / name
    (bundle / "run").mkdir(parents=True)
    (bundle / "mnt" / "rootfs").mkdir(parents=True)
    (bundle / "run" / ".containerenv").write_text(f'engine="buildah-1.28.2"\nname="{owner}"\n')
    return bundle


def test_a_step_left_running_by_a_killed_buildah_is_stopped_with_its_bundle(
    tmp_path: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # buildah was SIGKILLed (the step ignored SIGTERM): runc still runs the step, and both
    # isolations leave the bundle. Another build's step and bundle are not touched.
    tmp = tmp_path / "tmp"
    monkeypatch.setenv("TMPDIR", str(tmp))
    ours = _bundle(tmp, "buildah111", CONTAINER)
    chroot_bundle = _bundle(tmp, "buildah222", CONTAINER)
    theirs = _bundle(tmp, "buildah333", "orch-20261126-000000-beef-nova")
    runner.payloads = {"buildah-buildah111": ours, "buildah-buildah333": theirs}
    runner.raise_on("install", StepTimeoutError("step 'install' ran past the node's timeout"))
    plan = make_plan(tmp_path)

    with pytest.raises(StepTimeoutError):
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert runner.payloads == {"buildah-buildah333": theirs}
    assert ("runc", "delete", "--force", "buildah-buildah111") in runner.calls
    assert not ours.exists() and not chroot_bundle.exists()
    assert theirs.exists()
    assert_no_leftovers(runner, plan)


def test_files_are_deleted_even_when_storage_cleanup_fails(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    runner.fail("tag")
    runner.fail_capture("containers")
    plan = with_scratch(make_plan(tmp_path))

    with pytest.raises(StepFailedError) as raised:
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert raised.value.step == "tag"  # the step's failure, not the cleanup's
    assert [f.path for f in plan.files if f.path.exists()] == []
    assert [p for p in plan.scratch if p.exists()] == []
    assert "cleanup of keystone incomplete" in make_ctx(tmp_path).log_path.read_text()


def test_candidate_is_dropped_even_when_container_cleanup_fails(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    runner.fail("tag")
    runner.fail_capture("containers")
    plan = make_plan(tmp_path)

    with pytest.raises(StepFailedError):
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert CANDIDATE not in runner.images


# -- reuse -----------------------------------------------------------------------------------


def test_reuse_runs_no_step_and_retags(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.images[IMAGE] = KEY
    plan = make_plan(tmp_path)

    outcome = BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert runner.steps == [("tag-release", buildah.tag(IMAGE, *TAGS))]
    assert outcome.status is Status.REUSED
    assert outcome.image_id == "sha256:abc"
    assert outcome.size == 123
    assert outcome.detail == "cache key matches"
    assert {tag: runner.images[tag] for tag in TAGS} == dict.fromkeys(TAGS, KEY)
    assert runner.containers == set()
    assert not plan.files[0].path.exists()  # the workspace is never set up


def test_reuse_of_a_resumed_run_names_that_run(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.images[IMAGE] = KEY
    executor = BuildahExecutor(runner=runner, host_env={}, done_before={KEY: "run1"})

    outcome = executor.execute(make_plan(tmp_path), make_ctx(tmp_path))

    assert outcome.status is Status.REUSED
    assert outcome.detail == "done in run run1"
    assert [step for step, _ in runner.steps] == ["tag-release"]


def test_image_with_another_key_is_built(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.images[IMAGE] = "an-older-key"

    outcome = BuildahExecutor(runner=runner, host_env={}).execute(
        make_plan(tmp_path), make_ctx(tmp_path)
    )

    assert outcome.status is Status.BUILT
    assert runner.steps_named("from") == [buildah.from_image(CONTAINER, BASE)]
    assert runner.images[IMAGE] == KEY


# -- promotion of the candidate --------------------------------------------------------------


def test_success_promotes_the_candidate(tmp_path: Path, runner: RecordingRunner) -> None:
    plan = with_scratch(make_plan(tmp_path))

    outcome = BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert outcome.status is Status.BUILT
    assert outcome.image_id == "sha256:abc"
    ran = [argv for _, argv in runner.steps]
    assert ran == [step.argv for step in (*plan.steps, *plan.release)]
    commit, tag, untag, release = (
        ran.index(buildah.commit(CONTAINER, CANDIDATE)),
        ran.index(buildah.tag(CANDIDATE, IMAGE)),
        ran.index(buildah.rmi(CANDIDATE)),
        ran.index(buildah.tag(IMAGE, *TAGS)),
    )
    assert commit < tag < untag < release == len(ran) - 1
    assert runner.images == {BASE: "k0", IMAGE: KEY, **dict.fromkeys(TAGS, KEY)}
    assert_no_leftovers(runner, plan)
    assert buildah.rm(CONTAINER) not in runner.calls  # commit --rm removed it


# -- dead runs -------------------------------------------------------------------------------


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def test_dead_run_cleanup_removes_only_that_runs_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead, other = "20261126-110000-ffff", "20261126-120000-0a0b"
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    # nova's step still runs in runc although its container is gone; the other run's too.
    dead_step = _bundle(tmp_path / "tmp", "buildah1", naming.container_name(dead, "nova"))
    live_step = _bundle(tmp_path / "tmp", "buildah2", naming.container_name(other, "nova"))
    state = tmp_path / "state"
    run_dir = state / "runs" / dead
    run_dir.mkdir(parents=True)
    pid = dead_pid()
    (run_dir / "pid").write_text(f"{pid}\n")
    runner = RecordingRunner(
        images={
            BASE: "k0",
            f"{REPO}:2026.1": KEY,
            naming.candidate_name(REPO, dead): KEY,
            naming.candidate_name("localhost/openstack/nova", dead): "k2",
            naming.candidate_name(REPO, other): KEY,
        },
        containers={
            naming.container_name(dead, "keystone"),
            naming.check_container_name(dead, "keystone"),
            naming.container_name(other, "nova"),
            "someone-elses-container",
        },
        payloads={"buildah-1": dead_step, "buildah-2": live_step},
    )

    with History(state) as history:
        history.start_run(
            run_id=dead,
            pipeline="test",
            command="build",
            options={},
            withheld=(),
            nodes=("keystone", "nova"),
            log_dir=run_dir / "logs",
            pid=pid,
        )
        clean_up_dead_runs(history, Storage(runner))
        record = history.run(dead)

    assert record is not None and record.result == RunState.KILLED
    removed = [argv for argv in runner.calls if argv[:2] in {("buildah", "rm"), ("buildah", "rmi")}]
    assert removed == [
        buildah.rm(
            naming.container_name(dead, "keystone"), naming.check_container_name(dead, "keystone")
        ),
        buildah.rmi(
            naming.candidate_name(REPO, dead),
            naming.candidate_name("localhost/openstack/nova", dead),
        ),
    ]
    assert runner.containers == {naming.container_name(other, "nova"), "someone-elses-container"}
    assert runner.payloads == {"buildah-2": live_step}
    assert not dead_step.exists() and live_step.exists()
    assert runner.images == {
        BASE: "k0",
        f"{REPO}:2026.1": KEY,
        naming.candidate_name(REPO, other): KEY,
    }


# -- OCI isolation, and chroot where it cannot start --------------------------------------------


class ProbeRunner:
    """Answers the isolation probe (``/bin/true``) as told, records everything."""

    def __init__(self, oci_starts: bool) -> None:
        self.oci_starts = oci_starts
        self.captured: list[Argv] = []

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        self.captured.append(tuple(argv))
        if not self.oci_starts:
            raise StepFailedError(
                "probe",
                1,
                "Error: runc create failed: cgroups: cgroup mountpoint does not exist",
                "",
            )
        return ""


def _run_argv(isolation: str) -> Argv:
    return buildah.run(
        "orch-20261126-154012-a1b2-keystone",
        ["/bin/bash", "step.sh"],
        isolation=Isolation(isolation=isolation, runtime="runc"),
    )


def test_oci_isolation_is_kept_where_the_runtime_starts() -> None:
    from orchestrator.execution.buildah_executor import IsolationFallback

    runner = ProbeRunner(oci_starts=True)
    fallback = IsolationFallback(runner)  # type: ignore[arg-type]
    out = io.StringIO()
    for _ in range(3):
        assert fallback.argv(_run_argv("oci"), out) == _run_argv("oci")
    assert len(runner.captured) == 1  # probed once per run
    assert runner.captured[0][-3:] == ("orch-20261126-154012-a1b2-keystone", "--", "/bin/true")


def test_steps_fall_back_to_chroot_once_where_the_runtime_cannot_start() -> None:
    from orchestrator.execution.buildah_executor import IsolationFallback

    runner = ProbeRunner(oci_starts=False)
    fallback = IsolationFallback(runner)  # type: ignore[arg-type]
    out = io.StringIO()
    with capture_logs() as logs:
        first = fallback.argv(_run_argv("oci"), out)
        second = fallback.argv(_run_argv("oci"), out)
    assert first == second == _run_argv("chroot")
    assert "--runtime" not in first
    assert len(runner.captured) == 1
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "OCI isolation cannot start on this host: steps run under chroot isolation, which "
        "shares the host's /dev and /dev/shm with them (see the README)"
    ]
    assert "cgroup mountpoint does not exist" in out.getvalue()
    # A step asked for under chroot isolation is left as it is.
    assert fallback.argv(_run_argv("chroot"), out) == _run_argv("chroot")


def test_a_log_on_a_full_disk_fails_the_node_saying_so_and_leaves_nothing(
    tmp_path: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullDisk(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    ctx = make_ctx(tmp_path)
    real_open = Path.open

    def open_(self: Path, *args: object, **kwargs: object) -> object:
        return FullDisk() if self == ctx.log_path else real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", open_)
    plan = with_scratch(make_plan(tmp_path))
    with pytest.raises(LogWriteError, match=r"cannot write the node's log .*\(No space left"):
        BuildahExecutor(runner=runner, host_env={}).execute(plan, ctx)
    assert CONTAINER not in runner.containers
    assert [f.path for f in plan.files if f.path.exists()] == []
    # Stopped after the first step: nothing committed, nothing tagged as good.
    assert runner.steps_named("install") == []
    assert IMAGE not in runner.images and f"{REPO}:2026.1" not in runner.images


def test_a_log_that_cannot_be_closed_fails_the_node_not_orchestrate(
    tmp_path: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its last buffered lines meet the full disk at close: a node failure, not a crash.
    class FullAtClose(io.StringIO):
        def close(self) -> None:
            raise OSError(28, "No space left on device")

    ctx = make_ctx(tmp_path)
    real_open = Path.open

    def open_(self: Path, *args: object, **kwargs: object) -> object:
        return FullAtClose() if self == ctx.log_path else real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", open_)
    with pytest.raises(LogWriteError, match=r"\(No space left on device\)"):
        BuildahExecutor(runner=runner, host_env={}).execute(make_plan(tmp_path), ctx)


def test_a_failed_push_moves_no_local_release_tag(tmp_path: Path, runner: RecordingRunner) -> None:
    runner.images[f"{REPO}:2026.1"] = "an-older-key"  # where the release tag points today
    push = Step(
        name="push:k1",
        argv=buildah.push(IMAGE, "registry.example/keystone:k1", registry=buildah.RegistryAccess()),
    )
    plan = dataclasses.replace(make_plan(tmp_path), push=(push,))
    runner.fail("push:k1", times=3, tail="Error: writing blob: connection refused")

    with pytest.raises(StepFailedError, match="push:k1"):
        BuildahExecutor(runner=runner, host_env={}).execute(plan, make_ctx(tmp_path))

    assert len(runner.steps_named("push:k1")) == 3  # tried three times
    assert runner.images[IMAGE] == KEY  # built and verified: kept under its key
    assert runner.images[f"{REPO}:2026.1"] == "an-older-key"  # the release tag did not move
    assert f"{REPO}:latest" not in runner.images


REMOTE = "registry.example/os/keystone"


def registry_plan(tmp_path: Path, *, push: bool = True) -> NodePlan:
    """make_plan's keystone with a registry: its key tag pushed when it is built."""
    plan = make_plan(tmp_path)
    steps = (
        Step(
            name=f"push:{plan.key_tag}",
            argv=buildah.push(IMAGE, f"{REMOTE}:{plan.key_tag}", registry=RegistryAccess()),
        ),
    )
    return dataclasses.replace(plan, remote=REMOTE, push=steps if push else ())


def registry_executor(runner: RecordingRunner) -> BuildahExecutor:
    return BuildahExecutor(runner=runner, host_env={}, registry=Registry(runner, RegistryAccess()))


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestrator.execution.buildah_executor.PUSH_BACKOFF_SECONDS", 0.0)


def test_a_push_that_fails_once_is_tried_again(
    tmp_path: Path, runner: RecordingRunner, no_backoff: None
) -> None:
    plan = registry_plan(tmp_path)
    runner.fail(plan.push[0].name, tail="Error: writing blob: connection reset by peer")

    outcome = registry_executor(runner).execute(plan, make_ctx(tmp_path))

    assert outcome.status is Status.BUILT
    assert runner.remote[plan.remote_key] == KEY
    assert runner.images[f"{REPO}:2026.1"] == KEY
    # Its SBOM beside it, under cosign's tag for the pushed digest; nothing else.
    sbom_ref = f"{plan.remote}:sha256-{_digest(plan.remote_key, KEY).split(':')[1]}.sbom"
    assert set(runner.remote) == {plan.remote_key, sbom_ref}
    assert json.loads(runner.artifacts[sbom_ref])["key"] == KEY


def test_a_built_node_pushes_the_sbom_its_sbom_step_kept_without_mounting_the_image(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    plan = registry_plan(tmp_path)
    # What the sbom step left in the node's folder (the build's own plans run it).
    kept = plan.run_dir / DOCUMENTS / "etc/image_info/sbom.cdx.json"
    kept.parent.mkdir(parents=True)
    kept.write_text(json.dumps({"bomFormat": "CycloneDX", "key": KEY, "from": "the step"}))

    outcome = registry_executor(runner).execute(plan, make_ctx(tmp_path))

    assert outcome.status is Status.BUILT
    sbom_ref = f"{plan.remote}:sha256-{_digest(plan.remote_key, KEY).split(':')[1]}.sbom"
    assert json.loads(runner.artifacts[sbom_ref])["from"] == "the step"
    assert not any(argv[:2] == ("buildah", "mount") for argv in runner.calls)


def test_a_key_in_the_registry_is_reused_without_download_when_nothing_builds_on_it(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    plan = registry_plan(tmp_path)
    runner.remote[plan.remote_key] = KEY
    executor = registry_executor(runner)
    decisions = executor.decide_run({NODE: plan}, {NODE: []})
    assert decisions[NODE].action == "reuse (registry)"

    outcome = executor.execute(plan, make_ctx(tmp_path))

    assert outcome.status is Status.REUSED
    assert outcome.image_id == _digest(plan.remote_key, KEY) and outcome.size == 100
    # Only the local lookup: nothing pulled, tagged or pushed.
    assert {argv[1] for argv in runner.calls if argv[0] == "buildah"} == {"inspect"}
    assert IMAGE not in runner.images


def test_a_registry_image_a_child_builds_on_is_pulled_by_digest_and_checked(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    plan = registry_plan(tmp_path)
    runner.remote[plan.remote_key] = KEY
    child = dataclasses.replace(empty_plan("site"), key="k9", remote="registry.example/os/site")
    executor = registry_executor(runner)
    decisions = executor.decide_run({NODE: plan, "site": child}, {NODE: ["site"]})
    assert decisions[NODE].action == "pull" and decisions["site"].action == "build"

    outcome = executor.execute(plan, make_ctx(tmp_path))

    digest = _digest(plan.remote_key, KEY)
    assert outcome.status is Status.REUSED
    assert buildah.pull(f"{REMOTE}@{digest}", registry=RegistryAccess()) in runner.calls
    assert runner.images[IMAGE] == KEY  # named as the local key image, for the child
    assert runner.steps_named(plan.push[0].name) == []  # it is in the registry already


def test_a_pulled_image_with_another_key_is_refused(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    plan = registry_plan(tmp_path)
    runner.remote[plan.remote_key] = "someone-elses-key"  # the tag was overwritten
    child = dataclasses.replace(empty_plan("site"), key="k9", remote="registry.example/os/site")
    executor = registry_executor(runner)
    executor.decide_run({NODE: plan, "site": child}, {NODE: ["site"]})

    with pytest.raises(StepFailedError) as refused:
        executor.execute(plan, make_ctx(tmp_path))
    assert "does not carry the key label" in refused.value.tail


def test_a_local_image_is_pushed_only_when_the_registry_lacks_its_key(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    plan = registry_plan(tmp_path)
    runner.images[IMAGE] = KEY
    registry_executor(runner).execute(plan, make_ctx(tmp_path))
    assert len(runner.steps_named(plan.push[0].name)) == 1
    assert runner.remote[plan.remote_key] == KEY and len(runner.remote) == 2  # and its SBOM

    again = RecordingRunner(images={BASE: "k0", IMAGE: KEY}, remote=dict(runner.remote))
    registry_executor(again).execute(plan, make_ctx(tmp_path))
    assert again.steps_named(plan.push[0].name) == []
    assert not again.artifacts  # nor its SBOM again


def test_an_unreachable_registry_is_a_fetch_failure(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    plan = registry_plan(tmp_path)
    runner.capture_failures["inspect"] = 1  # skopeo inspect fails: "database is locked"
    with pytest.raises(FetchError, match=r"registry: cannot look up registry\.example"):
        registry_executor(runner).decide_run({NODE: plan}, {NODE: []})


class IdRunner:
    """Image ids by name; ``rmi <id>`` fails while another name still points at it."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids
        self.removed: list[str] = []

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        if argv[1] == "inspect":
            if argv[-1] not in self.ids:
                raise StepFailedError("inspect", 125, "image not known", "")
            return self.ids[argv[-1]] + "\n"
        assert argv[1] == "rmi", argv
        if argv[-1] in self.ids.values():
            raise StepFailedError("rmi", 125, "image has dependent names", "")
        self.removed.append(argv[-1])
        return ""


def test_an_image_replaced_by_a_rebuild_of_its_key_is_removed() -> None:
    runner = IdRunner({IMAGE: "sha256:new"})
    storage = Storage(runner)  # type: ignore[arg-type]
    assert storage.drop_replaced("sha256:old", IMAGE)
    assert runner.removed == ["sha256:old"]
    # Not when the rebuild gave the same image, nor when another name still holds the old.
    assert not storage.drop_replaced("sha256:new", IMAGE)
    runner.ids["elsewhere:tag"] = "sha256:old"
    assert not Storage(runner).drop_replaced("sha256:old", IMAGE)  # type: ignore[arg-type]


class RacingListing:
    """``buildah containers`` fails while another node's container goes away, then lists."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        assert argv[1] == "containers", argv
        self.calls += 1
        if self.calls <= self.failures:
            tail = "Error: reading build containers: container not known"
            raise StepFailedError("buildah containers", 125, tail, "")
        return "orch-20261127-173238-35e8-ironic\nsomeone-elses\n"


def test_a_container_removed_while_buildah_lists_them_is_asked_again() -> None:
    runner = RacingListing(failures=2)
    assert Storage(runner).containers() == ["orch-20261127-173238-35e8-ironic"]  # type: ignore[arg-type]
    assert runner.calls == 3
    with pytest.raises(StepFailedError):  # not forever
        Storage(RacingListing(failures=99)).containers()  # type: ignore[arg-type]


# -- the run's package lists -----------------------------------------------------------------


def _with_lists(plan: NodePlan, folder: Path) -> NodePlan:
    """``plan`` whose install step reads the run's package lists in ``folder``."""
    fetcher = f"{plan.containers[0]}-apt-lists"
    update = buildah.run(
        fetcher,
        ["apt-get", "update"],
        isolation=Isolation(),
        mounts=[Mount(source=str(folder), target="/run/orchestrate/apt-lists", readonly=False)],
    )
    fetch = ListsFetch(
        folder=folder,
        kept=folder.parent / "kept",
        container=fetcher,
        node="base",
        steps=(
            Step(name="apt-lists-from", argv=buildah.from_image(fetcher, BASE)),
            Step(name="apt-lists", argv=update),
            Step(name="apt-lists-rm", argv=buildah.rm(fetcher)),
        ),
    )
    steps = tuple(
        dataclasses.replace(step, lists=fetch) if step.name == "install" else step
        for step in plan.steps
    )
    return dataclasses.replace(plan, steps=steps)


def _lists_run(tmp_path: Path, runner: RecordingRunner) -> tuple[BuildahExecutor, NodePlan]:
    """An executor and a plan whose install step reads the run's lists."""
    folder = tmp_path / "run" / ".apt-lists" / "base"
    return BuildahExecutor(runner=runner, host_env={}), _with_lists(make_plan(tmp_path), folder)


def test_the_package_lists_are_fetched_once_per_run(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    folder = tmp_path / "run" / ".apt-lists" / "base"
    executor = BuildahExecutor(runner=runner, host_env={})
    first = _with_lists(make_plan(tmp_path, key="k1", tags=()), folder)
    second = _with_lists(make_plan(tmp_path, key="k2", tags=()), folder)

    assert executor.execute(first, make_ctx(tmp_path)).status is Status.BUILT
    assert executor.execute(second, make_ctx(tmp_path)).status is Status.BUILT

    names = [name for name, _ in runner.steps]
    assert names.count("apt-lists") == 1 and names.count("install") == 2
    assert names.index("apt-lists-rm") < names.index("install")  # fetched, then read
    assert folder.is_dir() and runner.containers == set()
    log = make_ctx(tmp_path).log_path.read_text()
    assert "package lists fetched for the run" in log and "package lists: the run's" in log
    executor.close()  # the run is over: its lists go
    assert not folder.exists()


def test_a_failed_fetch_of_the_lists_fails_the_node_and_is_tried_again(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    executor, plan = _lists_run(tmp_path, runner)
    runner.fail("apt-lists", tail="E: Failed to fetch http://deb.debian.org/.../InRelease")

    with pytest.raises(StepFailedError):
        executor.execute(plan, make_ctx(tmp_path))

    assert runner.steps_named("install") == []
    assert_no_leftovers(runner, plan)  # the fetch's container too
    assert executor.execute(plan, make_ctx(tmp_path)).status is Status.BUILT
    assert len(runner.steps_named("apt-lists")) == 2


def test_a_fetch_container_that_will_not_go_is_noted_and_the_lists_are_used(
    tmp_path: Path, runner: RecordingRunner
) -> None:
    executor, plan = _lists_run(tmp_path, runner)
    runner.fail("apt-lists-rm", tail="Error: removing container: device busy")

    assert executor.execute(plan, make_ctx(tmp_path)).status is Status.BUILT

    log = make_ctx(tmp_path).log_path.read_text()
    assert "cleanup of keystone incomplete: step 'apt-lists-rm' exited 1" in log
    assert "package lists fetched for the run" in log
    assert len(runner.steps_named("apt-lists")) == 1
