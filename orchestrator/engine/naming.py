"""Names orchestrate gives what it makes: run ids, working and check containers, candidate
images, and the label that carries a node's key. The dead-run cleanup finds leftovers by these
names, so they are made and matched only here. Pure: no process, no file."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

KEY_LABEL = "io.orchestrate.key"
CONTAINER_PREFIX = "orch-"
_RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{4}"
RUN_ID_RE = re.compile(rf"^{_RUN_ID}$")
CONTAINER_RE = re.compile(rf"^{CONTAINER_PREFIX}(?P<run>{_RUN_ID})-")
CANDIDATE_RE = re.compile(rf":candidate-(?P<run>{_RUN_ID})(-[a-z0-9]+)?$")


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id such as ``20261126-154012-a1b2``."""
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def container_name(run_id: str, node: str) -> str:
    """The working container a node's steps run in (``keystone@arm64``'s: ``...-keystone.arm64``:
    container names take no ``@``)."""
    return f"{CONTAINER_PREFIX}{run_id}-{node.replace('@', '.')}"


def check_container_name(run_id: str, node: str) -> str:
    """The throwaway container a committed image is checked in."""
    return f"{container_name(run_id, node)}-smoke"


def candidate_name(repository: str, run_id: str, variant: str = "") -> str:
    """The name a commit gets until its checks pass; ``variant`` tells apart the candidates
    of one repository in one run (``arm64``, ``list``: each platform's image, and the list)."""
    return f"{repository}:candidate-{run_id}{f'-{variant}' if variant else ''}"


def repository_of(image: str) -> str:
    """``localhost/openstack/keystone:abc`` (or ``...@sha256:...``) ->
    ``localhost/openstack/keystone``."""
    image = image.split("@", 1)[0]
    name, _, tag = image.rpartition(":")
    return name if name and "/" not in tag else image


def in_a_registry(ref: str) -> bool:
    """Whether ``ref`` names an image in a registry (``reg.example:5000/ns/x:tag``: a first
    component with a dot or a port), not one of local storage's (``localhost/ns/x``, or a
    short name). Commands that read an image's documents ask the registry for the one and
    local storage for the other, so a pulled copy never stands in for what was published."""
    first, slash, _ = ref.partition("/")
    return bool(slash) and first != "localhost" and ("." in first or ":" in first)


def run_of(name: str) -> str | None:
    """The run id in a working container's or candidate image's name, or None."""
    match = CONTAINER_RE.search(name) or CANDIDATE_RE.search(name)
    return match.group("run") if match else None
