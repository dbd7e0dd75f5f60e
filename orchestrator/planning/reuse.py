"""Build or reuse: the decision for one node, and the reason given for it.

A node is reused when an image in local storage carries its key label; otherwise it is built,
and the reason names what changed: the inputs of the repository's last recorded build are
compared with the plan's, input by input (``dist_packages +less``, ``parent requirements``,
``source pypi:keystone==29.0.0 -> pypi:keystone==29.1.0``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from orchestrator.engine.buildah import repository_of
from orchestrator.planning.nodeplan import NodePlan

_SHORT = 60


class LastBuild(Protocol):
    """What is known of a repository's last build (a history row)."""

    @property
    def key(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def inputs(self) -> Mapping[str, str]: ...


class BuildHistory(Protocol):
    """Where past builds are looked up (:class:`orchestrator.records.history.History`)."""

    def last_build(self, repository: str) -> LastBuild | None: ...


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Whether a node's image is reused, and why (or why it is built)."""

    reuse: bool
    why: str

    @property
    def action(self) -> str:
        return "reuse" if self.reuse else "build"


def decide(
    plan: NodePlan,
    *,
    image_key: Callable[[str], str | None],
    history: BuildHistory | None,
    no_cache: bool = False,
    no_cache_for: frozenset[str] = frozenset(),
) -> Decision:
    """Reuse ``plan``'s image if local storage has one with its key, else say why it builds.

    ``image_key`` returns the key label of a local image (None if there is no such image).
    """
    if no_cache:
        return Decision(reuse=False, why="--no-cache")
    if plan.node in no_cache_for:
        return Decision(reuse=False, why="--no-cache-for")
    if image_key(plan.image) == plan.key:
        return Decision(reuse=True, why="cache key matches")
    return Decision(reuse=False, why=why_build(plan, history))


def why_build(plan: NodePlan, history: BuildHistory | None) -> str:
    """What changed since the repository's last recorded build."""
    last = history.last_build(repository_of(plan.image)) if history is not None else None
    if last is None:
        return "no earlier build"
    if last.key == plan.key:
        return f"the image built in run {last.run_id} is no longer in local storage"
    changes = changed_inputs(last.inputs, plan.inputs)
    return f"changed since run {last.run_id}: {'; '.join(changes) or 'key scheme'}"


def changed_inputs(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """One short phrase per input that differs, in name order."""
    out = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        out.append(_describe(name, before, after))
    return out


def _describe(name: str, before: str | None, after: str | None) -> str:
    if name.startswith("parent:"):
        return f"parent {name.removeprefix('parent:')}"
    if before is None:
        return f"{name} (new)"
    if after is None:
        return f"{name} (gone)"
    if "\n" in before or "\n" in after or name.endswith("packages") or name == "profiles":
        old_items, new_items = set(before.split("\n")) - {""}, set(after.split("\n")) - {""}
        items = [f"+{i}" for i in sorted(new_items - old_items)]
        items += [f"-{i}" for i in sorted(old_items - new_items)]
        if items and sum(len(i) for i in items) <= _SHORT:
            return f"{name} {' '.join(items)}"
        return name
    if len(before) <= _SHORT and len(after) <= _SHORT:
        return f"{name} {before} -> {after}"
    if name == "source" and " " in before and " " in after:
        return f"source {before.split()[0]} -> {after.split()[0]}"
    return name
