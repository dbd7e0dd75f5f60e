"""Run history in SQLite (``<state dir>/history.sqlite3``): runs, their nodes, and builds.

- ``runs``: one row per run: pipeline, the command and the options to repeat it, start,
  end, result (``running``, ``succeeded``, ``failed``, ``interrupted``; a ``running`` row
  whose process died is marked ``killed`` by the next run).
- ``nodes``: one row per node of a run, written in one transaction when the node ends:
  status, reason, key, image, image id, size, times, attempts, log path, error summary.
- ``gate_checks``: one row per check of a run's gate: state, exit code, time, its log, the
  folder of its services' logs, why it failed and the blamed services' last lines.
- ``builds``: one row per image built, by repository and cache key, with the named inputs
  behind the key, so ``orchestrate plan`` can say which input changed since the last build.

Every write is its own transaction on a connection shared under a lock, so node results that
end together in several threads are each written whole. WAL mode and a busy timeout let two
orchestrate processes share the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.engine.naming import repository_of
from orchestrator.errors import StateError
from orchestrator.model.results import CheckResult, CheckState, GateResult, NodeResult
from orchestrator.model.states import RunState, Status
from orchestrator.records.schema import FILENAME, SCHEMA, SCHEMA_VERSION, UPGRADES


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One row of ``runs``."""

    id: str
    pipeline: str
    command: str
    options: dict[str, Any]
    withheld: tuple[str, ...]
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    resumed_from: str | None
    started: float
    finished: float | None
    result: str
    exit_code: int | None
    pid: int
    log_dir: str
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class NodeRecord:
    """One row of ``nodes``."""

    run_id: str
    node: str
    status: Status
    reason: str
    key: str
    image: str
    image_id: str
    size: int
    started: float | None
    finished: float | None
    duration: float
    attempts: int
    log_path: str
    error: str
    # (name, started, finished) of each step of the last attempt.
    steps: tuple[tuple[str, float, float], ...] = ()


@dataclass(frozen=True, kw_only=True)
class BuildRecord:
    """One row of ``builds``."""

    key: str
    repository: str
    node: str
    image: str
    image_id: str
    inputs: dict[str, str]
    run_id: str
    built: float


class History:
    """The history database of one state directory."""

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        """Open (creating if needed) the history of ``state_dir``; ``readonly`` opens an
        existing one without writing anything (for dry runs: see :meth:`existing`).

        Raises:
            StateError: the file is not a database, is locked for too long, or has a newer
                schema than this orchestrate knows.
        """
        if not readonly:
            try:
                state_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateError(
                    f"state directory {state_dir}: cannot create it ({exc.strerror}): set "
                    "--state-dir or ORCHESTRATE_STATE_DIR to a writable folder"
                ) from None
        self.state_dir = state_dir
        self.path = state_dir / FILENAME
        self._lock = threading.Lock()
        try:
            if readonly:
                uri = f"file:{self.path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)
            else:
                self._db = sqlite3.connect(
                    self.path, timeout=30.0, check_same_thread=False, isolation_level=None
                )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self._db.close()
                raise StateError(
                    f"{self.path}: history schema {version} is newer than this orchestrate's "
                    f"({SCHEMA_VERSION}): upgrade orchestrate or use another --state-dir"
                )
            if readonly:
                if version != SCHEMA_VERSION:
                    self._db.close()
                    raise StateError(f"{self.path}: not a history of this orchestrate")
                return
            # WAL where the file system allows it (readers never block the writer); SQLite
            # keeps its rollback journal elsewhere, which is just as safe.
            self._db.execute("PRAGMA journal_mode = WAL")
            # Each later schema adds its steps from ``version`` up here, before SCHEMA.
            upgrade = UPGRADES[version] if 0 < version < SCHEMA_VERSION else ""
            self._db.executescript(
                f"BEGIN; {upgrade} {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot use the run history: {exc}") from None

    @classmethod
    def existing(cls, state_dir: Path) -> History | None:
        """The history of ``state_dir`` opened read-only, or None where there is none yet."""
        if not (state_dir / FILENAME).is_file():
            return None
        return cls(state_dir, readonly=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, *rows: Sequence[Any]) -> None:
        """Run one statement for each row in a single transaction."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for row in rows:
                        self._db.execute(sql, row)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"{self.path}: could not write the run history: {exc}") from None

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StateError(f"{self.path}: could not read the run history: {exc}") from None

    # runs -------------------------------------------------------------------------------------
    def start_run(
        self,
        *,
        run_id: str,
        pipeline: str,
        command: str,
        options: Mapping[str, Any],
        withheld: Sequence[str],
        nodes: Sequence[str],
        log_dir: Path,
        pid: int,
        edges: Sequence[tuple[str, str]] = (),
        resumed_from: str | None = None,
        started: float | None = None,
    ) -> None:
        self._write(
            "INSERT INTO runs (id, pipeline, command, options, withheld, nodes, edges,"
            " resumed_from, started, result, pid, log_dir)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                pipeline,
                command,
                json.dumps(dict(options), sort_keys=True),
                json.dumps(list(withheld)),
                json.dumps(list(nodes)),
                json.dumps([list(e) for e in edges]),
                resumed_from,
                started if started is not None else time.time(),
                RunState.RUNNING,
                pid,
                str(log_dir),
            ),
        )

    def finish_run(
        self, run_id: str, *, result: str, exit_code: int, finished: float, error: str = ""
    ) -> None:
        """End a run; ``error`` says why it failed when no node did (already redacted)."""
        self._write(
            "UPDATE runs SET result = ?, exit_code = ?, finished = ?, error = ? WHERE id = ?",
            (result, exit_code, finished, error, run_id),
        )

    def mark_killed(self, run_ids: Sequence[str]) -> None:
        """Mark runs whose process is gone without finishing (SIGKILL, reboot) as killed."""
        self._write(
            "UPDATE runs SET result = ? WHERE id = ? AND result = ?",
            *((RunState.KILLED, run_id, RunState.RUNNING) for run_id in run_ids),
        )

    def runs(self, *, limit: int | None = None, pipeline: str | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        sql = "SELECT * FROM runs"
        params: list[Any] = []
        if pipeline is not None:
            sql += " WHERE pipeline = ?"
            params.append(pipeline)
        sql += " ORDER BY started DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_run(row) for row in self._query(sql, params)]

    def run(self, run_id: str) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run(rows[0]) if rows else None

    def running(self) -> list[RunRecord]:
        rows = self._query("SELECT * FROM runs WHERE result = ?", (RunState.RUNNING,))
        return [_run(r) for r in rows]

    # nodes ------------------------------------------------------------------------------------
    def record_node(self, run_id: str, result: NodeResult, key: str) -> None:
        """Write one node's end state (called as each node ends)."""
        self._write(
            "INSERT OR REPLACE INTO nodes (run_id, node, status, reason, key, image, image_id,"
            " size, started, finished, duration, attempts, log_path, error, steps)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                result.node,
                result.status.value,
                result.reason,
                key,
                result.image,
                result.image_id,
                result.size,
                result.started,
                result.finished,
                round(result.duration, 3),
                len(result.attempts),
                result.log_path,
                result.error,
                json.dumps(
                    [[t.name, round(t.started, 3), round(t.finished, 3)] for t in result.steps]
                ),
            ),
        )

    # gate_checks ------------------------------------------------------------------------------
    def record_gate(self, run_id: str, gate: GateResult) -> None:
        """Write a run's gate checks (once, when the gate ends)."""
        self._write(
            "INSERT OR REPLACE INTO gate_checks (run_id, position, name, state, exit_code,"
            " seconds, log, logs_dir, why, services) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *(
                (
                    run_id,
                    position,
                    c.name,
                    c.state.value,
                    c.exit_code,
                    round(c.seconds, 3),
                    c.log,
                    c.logs_dir,
                    c.why,
                    json.dumps([list(s) for s in c.services]),
                )
                for position, c in enumerate(gate.checks)
            ),
        )

    def gate_checks(self, run_id: str) -> list[CheckResult]:
        """A run's gate checks, in order (none for a run without a gate)."""
        rows = self._query(
            "SELECT * FROM gate_checks WHERE run_id = ? ORDER BY position", (run_id,)
        )
        return [
            CheckResult(
                name=row["name"],
                state=CheckState(row["state"]),
                exit_code=row["exit_code"],
                seconds=row["seconds"],
                log=row["log"],
                logs_dir=row["logs_dir"],
                why=row["why"],
                services=tuple((str(a), str(b)) for a, b in json.loads(row["services"])),
            )
            for row in rows
        ]

    def status_counts(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """For each run, how many of its nodes ended in each status."""
        out: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
        marks = ", ".join("?" for _ in run_ids)
        rows = self._query(
            f"SELECT run_id, status, COUNT(*) AS n FROM nodes WHERE run_id IN ({marks})"
            " GROUP BY run_id, status",
            list(run_ids),
        )
        for row in rows:
            out[row["run_id"]][row["status"]] = row["n"]
        return out

    def nodes(self, run_id: str) -> list[NodeRecord]:
        rows = self._query(
            "SELECT * FROM nodes WHERE run_id = ? ORDER BY started IS NULL, started, node",
            (run_id,),
        )
        return [_node(row) for row in rows]

    def newest_with_key(self, key: str) -> NodeRecord | None:
        """The newest node of any run that ended with the image of ``key`` (built or
        reused), or None."""
        rows = self._query(
            "SELECT nodes.* FROM nodes JOIN runs ON runs.id = nodes.run_id "
            "WHERE nodes.key = ? AND nodes.status IN (?, ?) AND nodes.image_id != '' "
            "ORDER BY runs.started DESC LIMIT 1",
            (key, Status.BUILT.value, Status.REUSED.value),
        )
        return (
            NodeRecord(**{**dict(rows[0]), "status": Status(rows[0]["status"])}) if rows else None
        )

    # builds -----------------------------------------------------------------------------------
    def record_build(
        self,
        *,
        key: str,
        node: str,
        image: str,
        image_id: str,
        inputs: Mapping[str, str],
        run_id: str,
        built: float,
    ) -> None:
        self._write(
            "INSERT OR REPLACE INTO builds (key, repository, node, image, image_id, inputs,"
            " run_id, built) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                repository_of(image),
                node,
                image,
                image_id,
                json.dumps(dict(inputs), sort_keys=True),
                run_id,
                built,
            ),
        )

    def last_build(
        self, repository: str, like: Mapping[str, str] | None = None
    ) -> BuildRecord | None:
        """The most recent build of an image repository, or None; with ``like``, the most
        recent whose inputs have those values (``{"platform": "linux/arm64"}``: a
        repository holds an image per platform, and a manifest list), if there is one."""
        recent = self.recent_builds(repository, like, limit=1)
        return recent[0] if recent else None

    def recent_builds(
        self, repository: str, like: Mapping[str, str] | None = None, limit: int = 5
    ) -> list[BuildRecord]:
        """The ``limit`` most recent builds of an image repository, newest first; with
        ``like``, those whose inputs have those values, if there are any (as
        :meth:`last_build`)."""
        for name, value in (like or {}).items():
            rows = self._query(
                "SELECT * FROM builds WHERE repository = ? AND json_extract(inputs, ?) = ?"
                " ORDER BY built DESC LIMIT ?",
                (repository, f'$."{name}"', value, limit),
            )
            if rows:
                return [_build(row) for row in rows]
        rows = self._query(
            "SELECT * FROM builds WHERE repository = ? ORDER BY built DESC LIMIT ?",
            (repository, limit),
        )
        return [_build(row) for row in rows]

    def build_of(self, key: str) -> BuildRecord | None:
        """The newest build of the image of ``key`` (in any repository), or None."""
        rows = self._query("SELECT * FROM builds WHERE key = ? ORDER BY built DESC LIMIT 1", (key,))
        return _build(rows[0]) if rows else None

    def estimates(
        self, images: Mapping[str, tuple[str, str]], cost: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        """Expected seconds per node from ``{node: (image, key)}``: about nothing if an image
        with the key was built before, else the node's last build time, else the
        repository's times the node's ``cost`` (an emulated node's: several times a native
        build's; a manifest list's, 0: a second). Nodes without history are left out."""
        cost = cost or {}
        out: dict[str, float] = {}
        for node, (image, key) in images.items():
            if self._query(
                "SELECT 1 FROM builds WHERE repository = ? AND key = ?",
                (repository_of(image), key),
            ):
                out[node] = 0.5
                continue
            factor = cost.get(node, 1.0)
            if not factor:
                out[node] = 1.0
                continue
            rows = self._query(
                "SELECT duration FROM nodes WHERE status = 'built' AND node = ?"
                " ORDER BY finished DESC LIMIT 1",
                (node,),
            )
            if rows:
                out[node] = float(rows[0]["duration"])
                continue
            rows = self._query(  # not a manifest list's second
                "SELECT duration FROM nodes WHERE status = 'built' AND substr(image, 1, ?) = ?"
                " AND image NOT IN (SELECT image FROM builds WHERE"
                " json_extract(inputs, '$.kind') = 'manifest')"
                " ORDER BY finished DESC LIMIT 1",
                (len(prefix := repository_of(image) + ":"), prefix),
            )
            if rows:
                out[node] = float(rows[0]["duration"]) * factor
        return out

    def builds(self) -> Iterator[BuildRecord]:
        """Every recorded build, oldest first."""
        for row in self._query("SELECT * FROM builds ORDER BY built"):
            yield _build(row)

    def forget_builds(self, builds: Sequence[BuildRecord]) -> None:
        self._write(
            "DELETE FROM builds WHERE repository = ? AND key = ?",
            *((b.repository, b.key) for b in builds),
        )


def _node(row: sqlite3.Row) -> NodeRecord:
    steps = tuple((str(n), float(a), float(b)) for n, a, b in json.loads(row["steps"]))
    return NodeRecord(**{**dict(row), "status": Status(row["status"]), "steps": steps})


def _run(row: sqlite3.Row) -> RunRecord:
    data = dict(row)
    try:
        data["options"] = dict(json.loads(data["options"]))
        data["withheld"] = tuple(json.loads(data["withheld"]))
        data["nodes"] = tuple(json.loads(data["nodes"]))
        data["edges"] = tuple((a, b) for a, b in json.loads(data["edges"]))
    except (ValueError, TypeError):
        raise StateError(
            f"run {data.get('id')!r} in the history is damaged (its options, nodes or edges "
            "are not the JSON orchestrate writes)"
        ) from None
    return RunRecord(**data)


def _build(row: sqlite3.Row) -> BuildRecord:
    data = dict(row)
    data["inputs"] = json.loads(data["inputs"])
    return BuildRecord(**data)
