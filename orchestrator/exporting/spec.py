"""What every export shares: the graph to export as one frozen :class:`ExportSpec`, the names
each engine gives its jobs, and the YAML writer.

An exported job runs ``orchestrate build PIPELINE --only NODE --push --no-promote`` in a
checkout of the repository (with ``--no-gate`` when the pipeline has a gate); for a pipeline
with ``gate:`` checks, a gate job after every node's job runs ``orchestrate gate PIPELINE``
on the images the node jobs pushed; the promote job, after it (or after the node jobs), runs
``orchestrate promote PIPELINE`` with the selection the export was given. Every setting
reaches orchestrate as an ``ORCHESTRATE_*`` variable the engine sets from its own parameters
and secrets, so no credential is ever written into an export.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import networkx as nx
import yaml

from orchestrator.errors import ConfigError
from orchestrator.model.references import prefix_problem, tag_problem
from orchestrator.model.request import Selection
from orchestrator.planning.graph import order

# The image the jobs run in when --job-image is not given and no registry is known.
LOCAL_JOB_IMAGE = "localhost/orchestrate/orchestrate:latest"
PROMOTE = "promote"
GATE = "gate"
# Kubernetes object and DAG task names: an RFC 1123 label.
K8S_NAME_MAX = 63
# Text the engines would substitute before a shell sees it: Tekton's $(params.x), Argo's and
# Ansible's {{ x }}. Paths and patterns written into an export may not hold it.
_SUBSTITUTED = re.compile(r"\$\(|\{\{|\}\}|\{%")
_PATH_RE = re.compile(r"^[A-Za-z0-9._/-]+$")
# Runs `orchestrate` from PATH (the job image), else the checkout's .venv (./setup-host), else
# the package from the checkout: so a job also works on a host where it is not installed.
LAUNCHER = (
    'orchestrate_cli() { if command -v orchestrate >/dev/null 2>&1; then orchestrate "$@"; '
    'elif [ -x .venv/bin/orchestrate ]; then .venv/bin/orchestrate "$@"; '
    'else python3 -m orchestrator "$@"; fi; }'
)


@dataclass(frozen=True, kw_only=True)
class ExportSpec:
    """The graph to export and how its jobs run.

    ``pipeline`` is the pipeline file relative to the repository root, as the jobs see it;
    ``nodes`` are in topological order, ``edges`` are (parent, child) pairs; ``selection`` is
    the selection flags the export was given, repeated to ``orchestrate promote``; ``common``
    the flags every command repeats (``--profiles-dir``). ``registry`` is the default of the
    engine's registry parameter ('' when none is known) and ``tls_verify`` that of TLS
    verification. ``gate``: the pipeline has gate checks, run by a job between the node jobs
    and the promote job.
    """

    pipeline: str
    name: str
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    job_image: str
    registry: str = ""
    tls_verify: bool = True
    selection: tuple[str, ...] = ()
    common: tuple[str, ...] = ()
    gate: bool = False

    def parents(self, node: str) -> tuple[str, ...]:
        """The nodes ``node`` is built on, in topological order."""
        parents = {a for a, b in self.edges if b == node}
        return tuple(n for n in self.nodes if n in parents)

    def build_args(self, node: str) -> tuple[str, ...]:
        """The arguments of ``orchestrate`` in the job that builds ``node``."""
        # The release tags are the promote job's, once every node job (and the gate job)
        # succeeded.
        held = ("--no-gate",) if self.gate else ()
        return (
            "build", self.pipeline, "--only", node, "--push", "--no-promote", *held, *self.common
        )  # fmt: skip

    def gate_args(self) -> tuple[str, ...]:
        """The arguments of ``orchestrate`` in the gate job."""
        return ("gate", self.pipeline, *self.selection, *self.common)

    def promote_after(self, node_jobs: list[str]) -> list[str]:
        """The jobs the promote job waits for: the gate job, else every node's job."""
        return [GATE] if self.gate else node_jobs

    def promote_args(self) -> tuple[str, ...]:
        """The arguments of ``orchestrate`` in the promote job."""
        return ("promote", self.pipeline, *self.selection, *self.common)


def from_graph(
    graph: nx.DiGraph,
    *,
    pipeline: str,
    name: str,
    job_image: str | None,
    registry: str,
    tls_verify: bool,
    selection: Selection,
    profiles_dir: str | None = None,
    gate: bool = False,
) -> ExportSpec:
    """The export of ``graph`` (already restricted to the selection).

    Raises:
        ConfigError: the pipeline or profiles folder is not a plain path inside the checkout,
            the job image is no image reference, or a pattern holds text an engine would
            substitute.
    """
    pipeline = checkout_path("PIPELINE", pipeline)
    common: tuple[str, ...] = ()
    if profiles_dir is not None:
        common = ("--profiles-dir", checkout_path("--profiles-dir", profiles_dir))
    image = job_image if job_image is not None else default_job_image(registry)
    problem = image_problem(image)
    if problem:
        raise ConfigError("--job-image", "", problem)
    return ExportSpec(
        pipeline=pipeline,
        name=name,
        nodes=tuple(order(graph)),
        edges=tuple(sorted((str(a), str(b)) for a, b in graph.edges)),
        job_image=image,
        registry=registry.rstrip("/"),
        tls_verify=tls_verify,
        selection=selection_flags(selection),
        common=common,
        gate=gate,
    )


def default_job_image(registry: str) -> str:
    """``<registry>/orchestrate:latest``, or the local name when no registry is known."""
    return f"{registry.rstrip('/')}/orchestrate:latest" if registry else LOCAL_JOB_IMAGE


def selection_flags(selection: Selection) -> tuple[str, ...]:
    """The flags that make ``selection`` again, e.g. ``("--only", "keystone,nova")``.

    Raises:
        ConfigError: the --match pattern holds text an engine would substitute.
    """
    flags: list[str] = []
    if selection.only:
        flags += ["--only", ",".join(selection.only)]
    if selection.skip:
        flags += ["--skip", ",".join(selection.skip)]
    if selection.match is not None:
        if _SUBSTITUTED.search(selection.match) or "\n" in selection.match:
            raise ConfigError(
                "--match",
                "",
                f"{selection.match!r} holds '$(', '{{{{', '}}}}', '{{%' or a line break, which "
                "CI engines substitute; export with --only instead",
            )
        flags += ["--match", selection.match]
    return tuple(flags)


def checkout_path(option: str, text: str) -> str:
    """``text`` as a relative POSIX path inside the checkout the jobs run in.

    Raises:
        ConfigError: it is absolute, climbs out with '..', or holds characters other than
            letters, digits, '.', '_', '-' and '/'.
    """
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts:
        raise ConfigError(
            option,
            "",
            f"{text} is not inside the repository: the jobs run in a checkout of it, so give "
            "the path relative to the repository root (and run export from there)",
        )
    if not _PATH_RE.match(text) or str(path) == ".":
        raise ConfigError(
            option, "", f"{text!r}: use a path of letters, digits, '.', '_', '-' and '/'"
        )
    return str(path)


def image_problem(reference: str) -> str | None:
    """Why ``reference`` is no image reference (``name[:tag][@digest]``), or None."""
    name, _, digest = reference.partition("@")
    if digest and not re.fullmatch(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}", digest):
        return f"{reference!r}: {digest!r} is not a digest (sha256:<hex>)"
    tag = ""
    head, sep, tail = name.rpartition(":")
    if sep and "/" not in tail:
        name, tag = head, tail
    problem = prefix_problem(name) if name else "no image name"
    if problem is None and tag:
        problem = tag_problem(tag)
    return f"{reference!r} is not an image reference: {problem}" if problem else None


def k8s_name(text: str, limit: int = K8S_NAME_MAX) -> str:
    """``text`` as a lower-case RFC 1123 label of at most ``limit`` characters.

    Every run of other characters becomes one '-'; a name too long is cut and ends with 8
    hex digits of the sha256 of ``text``, so different long names stay different.
    """
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
    if len(name) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        name = f"{name[: limit - 9].rstrip('-')}-{digest}"
    return name


def unique_names(
    names: Mapping[str, str], *, reserved: Iterable[str], what: str, source: str, rule: str = ""
) -> dict[str, str]:
    """``names`` (node -> job name) after checking no two nodes, and no node and a reserved
    job (the promote job), share a job name.

    Raises:
        ConfigError: naming both nodes, the job name, ``what`` the engine names and the
            ``rule`` its names follow.
    """
    owner: dict[str, str] = {name: f"the {name} job" for name in reserved}
    for node, name in names.items():
        if name in owner:
            raise ConfigError(
                source,
                "",
                f"{owner[name]} and node {node!r} would both be the {what} {name!r}"
                f"{f' ({rule})' if rule else ''}: rename the node",
            )
        owner[name] = f"node {node!r}"
    return dict(names)


def k8s_task_names(spec: ExportSpec, what: str) -> dict[str, str]:
    """Node -> Kubernetes task name (an RFC 1123 label), for Tekton's and Argo's tasks.

    Raises:
        ConfigError: two nodes, or a node and the promote task, would share a name.
    """
    return unique_names(
        {node: k8s_name(node) for node in spec.nodes},
        reserved=(PROMOTE, GATE),
        what=what,
        rule="its names are lower-case letters, digits and '-', at most 63",
        source=spec.pipeline,
    )


class _Dumper(yaml.SafeDumper):
    """The safe dumper without anchors and with multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, *, header: str = "") -> str:
    """YAML text of ``data`` (keys in the order given), after ``header`` as comment lines."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    # Wide lines: a long command stays on one line instead of being folded.
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096)
    return comment + body


def generated_by(fmt: str, spec: ExportSpec) -> str:
    """The header every export starts with."""
    args = " ".join([spec.pipeline, *spec.selection, *spec.common])
    return (
        f"Written by `orchestrate export --format {fmt} {args}`.\n"
        "Export again rather than edit: the jobs follow the pipeline's graph."
    )
