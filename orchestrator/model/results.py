"""Results are data: a status per node with its attempts and timings, reduced to an exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator.errors import (
    EXIT_DOWNGRADE,
    EXIT_GATE_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NODE_FAILED,
    EXIT_OK,
)
from orchestrator.model.states import Status


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What an executor reports for a node that succeeded."""

    status: Status
    image_id: str = ""
    size: int = 0
    detail: str = ""
    # Commands the runtime check found absent and the catalog accepts (built images only).
    absent: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One try at a node: when it ran and how it ended."""

    number: int
    started: float
    finished: float
    error: str = ""

    @property
    def duration(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True)
class StepTime:
    """One step of a node's last attempt: its name (``waiting for requirements`` while a
    late parent is awaited) and when it ran (epoch seconds)."""

    name: str
    started: float
    finished: float

    @property
    def duration(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True, kw_only=True)
class NodeResult:
    """The end state of one node in a run."""

    node: str
    status: Status
    attempts: tuple[Attempt, ...] = ()
    reason: str = ""
    image: str = ""
    image_id: str = ""
    size: int = 0
    log_path: str = ""
    error: str = ""
    error_tail: str = ""
    # The node failed on a bug in orchestrate rather than in a build step.
    internal: bool = False
    # The steps of the last attempt, in order (none for a node that never started).
    steps: tuple[StepTime, ...] = ()
    # What the runtime completeness check accepted as absent from the image (built only).
    absent: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return sum(a.duration for a in self.attempts)

    @property
    def started(self) -> float | None:
        return self.attempts[0].started if self.attempts else None

    @property
    def finished(self) -> float | None:
        return self.attempts[-1].finished if self.attempts else None


class CheckState(StrEnum):
    """How a gate check ended (see :mod:`orchestrator.execution.gate`)."""

    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not run"


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """How one check ended: its state, exit code, time, log, the folder of its services'
    logs, why it failed (one line) and the blamed services' last log lines."""

    name: str
    state: CheckState
    exit_code: int | None = None
    seconds: float = 0.0
    log: str = ""
    logs_dir: str = ""
    why: str = ""
    services: tuple[tuple[str, str], ...] = ()  # (service log path, its last lines)


@dataclass(kw_only=True)
class GateResult:
    """Every check of the gate, in order (those after a failure: not run)."""

    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.state is CheckState.PASSED for c in self.checks)

    @property
    def interrupted(self) -> bool:
        return any(c.state is CheckState.INTERRUPTED for c in self.checks)

    @property
    def failed(self) -> CheckResult | None:
        return next((c for c in self.checks if c.state is not CheckState.PASSED), None)

    def message(self) -> str:
        """One line: the gate passed, or which check failed and why."""
        failed = self.failed
        if failed is None:
            return f"gate passed: {', '.join(c.name for c in self.checks)}"
        return f"gate check {failed.name!r} {failed.state.value}: {failed.why} (log: {failed.log})"


@dataclass(kw_only=True)
class RunResult:
    """All node results of a run, in the order they ended."""

    run_id: str
    started: float
    finished: float = 0.0
    interrupted: bool = False
    results: dict[str, NodeResult] = field(default_factory=dict)
    # Release tags moved in the registry after every node succeeded (pushing runs only).
    promoted: list[str] = field(default_factory=list)
    # Why release tags were not (all) moved: a node did not succeed, the registry failed.
    promotion_error: str = ""
    # The promotion was refused: a new image downgrades what the pipeline does not allow.
    downgrade_refused: bool = False
    # The pipeline's retention after promotion: what was deleted and held; why it stopped.
    retention: list[str] = field(default_factory=list)
    retention_error: str = ""
    # The pipeline's gate, when it ran; why it did not, when it has checks and did not run.
    gate: GateResult | None = None
    gate_note: str = ""

    @property
    def exit_code(self) -> int:
        """0 when every node was built or reused (and the gate, if it ran, passed), 130 on
        Ctrl-C, 70 when a node hit a bug in orchestrate, 5 when a gate check failed, 8 when
        promotion refused a downgrade, 1 otherwise."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if any(r.internal for r in self.results.values()):
            return EXIT_INTERNAL
        if self.gate is not None and not self.gate.passed:
            return EXIT_GATE_FAILED
        if self.downgrade_refused:
            return EXIT_DOWNGRADE
        if all(r.status.ok for r in self.results.values()) and not self.promotion_error:
            return EXIT_OK
        return EXIT_NODE_FAILED

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results.values() if r.status is status)
