"""A build host's image storage under a folder of its own (setting ``storage_root``).

buildah, podman and skopeo read their storage location from ``storage.conf``; pointing
``CONTAINERS_STORAGE_CONF`` at one written under the root makes every command orchestrate
starts use ``<root>/graph`` and ``<root>/run``, so one machine can act as several build hosts
(each with its state directory) and a CI job can start from empty storage.
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


def use_storage_root(root: Path) -> None:
    """Make every container tool orchestrate starts from now on use storage under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "storage.conf"
    text = storage_conf(root)
    if not conf.is_file() or conf.read_text(encoding="utf-8") != text:
        write_atomically(conf, text)
    os.environ[ENV] = str(conf)


def graphroot() -> str:
    """Where images are stored for the commands orchestrate starts."""
    conf = os.environ.get(ENV)
    if conf:
        try:
            text = Path(conf).read_text(encoding="utf-8")
        except OSError:
            return DEFAULT_GRAPHROOT
        match = re.search(r'^graphroot\s*=\s*"([^"]+)"', text, re.M)
        if match:
            return match.group(1)
    return DEFAULT_GRAPHROOT
