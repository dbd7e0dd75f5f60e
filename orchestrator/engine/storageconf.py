"""A build host's image storage under a folder of its own (setting ``storage_root``).

buildah, podman and skopeo read their storage location from ``storage.conf``. A runner made
with the path of one written under the root (:func:`make_storage_root`) sets
``CONTAINERS_STORAGE_CONF`` to it in the environment of every command it starts, never in
orchestrate's own: those commands use ``<root>/graph`` and ``<root>/run``, so one machine can
act as several build hosts (each with its state directory), a CI job can start from empty
storage, and ``orchestrate verify`` can work in two storages at once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from orchestrator.files import write_atomically

ENV = "CONTAINERS_STORAGE_CONF"
DEFAULT_GRAPHROOT = "/var/lib/containers/storage"


def storage_conf(root: Path) -> str:
    """The storage.conf text for a storage under ``root`` (overlay, as the host default)."""
    return (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{root / "graph"}"\n'
        f'runroot = "{root / "run"}"\n'
    )


def conf_path(root: Path) -> Path:
    """The storage.conf of the storage under ``root`` (whether made yet or not)."""
    return root / "storage.conf"


def make_storage_root(root: Path) -> Path:
    """Create image storage under ``root``: the folder and its storage.conf. Returns the
    storage.conf's path, for the runners whose commands are to use that storage."""
    root.mkdir(parents=True, exist_ok=True)
    conf = conf_path(root)
    text = storage_conf(root)
    if not conf.is_file() or conf.read_text(encoding="utf-8") != text:
        write_atomically(conf, text)
    return conf


def environment(conf: Path | None) -> dict[str, str]:
    """What a command's environment needs to use the storage of ``conf`` (None: nothing,
    the command inherits orchestrate's own environment and so the host's storage)."""
    return {ENV: str(conf)} if conf is not None else {}


def graphroot(conf: Path | None) -> str:
    """Where the commands of a runner on ``conf`` store images (None: where the storage.conf
    named in orchestrate's own environment, if any, says)."""
    path = str(conf) if conf is not None else os.environ.get(ENV)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            return DEFAULT_GRAPHROOT
        match = re.search(r'^graphroot\s*=\s*"([^"]+)"', text, re.M)
        if match:
            return match.group(1)
    return DEFAULT_GRAPHROOT
