"""Between the last node and the release tags: the pipeline's gate, then the local release
tags (``orchestrate build``), or the gate alone (``orchestrate gate``, a CI engine's job
between the builds and promotion).

A pipeline without ``gate:`` is released node by node as before (each node's release tags
move as it succeeds). With a gate, every node's release tags are held back until every node
succeeded and every check passed; then they all move. A failed check, a failed node or
``--no-gate`` moves none.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import structlog

from orchestrator.engine import buildah
from orchestrator.engine.registry import Registry
from orchestrator.engine.runner import Runner
from orchestrator.engine.storage import Storage
from orchestrator.engine.storageconf import environment
from orchestrator.errors import (
    EXIT_GATE_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    FetchError,
    OrchestrateError,
    StepFailedError,
)
from orchestrator.execution.gate import run_gate
from orchestrator.model.pipeline import GateCheck
from orchestrator.model.results import CheckResult, CheckState, GateResult, RunResult
from orchestrator.planning.nodeplan import NodePlan

RELEASE_LOG = "release.log"


def gate_and_release(
    *,
    checks: tuple[GateCheck, ...],
    run_gate_checks: bool,
    plans: Mapping[str, NodePlan],
    result: RunResult,
    runner: Runner,
    registry: Registry | None,
    folder: Path,
    run_dir: Path,
    storage_conf: Path | None,
) -> None:
    """After a run of a pipeline with a gate: run the checks when every node succeeded (and
    ``run_gate_checks``), then move the local release tags if they passed. Sets
    ``result.gate`` (the checks' outcome) or ``result.gate_note`` (why they did not run)."""
    log = structlog.get_logger()
    failed = sorted(n for n, r in result.results.items() if not r.status.ok)
    if failed:
        result.gate_note = (
            f"gate not run: {len(failed)} node(s) did not succeed ({', '.join(failed)}); "
            "no release tag moved"
        )
        return
    if not run_gate_checks:
        result.gate_note = (
            "gate skipped (--no-gate): release tags held back; 'orchestrate gate' runs its checks"
        )
        return
    log.info("gate started", checks=[c.name for c in checks], folder=str(run_dir / "gate"))
    try:
        gate = check_images(
            checks, plans, runner, registry=registry, folder=folder, run_dir=run_dir,
            storage_conf=storage_conf,
        )  # fmt: skip
    except FetchError as exc:
        result.gate = GateResult(
            checks=[
                CheckResult(name=checks[0].name, state=CheckState.FAILED, why=str(exc)),
                *(CheckResult(name=c.name, state=CheckState.NOT_RUN) for c in checks[1:]),
            ]
        )
        log.error("gate failed: no release tag moved", reason=str(exc))
        return
    result.gate = gate
    if gate.interrupted:
        result.interrupted = True
        return
    if not gate.passed:
        log.error("gate failed: no release tag moved", reason=gate.message())
        return
    log.info("gate passed", checks=[c.name for c in gate.checks])
    try:
        release_locally(plans, runner, run_dir / "logs" / RELEASE_LOG)
    except OrchestrateError as exc:  # recorded as the run's error, as a failed promotion is
        result.promotion_error = f"the gate passed but a local release tag did not move: {exc}"
        log.error("release failed", reason=str(exc))


def check_images(
    checks: tuple[GateCheck, ...],
    plans: Mapping[str, NodePlan],
    runner: Runner,
    *,
    registry: Registry | None,
    folder: Path,
    run_dir: Path,
    storage_conf: Path | None,
) -> GateResult:
    """The checks run on the plans' images (pulled first where not local), under
    ``<run_dir>/gate``: what ``build`` and ``orchestrate gate`` share.

    Raises:
        FetchError: an image is neither local nor (with a registry) pullable.
    """
    gate_dir = run_dir / "gate"
    images = gate_images(plans, runner, registry=registry, log_path=gate_dir / "pull.log")
    return run_gate(
        checks,
        images=images,
        folder=folder,
        gate_dir=gate_dir,
        run_id=run_dir.name,
        env=environment(storage_conf),
    )


def gate_images(
    plans: Mapping[str, NodePlan],
    runner: Runner,
    *,
    registry: Registry | None,
    log_path: Path,
) -> dict[str, str]:
    """{node: local image} of every node, each in local storage: an image that is not is
    pulled from ``registry`` by its key tag (a CI gate job on a fresh worker).

    Raises:
        FetchError: an image is neither local nor (with a registry) pullable.
    """
    storage = Storage(runner)
    images: dict[str, str] = {}
    for node, plan in plans.items():
        if storage.image_id(plan.image) is None:
            if registry is None:
                raise FetchError(
                    f"gate: image {plan.image} of node {node!r} is not in local storage"
                )
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("a", encoding="utf-8") as out:
                try:
                    runner.run(
                        buildah.pull(plan.remote_key, registry=registry.access),
                        step="pull",
                        log=out,
                        log_path=str(log_path),
                    )
                    runner.run(
                        buildah.tag(plan.remote_key, plan.image),
                        step="tag",
                        log=out,
                        log_path=str(log_path),
                    )
                except StepFailedError as exc:
                    raise FetchError(
                        f"gate: cannot pull {plan.remote_key} for node {node!r}: {exc.last_line}"
                    ) from None
        images[node] = plan.image
    return images


def release_locally(plans: Mapping[str, NodePlan], runner: Runner, log_path: Path) -> None:
    """Run every node's release steps (local release tags), logging to ``log_path``. Every
    image is local by then: :func:`gate_images` pulled what was not."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as out:
        for plan in plans.values():
            for step in plan.release:
                runner.run(step.argv, step=step.name, log=out, log_path=str(log_path))


def gate_exit_code(result: GateResult) -> int:
    """``orchestrate gate``'s exit code: 0 passed, 5 failed, 130 interrupted."""
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.passed else EXIT_GATE_FAILED
