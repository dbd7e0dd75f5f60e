"""The seam between orchestrate and the programs it starts (buildah, podman, skopeo,
mmdebstrap, git): the :class:`Runner` protocol, and :class:`ShRunner`, which implements it
with ``sh`` (the only module that imports it); tests use fakes.

A runner runs whatever argv it is given: buildah and podman argv are written by
:mod:`orchestrator.engine.buildah`. :class:`ShRunner` is the runner the executor and
:class:`~orchestrator.engine.storage.Storage` use; made with a storage.conf (a
``storage_root``), it points every command it starts at that image storage through the
command's own environment, leaving orchestrate's untouched.

Every argv is logged (``+ buildah ...``, with credentials masked) before it runs, and its
combined output goes line by line to the node's log file. Commands run in their own session so
a Ctrl-C at the terminal reaches orchestrate only: orchestrate then stops the command itself
(SIGTERM to its process group, SIGKILL after a grace period) and cleans up.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

import sh
import structlog

from orchestrator.engine import storageconf
from orchestrator.errors import (
    CAUSE_PREFIXES,
    CancelledError,
    HostError,
    LogWriteError,
    StepFailedError,
    StepTimeoutError,
    ToolMissingError,
)
from orchestrator.redaction import format_argv, redact

TAIL_LINES = 40
_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.1


class Runner(Protocol):
    """Runs commands: :class:`ShRunner`, or a fake in tests."""

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
        """Run a step to completion, streaming its output into ``log``; ``env``: variables
        the command gets on top of the runner's environment.

        Raises StepFailedError, StepTimeoutError or CancelledError."""
        ...

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        """Run a short query and return its stdout. Raises StepFailedError."""
        ...


INSTALL_HINTS = {
    "buildah": "install it with 'apt-get install -y buildah' (Debian/Ubuntu)",
    "podman": "install it with 'apt-get install -y podman' (Debian/Ubuntu)",
    "mmdebstrap": "install it with 'apt-get install -y mmdebstrap', or use 'base: {from: IMAGE}'",
    "git": "install it with 'apt-get install -y git' to fetch git sources",
    "skopeo": "install it with 'apt-get install -y skopeo' to use a registry",
}


def require_tool(name: str) -> None:
    """Check that ``name`` is on PATH.

    Raises:
        ToolMissingError: it is not, with a hint on how to install it.
    """
    _command(name)


def _command(name: str) -> sh.Command:
    try:
        return sh.Command(name)
    except sh.CommandNotFound:
        raise ToolMissingError(name, INSTALL_HINTS.get(name, "install it")) from None


# Lines that name why a command failed, often far above its last lines (apt says "Unable to
# locate package" at the end, "Could not connect" 80 lines before).
_CAUSE = re.compile(
    r"Could not connect|Could not resolve|Temporary failure resolving|Failed to fetch|"
    r"Connection refused|Connection timed out|Name or service not known|No space left on device|"
    r"certificate verify failed|ProxyError|407 Proxy Authentication|Network is unreachable"
)


# Below this, a file system counts as full: buildah's own message for a full TMPDIR is
# "read/write on closed pipe", which names no disk.
LOW_SPACE_BYTES = 8 * 1024 * 1024


def temporary_dir() -> Path:
    """Where buildah makes its temporary files and step bundles: ``$TMPDIR``, else
    ``/var/tmp``."""
    return Path(os.environ.get("TMPDIR") or "/var/tmp")


def space_notes(state_path: str = "", storage_conf: Path | None = None) -> list[str]:
    """One line per place a build writes to that is (nearly) full: buildah's temporary
    directory (every buildah command needs it), image storage (that of ``storage_conf``, else
    the host's) and the state directory (or the folder of ``state_path``, a node's log)."""
    places = {
        "TMPDIR": str(temporary_dir()),
        "image storage": storageconf.graphroot(storage_conf),
        "state directory": state_path,
    }
    notes, seen = [], set()
    for what, path in places.items():
        existing = path
        while existing and not os.path.isdir(existing):  # a state dir not made yet
            existing = os.path.dirname(existing.rstrip("/")) if existing != "/" else ""
        try:
            if not existing:
                continue
            vfs = os.statvfs(existing)
        except OSError:
            continue
        if (vfs.f_fsid, vfs.f_blocks) in seen:
            continue
        seen.add((vfs.f_fsid, vfs.f_blocks))
        free = vfs.f_bavail * vfs.f_frsize
        if free < LOW_SPACE_BYTES:
            notes.append(
                f"{CAUSE_PREFIXES[0]}no space left on device: {what} {path} has "
                f"{free // 1024 // 1024} MiB free"
            )
    return notes


def check_space(state_dir: str, storage_conf: Path | None = None) -> None:
    """Refuse to start a build where buildah (with the image storage of ``storage_conf``,
    else the host's) or the state directory has no room.

    Raises:
        HostError: naming the place, its free space and what to do.
    """
    notes = space_notes(state_dir, storage_conf)
    if notes:
        where = notes[0].removeprefix(CAUSE_PREFIXES[0])
        raise HostError(
            f"{where}: buildah needs room there for every command and image; free some "
            "space (orchestrate prune) or point TMPDIR or --state-dir elsewhere"
        )


class _Output:
    """Receives a command's output lines: writes them to the log and keeps the tail."""

    def __init__(self, log: IO[str] | None, storage_conf: Path | None = None) -> None:
        self.log = log
        self.storage_conf = storage_conf
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.lock = threading.Lock()
        # Why the log stopped being written (a full disk), if it did.
        self.log_error = ""
        self.causes: deque[str] = deque(maxlen=4)

    def __call__(self, line: str) -> None:
        clean = redact(line.rstrip("\n"))
        with self.lock:
            self.tail.append(clean)
            if _CAUSE.search(clean):
                self.causes.append(clean)
            self._write(clean)

    def failure_tail(self, log_path: str = "") -> str:
        """The last lines, led by a full disk on the host and earlier lines that name a
        likely cause."""
        with self.lock:
            lines = list(self.tail)
            earlier = [f"{CAUSE_PREFIXES[1]}{c}" for c in self.causes if c not in lines]
        return "\n".join([*space_notes(log_path, self.storage_conf), *earlier, *lines])

    def write(self, line: str) -> None:
        """Write a line of orchestrate's own to the log (not to the tail)."""
        with self.lock:
            self._write(line)

    def _write(self, clean: str) -> None:
        if self.log is None:
            return
        try:
            self.log.write(clean + "\n")
            self.log.flush()
        except OSError as exc:
            # Keep draining the command's output (a command whose pipe nobody reads blocks
            # forever), and say why afterwards.
            self.log = None
            self.log_error = exc.strerror or str(exc)


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def child_setup(niceness: int) -> Callable[[], None]:
    """A pre-exec hook: lower the child's CPU priority, and have the kernel send it SIGTERM
    if orchestrate dies (SIGKILL, OOM) so no command outlives its run."""

    def hook() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if niceness:
            os.nice(niceness)

    return hook


def _stop(proc: sh.RunningCommand) -> None:
    """SIGTERM the command's process group, then SIGKILL it after a grace period."""
    try:
        proc.process.signal_group(signal.SIGTERM)
    except ProcessLookupError:
        return
    waited = 0.0
    while proc.is_alive() and waited < _GRACE_SECONDS:
        time.sleep(_POLL_SECONDS)
        waited += _POLL_SECONDS
    if proc.is_alive():
        try:
            proc.process.signal_group(signal.SIGKILL)
        except ProcessLookupError:
            return


class ShRunner:
    """The real :class:`Runner`: commands through ``sh``, each with orchestrate's environment
    and, made with ``storage_conf``, ``CONTAINERS_STORAGE_CONF`` pointing at it (the image
    storage of a ``storage_root``, see :mod:`orchestrator.engine.storageconf`); without, the
    commands use the host's storage. orchestrate's own environment is never changed."""

    def __init__(self, storage_conf: Path | None = None) -> None:
        self.storage_conf = storage_conf

    def environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a command gets: orchestrate's own, the runner's storage, then
        ``env``."""
        return {**os.environ, **storageconf.environment(self.storage_conf), **(env or {})}

    def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        log: IO[str] | None = None,
        log_path: str = "",
        env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
        niceness: int = 0,
    ) -> None:
        """Run ``argv`` to completion, streaming its output into ``log``.

        Args:
            argv: the program and its arguments.
            step: the step name, for messages.
            log: an open text file receiving the command line and all its output.
            log_path: the log's path, quoted in errors.
            env: variables the command gets on top of :meth:`environment` (proxies).
            cancel: when set, the command is stopped and :class:`CancelledError` raised.
            deadline: a ``time.monotonic()`` instant after which the command is killed and
                :class:`StepTimeoutError` raised.
            niceness: added to the command's CPU niceness (0: same priority as orchestrate).

        Raises:
            StepFailedError: the command exited non-zero; carries the tail of its output.
            StepTimeoutError: the deadline passed.
            CancelledError: ``cancel`` was set.
            ToolMissingError: the program is not installed.
        """
        structlog.get_logger().debug("exec", step=step, argv=format_argv(argv))
        output = _Output(log, self.storage_conf)
        output.write(f"+ {format_argv(argv)}")
        program = _command(argv[0])
        proc = program(
            *argv[1:],
            _bg=True,
            _bg_exc=False,
            _out=output,
            _err_to_out=True,
            _tty_out=False,
            _in=None,
            _new_session=True,
            _env=self.environment(env),
            _decode_errors="replace",
            _preexec_fn=child_setup(niceness),
        )
        interrupted: type[Exception] | None = None
        while proc.is_alive():
            if cancel is not None and cancel.is_set():
                interrupted = CancelledError
            elif deadline is not None and time.monotonic() > deadline:
                interrupted = StepTimeoutError
            if interrupted is not None:
                _stop(proc)
                break
            time.sleep(_POLL_SECONDS)
        try:
            proc.wait()
        except sh.ErrorReturnCode as exc:
            if interrupted is None:
                raise StepFailedError(
                    step, exc.exit_code, output.failure_tail(log_path), log_path
                ) from None
        except sh.SignalException:
            if interrupted is None:
                raise StepFailedError(step, -1, output.failure_tail(log_path), log_path) from None
        if output.log_error and interrupted is None:
            raise LogWriteError(f"step {step!r}: cannot write the node's log ({output.log_error})")
        if interrupted is CancelledError:
            raise CancelledError(f"step {step!r} was cancelled")
        if interrupted is StepTimeoutError:
            raise StepTimeoutError(f"step {step!r} ran past the node's timeout and was killed")

    def capture(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        ok_codes: Sequence[int] = (0,),
    ) -> str:
        """Run a short query command and return its stdout; ``env`` as for :meth:`run`.

        Raises:
            StepFailedError: it exited with a code not in ``ok_codes``; carries its stderr.
            ToolMissingError: the program is not installed.
        """
        structlog.get_logger().debug("exec", argv=format_argv(argv))
        program = _command(argv[0])
        try:
            out = program(
                *argv[1:],
                _tty_out=False,
                _in=None,
                _env=self.environment(env),
                _timeout=timeout,
                _ok_code=list(ok_codes),
                _decode_errors="replace",
            )
        except sh.ErrorReturnCode as exc:
            stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
            tail = "\n".join([*space_notes(storage_conf=self.storage_conf), redact(stderr.strip())])
            raise StepFailedError(format_argv(argv), exc.exit_code, tail, "") from None
        except sh.TimeoutException:
            raise StepTimeoutError(f"{format_argv(argv)} did not finish in {timeout} s") from None
        return str(out)


# For commands that touch no image storage (git).
_RUNNER = ShRunner()
run = _RUNNER.run
capture = _RUNNER.capture
