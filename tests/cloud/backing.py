"""The services a cloud stands on, from Debian, each private to one scenario: MariaDB,
RabbitMQ and memcached on loopback, on free ports, with their data in the scenario's folder.

Each is a context manager that starts its daemon, waits until it answers, and on the way out
stops it and removes its data, whatever happened: nothing is left running (no daemon, no
epmd, no database, no vhost). They run as the packages' own users (mysql, rabbitmq,
memcache), never touching the host's instances or default ports.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.acceptance.serving import free_port

READY_SECONDS = 90


def _private_folder(user: str, prefix: str) -> Path:
    """A new folder under /tmp owned by ``user`` (pytest's own are root's, mode 0700: the
    daemons' users could not reach into them)."""
    folder = Path(tempfile.mkdtemp(prefix=f"orch-cloud-{prefix}-"))
    subprocess.run(["chown", f"{user}:{user}", str(folder)], check=True)
    folder.chmod(0o750)
    return folder


def _wait(what: str, check: object, log: Path, seconds: int = READY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise AssertionError(f"{what} did not start in {seconds} s:\n{tail}")


def _stop(proc: subprocess.Popen[bytes], seconds: int = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class MariaDB:
    """A private MariaDB: root over its socket, services over TCP on 127.0.0.1."""

    port: int
    socket: Path
    folder: Path
    # {database: password}: each database has a user of the same name.
    databases: dict[str, str] = field(default_factory=dict)

    def sql(self, statement: str) -> str:
        out = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                f"--socket={self.socket}",
                "-uroot",
                "-N",
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise AssertionError(f"mariadb: {statement}: {out.stderr.strip()}")
        return out.stdout

    def database(self, name: str) -> str:
        """Create database ``name`` and its user; the SQLAlchemy URL services use."""
        password = uuid.uuid4().hex
        self.sql(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4; "
            f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
            f"GRANT ALL ON `{name}`.* TO '{name}'@'127.0.0.1';"
        )
        self.databases[name] = password
        return f"mysql+pymysql://{name}:{password}@127.0.0.1:{self.port}/{name}?charset=utf8mb4"


@contextlib.contextmanager
def mariadb() -> Iterator[MariaDB]:
    """MariaDB with its data in a folder of its own; stopped and removed at the end."""
    folder = _private_folder("mysql", "mariadb")
    data, socket, log = folder / "data", folder / "mysqld.sock", folder / "error.log"
    init = subprocess.run(
        [
            "mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=mysql",
            "--auth-root-authentication-method=socket", "--skip-test-db",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise AssertionError(f"mariadb-install-db: {init.stdout}{init.stderr}")
    port = free_port()
    proc = subprocess.Popen(
        [
            "mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={socket}",
            f"--port={port}", "--bind-address=127.0.0.1", "--user=mysql", "--skip-log-bin",
            f"--pid-file={folder / 'mysqld.pid'}", f"--log-error={log}",
            "--max-connections=500", "--innodb-buffer-pool-size=128M",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    db = MariaDB(port=port, socket=socket, folder=folder)
    try:

        def answers() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"mariadbd exited:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(AssertionError):
                return db.sql("SELECT 1").strip() == "1"
            return False

        _wait("mariadb", answers, log)
        yield db
    finally:
        _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class RabbitMQ:
    """A private RabbitMQ node: the transport URL of its one user and vhost."""

    url: str
    node: str
    env: dict[str, str]
    folder: Path

    def ctl(self, *args: str) -> str:
        out = subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if out.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout


@contextlib.contextmanager
def rabbitmq() -> Iterator[RabbitMQ]:
    """A RabbitMQ node (and its own epmd) with its data in a folder of its own: one vhost and
    one user; the node and epmd stopped and the data removed at the end."""
    folder = _private_folder("rabbitmq", "rabbitmq")
    for name, text in (("enabled_plugins", "[].\n"), ("rabbitmq.conf", "")):
        (folder / name).write_text(text)
        shutil.chown(folder / name, "rabbitmq", "rabbitmq")
    name = f"orch-{uuid.uuid4().hex[:8]}@localhost"
    port, dist, epmd = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        HOME=str(folder),  # the Erlang cookie
        RABBITMQ_NODENAME=name,
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(port),
        RABBITMQ_DIST_PORT=str(dist),
        ERL_EPMD_PORT=str(epmd),
        ERL_EPMD_ADDRESS="127.0.0.1",
        RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
        RABBITMQ_LOG_BASE=str(folder / "log"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "enabled_plugins"),
        RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq"),
        RABBITMQ_PID_FILE=str(folder / "rabbitmq.pid"),
    )
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["rabbitmq-server"], env=env, stdout=out, stderr=out)
    password = uuid.uuid4().hex
    url = f"rabbit://cloud:{password}@127.0.0.1:{port}/cloud"
    node = RabbitMQ(url=url, node=name, env=env, folder=folder)
    try:
        _wait("rabbitmq", lambda: _started(node, proc, log), log, seconds=120)
        node.ctl("add_vhost", "cloud")
        node.ctl("add_user", "cloud", password)
        node.ctl("set_permissions", "-p", "cloud", "cloud", ".*", ".*", ".*")
        yield node
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            node.ctl("stop")
        _stop(proc)
        # The node exits some seconds after answering "stop": wait for its VM (the only
        # process started with this epmd port). Only then does its epmd agree to stop (it
        # refuses while a node is registered); then make sure it did.
        _gone(f"-epmd_port {epmd}", seconds=60)
        subprocess.run(["epmd", "-port", str(epmd), "-kill"], env=env, capture_output=True)
        _unlisten(epmd, seconds=30)
        shutil.rmtree(folder, ignore_errors=True)


def _gone(pattern: str, seconds: int) -> None:
    """Wait until no process's command line has ``pattern``; kill what is left after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True)
        if not found.stdout.split():
            return
        time.sleep(0.5)
    subprocess.run(["pkill", "-KILL", "-f", "--", pattern], capture_output=True)


def _unlisten(port: int, seconds: int) -> None:
    """Wait until nothing listens on ``port``; kill what still does after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True
        ).stdout
        pids = set(re.findall(r"pid=(\d+)", found))
        if not pids:
            return
        if time.monotonic() > deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            return
        time.sleep(0.5)


def _started(node: RabbitMQ, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"rabbitmq-server exited:\n{log.read_text(errors='replace')[-3000:]}")
    try:
        node.ctl("await_startup", "--timeout", "5")
    except (AssertionError, subprocess.TimeoutExpired):
        return False
    return True


@contextlib.contextmanager
def memcached() -> Iterator[str]:
    """A memcached of its own (keystone keeps its cache regions' keys there: two keystones
    sharing one confuse each other); ``host:port``."""
    port = free_port()
    proc = subprocess.Popen(
        ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-u", "memcache", "-m", "64"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def answers() -> bool:
            if proc.poll() is not None:
                raise AssertionError("memcached exited")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=2) as conn,
            ):
                conn.sendall(b"version\r\n")
                return conn.recv(64).startswith(b"VERSION")
            return False

        _wait("memcached", answers, Path("/nonexistent"))
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)
