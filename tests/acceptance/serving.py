"""Serving a service from its image the way an operator runs it, for the acceptance tests.

Each service runs in a throwaway podman container on the host network, bound to a free port
on 127.0.0.1, as its service user (the image's default), with the configuration an operator
would mount read-only in ``/etc/<service>``, file by file, and a writable state folder at
``/var/lib/<service>`` (SQLite lives there). The container first runs the service's own
set-up commands (``db_sync`` and friends), then ``exec``s uwsgi serving the project's
documented WSGI module. Every container is removed when its test ends, whatever happened.

Run by a pipeline's gate (``ORCHESTRATE_GATE_LOGS`` set, see orchestrator/execution/gate.py),
each service's whole log is kept there as ``<service>.log`` (``nova-conductor.log`` for a
process started with start()) before its container goes, and :func:`blamed_logs` says which
of a failed test's services to show: those that exited or logged an error.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

VENV = "/var/lib/openstack"
READY_SECONDS = 180
GATE_LOGS = "ORCHESTRATE_GATE_LOGS"
# A service log with one of these is suspect when its test fails.
_TROUBLE = re.compile(r"\b(ERROR|CRITICAL)\b|^Traceback", re.MULTILINE)
# The logs kept since the current test started: (path, suspect).
_kept: list[tuple[Path, bool]] = []


@dataclass(frozen=True, kw_only=True)
class Service:
    """How one service is configured and served."""

    name: str
    user: str
    uid: int
    wsgi: str  # module:callable
    files: Mapping[str, str] = field(default_factory=dict)  # name under /etc/<name> -> text
    # Where a file goes when not in /etc/<name> (horizon's local_settings.py).
    paths: Mapping[str, str] = field(default_factory=dict)
    setup: Sequence[str] = ()  # shell commands run before uwsgi, as the service user
    uwsgi: Sequence[str] = ()  # extra uwsgi arguments
    env: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = "/"


@dataclass(frozen=True, kw_only=True)
class Served:
    """A running service: where it answers and how to read its log."""

    name: str
    container: str
    url: str
    port: int

    def logs(self) -> str:
        out = subprocess.run(
            ["podman", "logs", self.container], capture_output=True, text=True, check=False
        )
        return (out.stdout + out.stderr)[-6000:]


def site_packages(image: str) -> str:
    """The venv's site-packages folder in ``image`` (its Python version is the base's)."""
    out = subprocess.run(
        [
            "podman",
            "run",
            "--rm",
            "--network",
            "none",
            image,
            f"{VENV}/bin/python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _render(text: str, port: int) -> str:
    return text.replace("{port}", str(port))


@contextlib.contextmanager
def serve(
    service: Service, image: str, workdir: Path, *, ready_seconds: int = READY_SECONDS
) -> Iterator[Served]:
    """Run ``service`` from ``image`` until the block ends; yield once it answers HTTP
    (within ``ready_seconds``: more for an image run under emulation)."""
    port = free_port()
    conf = workdir / "etc"
    state = workdir / "state"
    conf.mkdir(parents=True)
    state.mkdir(parents=True)
    for name, text in service.files.items():
        (conf / name).write_text(_render(text, port))
    os.chown(state, service.uid, service.uid)
    state.chmod(0o750)
    command = [
        *(_render(step, port) for step in service.setup),
        shlex.join(
            [
                f"{VENV}/bin/uwsgi",
                "--http-socket",
                f"127.0.0.1:{port}",
                "--module",
                service.wsgi,
                "--master",
                # One process (SQLite allows one writer), a few threads.
                "--processes",
                "1",
                "--threads",
                "4",
                "--enable-threads",
                "--http-chunked-input",
                # uwsgi's HTTP socket closes each connection after its answer: say so, or a
                # client reusing it (keystoneauth keeps connections alive) races the close
                # and gets a reset.
                "--add-header",
                "Connection: close",
                "--die-on-term",
                "--need-app",
                "--lazy-apps",
                *(_render(arg, port) for arg in service.uwsgi),
            ]
        ),
    ]
    script = "\n".join(["set -e", *command[:-1], "exec " + command[-1]])
    container = f"orch-acceptance-{service.name}-{uuid.uuid4().hex[:8]}"
    # File by file, as operators mount them: the image's default files beside them stay.
    argv = _podman_run(service, conf, state, container, "--detach")
    argv += [image, "/bin/bash", "-c", script]
    url = f"http://127.0.0.1:{port}"
    served = Served(name=service.name, container=container, url=url, port=port)
    try:  # from here on the container may exist: it is removed whatever happens
        started = subprocess.run(argv, capture_output=True, text=True, check=False)
        if started.returncode != 0:
            raise AssertionError(f"podman run {service.name}: {started.stderr.strip()}")
        _wait_until_ready(served, service.ready_path, ready_seconds)
        yield served
    finally:
        keep_log(service.name, container)
        _remove(container)


def keep_log(label: str, container: str) -> Path | None:
    """Under a gate, keep ``container``'s whole log as ``<label>.log`` (``-2``, ``-3``... when
    the name is taken); nothing otherwise, or when the container does not exist."""
    folder = os.environ.get(GATE_LOGS)
    if not folder:
        return None
    out = subprocess.run(["podman", "logs", container], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return None
    text = out.stdout + out.stderr
    path = Path(folder) / f"{label}.log"
    number = 1
    while path.exists():
        number += 1
        path = Path(folder) / f"{label}-{number}.log"
    path.write_text(text)
    _kept.append((path, not _running(container) or bool(_TROUBLE.search(text))))
    return path


def forget_kept_logs() -> None:
    """A new test starts: the logs kept so far are not its own."""
    _kept.clear()


def blamed_logs() -> list[str]:
    """The file names of the current test's kept logs to blame for its failure: those of
    services that exited or logged an error, else all of them."""
    suspect = [path.name for path, bad in _kept if bad]
    return suspect or [path.name for path, _ in _kept]


def _running(container: str) -> bool:
    out = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.Running}}", container],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() == "true"


def _wait_until_ready(served: Served, path: str, seconds: int = READY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _running(served.container):
            raise AssertionError(f"{served.name} exited before serving:\n{served.logs()}")
        with contextlib.suppress(requests.RequestException):
            requests.get(served.url + path, timeout=5)
            return
        time.sleep(1)
    raise AssertionError(f"{served.name} did not answer in {seconds} s:\n{served.logs()}")


# A service that is not a WSGI module uwsgi serves: its own server (swift's daemons, skyline's
# gunicorn), an agent (ceilometer-polling) or a command run once (freezer-agent, openstack).
# Same conventions as serve(): host network, the service user, configuration file by file,
# the state folder, the set-up commands first; the container is removed whatever happens.


def _prepare(service: Service, workdir: Path, port: int) -> tuple[Path, Path]:
    """Write the configuration files and the state folder under ``workdir`` (again for a
    second command of the same test: the state folder keeps what the first one wrote)."""
    conf = workdir / "etc"
    state = workdir / "state"
    conf.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    for name, text in service.files.items():
        (conf / name).write_text(_render(text, port))
    os.chown(state, service.uid, service.uid)
    state.chmod(0o750)
    return conf, state


def _podman_run(
    service: Service, conf: Path, state: Path, container: str, *options: str
) -> list[str]:
    """``podman run OPTIONS`` up to (without) the image, as serve() runs a service."""
    argv = [
        "podman",
        "run",
        *options,
        "--name",
        container,
        "--network",
        "host",
        "--user",
        service.user,
        "--volume",
        f"{state}:/var/lib/{service.name}",
    ]
    for name in service.files:
        target = service.paths.get(name, f"/etc/{service.name}/{name}")
        argv += ["--volume", f"{conf / name}:{target}:ro"]
    for key, value in service.env.items():
        argv += ["--env", f"{key}={value}"]
    return argv


def _script(service: Service, command: str, port: int) -> str:
    steps = [_render(step, port) for step in service.setup]
    return "\n".join(["set -e", *steps, "exec " + _render(command, port)])


def _remove(container: str) -> None:
    subprocess.run(
        ["podman", "rm", "--force", "--time", "5", container], capture_output=True, check=False
    )


def full_logs(container: str) -> str:
    """Everything ``container`` logged (stdout and stderr), not only the tail."""
    out = subprocess.run(["podman", "logs", container], capture_output=True, text=True, check=False)
    return out.stdout + out.stderr


@contextlib.contextmanager
def start(service: Service, image: str, workdir: Path, command: str) -> Iterator[Served]:
    """Run ``service`` from ``image`` as serve() does, but ``exec`` ``command`` (a shell
    command line, ``{port}`` rendered) after the set-up commands instead of uwsgi. Yields at
    once: wait with ``wait_for_http`` or ``wait_for_log``. The container is removed when the
    block ends, whatever happened."""
    port = free_port()
    conf, state = _prepare(service, workdir, port)
    container = f"orch-acceptance-{service.name}-{uuid.uuid4().hex[:8]}"
    argv = _podman_run(service, conf, state, container, "--detach")
    argv += [image, "/bin/bash", "-c", _script(service, command, port)]
    served = Served(
        name=service.name, container=container, url=f"http://127.0.0.1:{port}", port=port
    )
    try:  # from here on the container may exist: it is removed whatever happens
        started = subprocess.run(argv, capture_output=True, text=True, check=False)
        if started.returncode != 0:
            raise AssertionError(f"podman run {service.name}: {started.stderr.strip()}")
        yield served
    finally:
        keep_log(Path(shlex.split(command)[0]).name if command.strip() else service.name, container)
        _remove(container)


def wait_for_http(served: Served, path: str = "/", seconds: int = READY_SECONDS) -> None:
    """Return once ``served`` answers HTTP on ``path``; fail with its log if it exits first
    or does not answer within ``seconds``."""
    _wait_until_ready(served, path, seconds)


def wait_for_log(served: Served, pattern: str, seconds: int = READY_SECONDS) -> str:
    """Everything ``served`` logged, once a line matches ``pattern`` (a regular expression);
    fail with its log if the container exits first or no line matches within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        running = _running(served.container)  # before reading: the last lines are in
        logs = full_logs(served.container)
        if re.search(pattern, logs, re.MULTILINE):
            return logs
        if not running:
            raise AssertionError(
                f"{served.name} exited before logging {pattern!r}:\n{logs[-6000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{served.name} logged no {pattern!r} in {seconds} s:\n{logs[-6000:]}"
            )
        time.sleep(1)


def run(
    service: Service, image: str, workdir: Path, command: str, *, seconds: int = READY_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a shell command line, after the set-up commands) to its end in a
    throwaway container of ``image``, as ``service`` runs (see start()); its exit status and
    output, within ``seconds``. The container is removed whatever happens (a timeout too)."""
    port = free_port()
    conf, state = _prepare(service, workdir, port)
    container = f"orch-acceptance-{service.name}-{uuid.uuid4().hex[:8]}"
    argv = _podman_run(service, conf, state, container)
    argv += [image, "/bin/bash", "-c", _script(service, command, port)]
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=seconds)
    finally:
        _remove(container)
