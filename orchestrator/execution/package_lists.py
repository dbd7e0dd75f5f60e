"""The run's Debian package lists, fetched once for every node that installs packages.

Each node's install-packages step used to run ``apt-get update`` in its own container: 1.6 to
1.8 CPU-s a node to fetch and parse the same 9.4 MB of lists. The plan now names, for those
steps, a :class:`~orchestrator.planning.nodeplan.ListsFetch`: ``apt-get update`` in a
throwaway container of the base image, into a folder of the run. The first step that needs
a folder fetches it (its steps run in a build slot like any other); steps that need it
meanwhile wait for it; every step then mounts it read-only. Only that container, which runs
Debian's apt and nothing of a project's, ever writes the folder.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from orchestrator.planning.nodeplan import ListsFetch, Step


class PackageLists:
    """The folders of package lists a run fetched; thread-safe."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._fetched: set[Path] = set()
        self._made: set[Path] = set()

    def ensure(
        self,
        fetch: ListsFetch,
        run: Callable[[tuple[Step, ...]], None],
        remove_container: Callable[[], None],
    ) -> bool:
        """Fetch ``fetch.folder`` with ``run(fetch.steps)`` unless this run did already;
        True when this call fetched it. A failed fetch removes its container and raises what
        ``run`` raised; the next step that needs the folder tries again."""
        with self._guard:
            lock = self._locks.setdefault(fetch.folder, threading.Lock())
        with lock:
            if fetch.folder in self._fetched:
                return False
            # A folder left by a killed attempt of this run is fetched afresh.
            shutil.rmtree(fetch.folder, ignore_errors=True)
            fetch.folder.mkdir(parents=True)
            with self._guard:
                self._made.add(fetch.folder)
            try:
                run(fetch.steps)
            except BaseException:
                remove_container()
                raise
            with self._guard:
                self._fetched.add(fetch.folder)
            return True

    def remove_all(self) -> None:
        """Delete every folder this run fetched (called once the run's nodes are done)."""
        with self._guard:
            made, self._made = set(self._made), set()
            self._fetched.clear()
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
