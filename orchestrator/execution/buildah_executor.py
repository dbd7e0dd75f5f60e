"""The real executor: runs a node's planned steps with buildah (:mod:`orchestrator.engine`).

An image whose cache key label matches the plan is reused without running any step. On every
path out of a build (success, failure, timeout, Ctrl-C) the node's working containers are
removed, its candidate tag is dropped unless the build succeeded, and the secret network file
and scratch files are deleted.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import structlog

from orchestrator.engine import attachments, buildah, naming
from orchestrator.engine.buildah import Isolation, is_transient
from orchestrator.engine.naming import KEY_LABEL
from orchestrator.engine.registry import Manifest, Registry
from orchestrator.engine.runner import Runner
from orchestrator.engine.signing import Signer
from orchestrator.engine.storage import Storage
from orchestrator.errors import (
    CancelledError,
    FetchError,
    LogWriteError,
    OrchestrateError,
    StepFailedError,
)
from orchestrator.execution.executor import NodeContext
from orchestrator.execution.package_lists import LISTS_WAIT, PackageLists
from orchestrator.execution.slots import SLOT_WAIT, BuildSlots
from orchestrator.inspection.image_files import SBOM_PATH, ImageFiles, read_image, read_root
from orchestrator.inspection.runtime_report import RUNTIME_REPORT, runtime_absent
from orchestrator.model.results import Outcome
from orchestrator.model.states import NodeKind, Status
from orchestrator.planning.builder import DOCUMENTS
from orchestrator.planning.nodeplan import LISTS_RM, NodePlan, Step
from orchestrator.planning.reuse import BuildHistory, Decision, decide, decide_all
from orchestrator.provenance.collect import Attestor

BACKGROUND_NICENESS = 15
# A push is tried this many times, waiting longer each time (a registry restarting, a
# dropped connection); a re-run pushes only the key tags the registry lacks.
PUSH_TRIES = 3
PUSH_BACKOFF_SECONDS = 2.0
# How often a step is tried again when buildah itself failed to start it (buildah.is_transient);
# the step's command had not run, so trying again repeats nothing.
STARTUP_RETRIES = 2


class IsolationFallback:
    """OCI isolation where the runtime starts, chroot where it cannot.

    The first ``buildah run`` of a run under OCI isolation is preceded by a probe
    (``/bin/true`` in the same container). If the runtime cannot start it (crun on hybrid
    cgroups, no runtime at all), every later step of the run runs under chroot isolation,
    and the run says so once, with the runtime's reason.
    """

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.lock = threading.Lock()
        self.works: bool | None = None
        self.reason = ""

    def argv(self, argv: tuple[str, ...], out: IO[str]) -> tuple[str, ...]:
        """``argv``, or the same under chroot isolation where OCI cannot start."""
        if buildah.isolation_of(argv) != "oci":
            return argv
        with self.lock:
            if self.works is None and argv[1] == "run":
                self._probe(argv, out)
        if self.works is False:
            return buildah.with_isolation(argv, Isolation(isolation="chroot"))
        return argv

    def _probe(self, argv: tuple[str, ...], out: IO[str]) -> None:
        runtime = argv[argv.index("--runtime") + 1] if "--runtime" in argv else ""
        isolation = Isolation(isolation="oci", runtime=runtime)
        try:
            self.runner.capture(buildah.probe(buildah.run_container(argv), isolation))
            self.works = True
        except StepFailedError as exc:
            self.works = False
            self.reason = (exc.tail.strip().splitlines() or [str(exc)])[-1]
            out.write(f"!!! OCI isolation cannot start here: {self.reason}; using chroot\n")
            structlog.get_logger().warning(
                "OCI isolation cannot start on this host: steps run under chroot isolation, "
                "which shares the host's /dev and /dev/shm with them (see the README)",
                runtime=runtime or "default",
                reason=self.reason,
            )


class BuildahExecutor:
    """Builds nodes with buildah."""

    def __init__(
        self,
        *,
        runner: Runner,
        host_env: Mapping[str, str],
        no_cache: bool = False,
        no_cache_for: frozenset[str] = frozenset(),
        history: BuildHistory | None = None,
        done_before: Mapping[str, str] | None = None,
        registry: Registry | None = None,
        push_parallel: int = 2,
        signer: Signer | None = None,
        step_slots: int = 0,
        hold_release: bool = False,
        attestor: Attestor | None = None,
    ) -> None:
        """``done_before`` maps keys a resumed run had already built to that run's id;
        ``registry`` is where key tags are looked up (and pulled from); ``signer`` signs
        every key tag pushed (or found there unsigned); ``step_slots`` bounds the build steps
        running at once across nodes (0: no bound), and a waiting step of a node with more
        work waiting on it (``NodeContext.priority``) goes first; ``hold_release`` leaves
        the local release tags where they are (the run's gate moves them, see
        :func:`orchestrator.execution.run.execute`); ``attestor`` writes each built image's
        provenance (and pushes it beside each pushed image)."""
        self.runner = runner
        self.storage = Storage(runner)
        self.isolation = IsolationFallback(runner)
        self.host_env = dict(host_env)
        self.no_cache = no_cache
        self.no_cache_for = no_cache_for
        self.history = history
        self.done_before = dict(done_before or {})
        self.registry = registry
        self.push_slots = threading.Semaphore(push_parallel)
        self.step_slots = BuildSlots(step_slots) if step_slots else None
        self.signer = signer
        self.hold_release = hold_release
        self.attestor = attestor
        # Decided for the whole run before it starts (decide_run), else node by node.
        self.decisions: dict[str, Decision] = {}
        self.package_lists = PackageLists()

    def close(self) -> None:
        """Once the run's nodes are done: delete what the run shared between them (its
        package lists)."""
        self.package_lists.remove_all()

    def decide(self, plan: NodePlan) -> Decision:
        """Reuse the image if local storage has one with the plan's key, or the registry
        its key tag; else say why it is built."""
        if plan.node in self.decisions:
            return self.decisions[plan.node]
        return decide(
            plan,
            image_key=self.storage.image_key
            if plan.kind != NodeKind.MANIFEST
            else functools.partial(self._list_key, plan),
            history=self.history,
            no_cache=self.no_cache,
            no_cache_for=self.no_cache_for,
            remote=self._remote if self.registry is not None else None,
        )

    def decide_run(
        self, plans: Mapping[str, NodePlan], children: Mapping[str, Sequence[str]]
    ) -> dict[str, Decision]:
        """Decide every node of a run up front (registry lookups four at a time), so that a
        node reused from the registry is pulled exactly when a child of this run builds.

        Raises:
            FetchError: the registry could not be asked.
        """
        with ThreadPoolExecutor(max_workers=4) as pool:
            found = dict(zip(plans, pool.map(self.decide, plans.values()), strict=True))
        self.decisions = decide_all(plans, children, lambda plan: found[plan.node])
        return self.decisions

    def _facts(self, plan: NodePlan) -> tuple[str, int]:
        """(image id, size) of the node's image; none for a manifest list (podman would
        answer with the host platform's image: its members have their own)."""
        if plan.kind == NodeKind.MANIFEST:
            return "", 0
        return self.storage.image_facts(plan.image)

    def _list_key(self, plan: NodePlan, image: str) -> str | None:
        """A manifest list carries no label: named by its key tag, it has the key that tag
        is made of, when it is there (a rebuilt member has it listed anew: decide_all)."""
        return plan.key if self.storage.is_manifest_list(image) else None

    def _remote(self, ref: str) -> tuple[str, int] | None:
        assert self.registry is not None
        try:
            manifest = self.registry.manifest(ref)
        except StepFailedError as exc:
            raise FetchError(f"registry: cannot look up {ref}: {exc.last_line}") from None
        return (manifest.digest, manifest.size) if manifest else None

    def execute(self, plan: NodePlan, ctx: NodeContext) -> Outcome:
        """Build ``plan`` (or reuse its image) and report the outcome.

        A log that cannot be written (a full disk) does not stop the node's commands from
        being drained and cleaned up after; the node then fails saying so.
        """
        try:
            ctx.log_path.parent.mkdir(parents=True, exist_ok=True)
            handle = ctx.log_path.open("a", encoding="utf-8")
        except OSError as exc:
            raise _log_failure(ctx, exc.strerror or str(exc)) from None
        out = _NodeLog(handle)
        try:
            outcome = self._build_or_reuse(plan, ctx, out)  # type: ignore[arg-type]
        finally:
            out.close()
        if out.error:
            raise _log_failure(ctx, out.error)
        return outcome

    def _build_or_reuse(self, plan: NodePlan, ctx: NodeContext, out: IO[str]) -> Outcome:
        log = structlog.get_logger()
        started = datetime.now(UTC)
        # orchestrate's documents in the image (its SBOM, its wheels' hashes), read in one
        # mount by whichever needs them first: the SBOM pushed beside it, the provenance.
        container = naming.container_name(ctx.run_id, f"{plan.node}-files")
        files = functools.cache(lambda: read_image(self.storage, plan.image, container))
        out.write(f"### {plan.node} attempt {ctx.attempt} (run {ctx.run_id})\n")
        decision = self.decide(plan)
        done_in = self.done_before.get(plan.key)
        if decision.where == "registry" and not decision.pull:
            # Nothing of this run builds on it: it stays where it is, nothing downloaded.
            out.write(f"reused {plan.remote_key} ({decision.remote_digest}): {decision.why}\n")
            ctx.image_ready()
            detail = f"done in run {done_in}" if done_in else decision.why
            return Outcome(
                status=Status.REUSED,
                image_id=decision.remote_digest,
                size=decision.remote_size,
                detail=detail,
            )
        if decision.pull:
            self._pull(plan, decision, ctx, out)
        if decision.reuse:
            if decision.where == "local":
                out.write(f"reused {plan.image}: its {KEY_LABEL} label matches {plan.key}\n")
            ctx.image_ready()
            if decision.remote_digest:
                out.write(f"{plan.remote_key} is in the registry already: not pushed\n")
                signing = self.attestor is not None and self.attestor.signer is not None
                if plan.push and (self.signer is not None or signing):
                    there = self._pushed(plan)
                    if self.signer is not None:
                        self._sign(plan, there, out)
                    self._attest_pushed(plan, ctx, out, there, files)
            else:
                newly = self._push(plan, ctx, out, files)
                if newly is not None:
                    self._attest_pushed(plan, ctx, out, newly, files)
            # Release tags follow the latest run, even back to an older key.
            self._release(plan, ctx, out)
            image_id, size = self._facts(plan)
            detail = f"done in run {done_in}" if done_in else decision.why
            return Outcome(status=Status.REUSED, image_id=image_id, size=size, detail=detail)
        out.write(f"building {plan.image} (key {plan.key}): {decision.why}\n")
        # An image of this key, rebuilt anyway (a list's name moves to the new list).
        previous = None if plan.kind == NodeKind.MANIFEST else self.storage.image_id(plan.image)
        with self._workspace(plan, out):
            self._run_steps(plan.steps, ctx, out, plan)
            ctx.image_ready()
            kept = plan.run_dir / DOCUMENTS
            if (kept / SBOM_PATH.lstrip("/")).is_file():
                # What the sbom step read in the working container: what the image holds.
                files = functools.cache(lambda: read_root(kept))
            pushed = self._push(plan, ctx, out, files)
            if self.attestor is not None:
                invocation = self.attestor.invocation_of(plan, ctx.run_id, started)
                self.attestor.attest(plan, invocation, out, files(), pushed)
            self._release(plan, ctx, out)
        if previous and self.storage.drop_replaced(previous, plan.image):
            out.write(f"removed {previous[:19]}, the image this rebuild replaced\n")
        image_id, size = self._facts(plan)
        log.debug("image committed", image=plan.image, image_id=image_id, size=size)
        return Outcome(
            status=Status.BUILT,
            image_id=image_id,
            size=size,
            detail=decision.why,
            absent=runtime_absent(plan.run_dir / RUNTIME_REPORT),
        )

    def _release(self, plan: NodePlan, ctx: NodeContext, out: IO[str]) -> None:
        if self.hold_release:
            if plan.release:
                out.write("release tags held back until the gate passes\n")
            return
        self._run_steps(plan.release, ctx, out, plan, slot=False)

    def _run_steps(
        self,
        steps: tuple[Step, ...],
        ctx: NodeContext,
        out: IO[str],
        plan: NodePlan,
        *,
        slot: bool = True,
    ) -> None:
        """Run ``steps`` in order, each in a build slot (``slot``; pushes and pulls wait on
        the network, not the cores, and take none)."""
        for step in steps:
            if step.needs:
                ctx.on_step(f"waiting for {', '.join(step.needs)}")
                out.write(
                    f"--- waiting for {', '.join(step.needs)} at {time.strftime('%H:%M:%S')}\n"
                )
                ctx.wait_for(step.needs)
            if step.lists is not None:
                self._fetch_lists(step, ctx, out, plan)
            slots = self.step_slots if slot else None
            with (
                slots.held(
                    background=step.background,
                    cancel=ctx.cancel,
                    deadline=ctx.deadline,
                    on_wait=lambda: ctx.on_step(SLOT_WAIT),
                    priority=ctx.priority,
                )
                if slots
                else contextlib.nullcontext()
            ):
                self._run_step(step, ctx, out, plan)

    def _fetch_lists(self, step: Step, ctx: NodeContext, out: IO[str], plan: NodePlan) -> None:
        """The run's package lists ``step`` reads: fetched here if no node has yet."""
        fetch = step.lists
        assert fetch is not None

        def remove() -> None:
            with _noted_in(out, plan.node):
                self.storage.remove_containers((fetch.container,))

        def run(steps: tuple[Step, ...]) -> None:
            self._run_steps(tuple(s for s in steps if s.name != LISTS_RM), ctx, out, plan)
            # A container that will not go is noted, not fatal: the lists are complete.
            with _noted_in(out, plan.node):
                self._run_steps(tuple(s for s in steps if s.name == LISTS_RM), ctx, out, plan)

        if self.package_lists.ensure(
            fetch,
            run,
            remove,
            node=plan.node,
            cancel=ctx.cancel,
            deadline=ctx.deadline,
            on_wait=lambda: ctx.on_step(LISTS_WAIT),
        ):
            out.write(f"--- package lists fetched for the run into {fetch.folder}\n")
        else:
            out.write(f"--- package lists: the run's, in {fetch.folder}\n")

    def _run_step(self, step: Step, ctx: NodeContext, out: IO[str], plan: NodePlan) -> None:
        ctx.on_step(step.name)
        started = time.monotonic()
        out.write(f"--- step {step.name} at {time.strftime('%H:%M:%S')}\n")
        env = None
        if step.host_env:
            env = {k: self.host_env[k] for k in step.host_env if k in self.host_env}
        for tries_left in range(STARTUP_RETRIES, -1, -1):
            try:
                self.runner.run(
                    self.isolation.argv(step.argv, out),
                    step=step.name,
                    log=out,
                    log_path=str(ctx.log_path),
                    env=env,
                    cancel=ctx.cancel,
                    deadline=ctx.deadline,
                    niceness=BACKGROUND_NICENESS if step.background else 0,
                )
                break
            except OrchestrateError as exc:
                if tries_left and isinstance(exc, StepFailedError) and is_transient(exc):
                    out.write(f"--- buildah failed to start step {step.name}; again\n")
                    time.sleep(1)
                    continue
                out.write(f"!!! {plan.node}: step {step.name} failed: {exc}\n")
                raise
        out.write(f"--- step {step.name} done in {time.monotonic() - started:.1f}s\n")
        if isinstance(out, _NodeLog) and out.error:
            # The step's output is lost: stop before the image is tagged as good.
            raise _log_failure(ctx, out.error)

    def _pull(self, plan: NodePlan, decision: Decision, ctx: NodeContext, out: IO[str]) -> None:
        """Pull the registry's image of this key by digest, check its key label, and name
        it as the local key image (a child of this run builds on it)."""
        assert self.registry is not None
        ref = f"{plan.remote}@{decision.remote_digest}"
        steps = (
            Step(name="pull", argv=buildah.pull(ref, registry=self.registry.access)),
            Step(name="tag", argv=buildah.tag(ref, plan.image)),
        )
        self._run_steps(steps, ctx, out, plan, slot=False)
        if self.storage.image_key(plan.image) != plan.key:
            raise StepFailedError(
                "pull", 1, f"{ref} does not carry the key label {plan.key}", str(ctx.log_path)
            )

    def _push(
        self, plan: NodePlan, ctx: NodeContext, out: IO[str], files: Callable[[], ImageFiles]
    ) -> Manifest | None:
        """Push the key tag, at most ``push_parallel`` nodes at once, trying again with
        backoff when the registry fails; its SBOM goes beside it, and it is signed. Returns
        the pushed manifest (None: the plan pushes nothing)."""
        if not plan.push:
            return None
        with self.push_slots:
            for attempt in range(1, PUSH_TRIES + 1):
                try:
                    self._run_steps(plan.push, ctx, out, plan, slot=False)
                    break
                except StepFailedError:
                    if attempt == PUSH_TRIES or ctx.cancel.is_set():
                        raise
                    out.write(f"--- push failed; again in {PUSH_BACKOFF_SECONDS * attempt:.0f}s\n")
                    if ctx.cancel.wait(PUSH_BACKOFF_SECONDS * attempt):
                        raise CancelledError("cancelled while waiting to push again") from None
        pushed = self._pushed(plan)
        if plan.kind != NodeKind.MANIFEST:  # each platform's image carries its own
            self._attach_sbom(plan, pushed, files, out)
        self._sign(plan, pushed, out)
        return pushed

    def _attest_pushed(
        self,
        plan: NodePlan,
        ctx: NodeContext,
        out: IO[str],
        pushed: Manifest,
        files: Callable[[], ImageFiles],
    ) -> None:
        """The provenance of a reused image the registry holds without a good one (pushed now,
        by a run without a provenance key, or signed by another key), made from this plan:
        the same key, so the same inputs; its run is the one the history says built it."""
        if self.attestor is None or not self.attestor.needs_envelope(plan, pushed):
            return
        invocation = self.attestor.invocation_of(plan, ctx.run_id, None)
        self.attestor.attest(plan, invocation, out, files(), pushed, envelope_missing=True)

    def _pushed(self, plan: NodePlan) -> Manifest:
        """The key tag's manifest, read back from the registry once for what follows a push.

        Raises:
            StepFailedError: the registry failed, or does not have it.
        """
        assert self.registry is not None
        pushed = self.registry.manifest(plan.remote_key)
        if pushed is None:
            raise StepFailedError("push", 1, f"{plan.remote_key} is not in the registry", "")
        return pushed

    def _attach_sbom(
        self, plan: NodePlan, pushed: Manifest, files: Callable[[], ImageFiles], out: IO[str]
    ) -> None:
        """Push the image's SBOM beside it (cosign's ``sha256-<hex>.sbom`` tag), unless the
        registry has it or the image carries none.

        Raises:
            StepFailedError: the image could not be read, or the registry failed.
        """
        assert self.registry is not None
        destination = f"{plan.remote}:{attachments.sbom_tag(pushed.digest)}"
        if self.registry.manifest(destination) is not None:
            return
        content = files().sbom
        if content is None:
            out.write(f"{plan.image} carries no SBOM: none pushed\n")
            return
        with tempfile.TemporaryDirectory(prefix="orchestrate-sbom-") as folder:
            attachments.write_layout(Path(folder), content)
            self.runner.capture(
                attachments.push_layout(Path(folder), destination, self.registry.access)
            )
        out.write(f"pushed its SBOM as {destination}\n")

    def _sign(self, plan: NodePlan, manifest: Manifest, out: IO[str]) -> None:
        """Sign the key tag's manifest as the key tag (once: an identity signed already is
        left alone).

        Raises:
            StepFailedError: signing failed.
        """
        if self.signer is None:
            return
        if self.signer.sign(manifest.raw, plan.remote_key):
            out.write(f"signed {plan.remote_key} ({manifest.digest})\n")
        else:
            out.write(f"{plan.remote_key} ({manifest.digest}) was signed already\n")

    @contextlib.contextmanager
    def _workspace(self, plan: NodePlan, out: IO[str]) -> Iterator[None]:
        """Write the plan's files; on exit remove containers, candidate tag and scratch."""
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        for generated in plan.files:
            generated.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                generated.path,
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                0o600 if generated.secret else 0o644,
            )
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(generated.content)
        for folder in plan.folders:  # empty: an attempt killed half-way may have left files
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        succeeded = False
        try:
            yield
            succeeded = True
        finally:
            self._cleanup(plan, out, succeeded)

    def _cleanup(self, plan: NodePlan, out: IO[str], succeeded: bool) -> None:
        # Each part on its own: a failed container removal must not keep an unverified
        # image tagged, nor a secret on disk.
        with _noted_in(out, plan.node):
            self.storage.remove_containers(plan.containers)
        if not succeeded:
            with _noted_in(out, plan.node):
                self.storage.drop_candidate(plan.candidate)
        for generated in plan.files:
            if generated.secret:
                generated.path.unlink(missing_ok=True)
        for path in (*plan.scratch, *plan.folders):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                Path(path).unlink(missing_ok=True)


@contextlib.contextmanager
def _noted_in(out: IO[str], node: str) -> Iterator[None]:
    """Note a failed cleanup command in the node's log instead of raising."""
    try:
        yield
    except OrchestrateError as exc:
        out.write(f"!!! cleanup of {node} incomplete: {exc}\n")


class _NodeLog:
    """A node's log file that never raises: the first failed write (a full disk) is kept as
    the reason, later writes are dropped, and the build goes on to its cleanup."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.error = ""

    def write(self, text: str) -> int:
        if not self.error:
            try:
                self.handle.write(text)
                self.handle.flush()
            except OSError as exc:
                self.error = exc.strerror or str(exc)
        return len(text)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        """Close the file; a failure (its last buffered lines on a full disk) is kept."""
        try:
            self.handle.close()
        except OSError as exc:
            self.error = self.error or exc.strerror or str(exc)


def _log_failure(ctx: NodeContext, reason: str) -> LogWriteError:
    return LogWriteError(f"cannot write the node's log {ctx.log_path} ({reason})")
