"""The run's Debian package lists, fetched once for every node that installs packages.

Each node's install-packages step used to run ``apt-get update`` in its own container: 1.6 to
1.8 CPU-s a node to fetch and parse the same 9.4 MB of lists. The plan now names, for those
steps, a :class:`~orchestrator.planning.nodeplan.ListsFetch`: ``apt-get update`` in a
throwaway container of the base image. The first step that needs a folder fetches it (its
steps run in a build slot like any other); steps that need it meanwhile wait for it; every
step then mounts it read-only. Only that container, which runs Debian's apt and nothing of a
project's, ever writes the lists.

The update runs on the host's lists of that base (``<state>/apt-lists/<base>@<arch>``),
kept between runs under a lock that another run waits on: apt asks the mirror whether each
suite's ``InRelease`` changed since and downloads and parses only what did (a whole fetch
cost 2.2-3.1 s). The run then reads its own copy, so a later run's update never changes the
lists under this one's steps. A failed update empties the host's lists.

A fetch that fails (apt exits non-zero: the mirror is down) fails its node, and the nodes
that were waiting for it fail at once, naming it, instead of trying the same mirror one
after the other; a node that asks later (a retry) fetches again. A fetch stopped by Ctrl-C
or its node's timeout fails no one else: the next waiting node fetches.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import (
    EXIT_NODE_FAILED,
    CancelledError,
    OrchestrateError,
    StepFailedError,
    StepTimeoutError,
)
from orchestrator.planning.nodeplan import ListsFetch, Step

# The name of the time a node spends waiting for another node's fetch (``orchestrate show``).
LISTS_WAIT = "waiting for the run's package lists"


class ListsFetchError(OrchestrateError):
    """The run's package lists could not be had: their fetch failed in another node, or
    their folder could not be made."""

    exit_code = EXIT_NODE_FAILED


class PackageLists:
    """The folders of package lists a run fetched; thread-safe."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._fetched: set[Path] = set()
        self._made: set[Path] = set()
        # Per folder: how many fetches ended, and the one whose apt failed last (and where).
        self._ended: dict[Path, int] = {}
        self._failed: dict[Path, tuple[int, str]] = {}

    def ensure(
        self,
        fetch: ListsFetch,
        run: Callable[[tuple[Step, ...]], None],
        remove_container: Callable[[], None],
        *,
        node: str,
        cancel: threading.Event,
        deadline: float | None = None,
        on_wait: Callable[[], None] = lambda: None,
    ) -> bool:
        """Fetch ``fetch.folder`` with ``run(fetch.steps)`` unless this run did already;
        True when this call fetched it.

        Raises:
            ListsFetchError: a fetch this call waited for failed (in ``node``'s words: the
                node that ran it), or the folder cannot be made.
            CancelledError, StepTimeoutError: while waiting for another node's fetch.
            Whatever ``run`` raised: this call's own fetch failed (its container removed).
        """
        with self._guard:
            lock = self._locks.setdefault(fetch.folder, threading.Lock())
            # A fetch that ends after this call asked is one it waited for.
            seen = self._ended.get(fetch.folder, 0)
        _wait_for(
            lambda wait: lock.acquire(timeout=wait) if wait else lock.acquire(blocking=False),
            "the run's package lists", cancel, deadline, on_wait,
        )  # fmt: skip
        try:
            with self._guard:
                if fetch.folder in self._fetched:
                    return False
                failed = self._failed.get(fetch.folder)
                if failed is not None and failed[0] > seen:
                    raise ListsFetchError(
                        f"the run's package lists: their fetch failed in node {failed[1]} "
                        "(see its log)"
                    )
                attempt = self._ended.get(fetch.folder, 0) + 1
                self._made.add(fetch.folder)
            _fresh(fetch.folder)
            try:
                with _host_lock(fetch.kept, cancel, deadline, on_wait):
                    _update(fetch, run)
            except BaseException as exc:
                remove_container()
                with self._guard:
                    self._ended[fetch.folder] = attempt
                    if isinstance(exc, StepFailedError):
                        self._failed[fetch.folder] = (attempt, node)
                raise
            with self._guard:
                self._ended[fetch.folder] = attempt
                self._fetched.add(fetch.folder)
            return True
        finally:
            lock.release()

    def remove_all(self) -> None:
        """Delete every folder this run fetched (called once the run's nodes are done)."""
        with self._guard:
            made, self._made = set(self._made), set()
            self._fetched.clear()
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)


def _update(fetch: ListsFetch, run: Callable[[tuple[Step, ...]], None]) -> None:
    """``apt-get update`` of the host's lists (``fetch.kept``), then the run's copy of them.
    A failed update empties them: the next starts from nothing rather than from what a
    broken one left."""
    try:
        fetch.kept.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ListsFetchError(
            f"the host's package lists: cannot make {fetch.kept}: {err.strerror or err}"
        ) from err
    try:
        run(fetch.steps)
    except BaseException:
        shutil.rmtree(fetch.kept, ignore_errors=True)
        raise
    try:
        # apt's lock and download folder stay: the copy is read, never updated.
        ignore = shutil.ignore_patterns("lock", "partial")
        shutil.copytree(fetch.kept, fetch.folder, ignore=ignore, dirs_exist_ok=True)
    except OSError as err:
        raise ListsFetchError(
            f"the run's package lists: cannot copy {fetch.kept} to {fetch.folder}: "
            f"{getattr(err, 'strerror', None) or err}"
        ) from err


@contextmanager
def _host_lock(
    kept: Path, cancel: threading.Event, deadline: float | None, on_wait: Callable[[], None]
) -> Iterator[None]:
    """Hold the host's lists of one base against another run updating them meanwhile."""
    lock = kept.with_name(f"{kept.name}.lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = lock.open("a")
    except OSError as err:
        raise ListsFetchError(
            f"the host's package lists: cannot lock {lock}: {err.strerror or err}"
        ) from err

    def try_lock(wait: float) -> bool:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(wait)
            return False

    with handle:
        _wait_for(try_lock, "the host's package lists", cancel, deadline, on_wait)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_for(
    take: Callable[[float], bool],
    what: str,
    cancel: threading.Event,
    deadline: float | None,
    on_wait: Callable[[], None],
) -> None:
    """Call ``take(wait)`` until it takes the lock (``wait`` 0 the first time, then 0.1 s a
    try): ``on_wait`` once if it must wait; stopped by ``cancel`` or ``deadline``."""
    if take(0):
        return
    on_wait()
    while not take(0.1):
        if cancel.is_set():
            raise CancelledError(f"cancelled while waiting for {what}")
        if deadline is not None and time.monotonic() > deadline:
            raise StepTimeoutError(f"timed out waiting for {what}")


def _fresh(folder: Path) -> None:
    """An empty ``folder`` (one left by a failed or killed attempt is emptied)."""
    try:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ListsFetchError(
            f"the run's package lists: cannot make {folder}: {err.strerror or err}"
        ) from err
