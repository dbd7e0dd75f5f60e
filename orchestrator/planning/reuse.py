"""Build or reuse: the decision for one node, and the reason given for it.

A node is reused when an image in local storage carries its key label, or when the registry
has its key tag (a manifest lookup: nothing is downloaded unless a child of this run is built
on it, then it is pulled by digest); otherwise it is built,
and the reason names what changed: the inputs of the repository's last recorded build are
compared with the plan's, input by input (``dist_packages +less``, ``parent requirements``,
``source pypi:keystone==29.0.0 -> pypi:keystone==29.1.0``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from orchestrator.engine.naming import repository_of
from orchestrator.model.platforms import named_in
from orchestrator.model.states import NodeKind
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

    def last_build(
        self, repository: str, like: Mapping[str, str] | None = None
    ) -> LastBuild | None: ...


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Whether a node's image is reused (from local storage or the registry), and why (or
    why it is built).

    ``remote_digest`` is the digest of the node's key tag in the registry when it is there
    (a built node pushes it; a reused one pushes only when it is missing). ``pull`` says a
    registry image must come down because a node of this run builds on it.
    """

    reuse: bool
    why: str
    where: str = "local"  # local | registry
    pull: bool = False
    remote_digest: str = ""
    remote_size: int = 0

    @property
    def action(self) -> str:
        if not self.reuse:
            return "build"
        if self.where == "registry":
            return "pull" if self.pull else "reuse (registry)"
        return "reuse"


# Looks a key tag up in the registry: (digest, size of its layers), or None if it is absent.
RemoteLookup = Callable[[str], "tuple[str, int] | None"]


def decide(
    plan: NodePlan,
    *,
    image_key: Callable[[str], str | None],
    history: BuildHistory | None,
    no_cache: bool = False,
    no_cache_for: frozenset[str] = frozenset(),
    remote: RemoteLookup | None = None,
) -> Decision:
    """Reuse ``plan``'s image if local storage has one with its key, else if the registry
    has its key tag (``remote``), else say why it builds.

    ``image_key`` returns the key label of a local image (None if there is no such image).
    """
    if no_cache:
        return Decision(reuse=False, why="--no-cache")
    if named_in(plan.node, no_cache_for):
        return Decision(reuse=False, why="--no-cache-for")
    found = remote(plan.remote_key) if remote is not None and plan.remote_key else None
    digest, size = found if found else ("", 0)
    if image_key(plan.image) == plan.key:
        return Decision(reuse=True, why="cache key matches", remote_digest=digest, remote_size=size)
    if found:
        return Decision(
            reuse=True,
            why=f"key tag in the registry ({plan.remote_key})",
            where="registry",
            remote_digest=digest,
            remote_size=size,
        )
    return Decision(reuse=False, why=why_build(plan, history))


def decide_all(
    plans: Mapping[str, NodePlan],
    children: Mapping[str, Sequence[str]],
    decide_one: Callable[[NodePlan], Decision],
) -> dict[str, Decision]:
    """Every node's decision; a node reused from the registry is pulled (by digest) when one
    of its children in this run is built on it, or when a node built in this run fetches its
    package lists in a container of it (the base, a grandparent: ListsFetch), and left there
    otherwise."""
    decisions = {node: decide_one(plan) for node, plan in plans.items()}
    for node, plan in plans.items():
        built = [p for p in plan.parents if p in decisions and not decisions[p].reuse]
        if plan.kind == NodeKind.MANIFEST and decisions[node].reuse and built:
            # The list names its members' digests: a rebuilt member is listed anew.
            decisions[node] = Decision(
                reuse=False, why=f"a platform's image is built: {', '.join(sorted(built))}"
            )
    lists_from = {
        step.lists.node
        for node, plan in plans.items()
        if not decisions[node].reuse
        for step in plan.steps
        if step.lists is not None
    }
    for node, decision in decisions.items():
        if decision.where != "registry":
            continue
        if any(
            not decisions[child].reuse for child in children.get(node, ()) if child in decisions
        ):
            decisions[node] = replace(
                decision, pull=True, why=f"{decision.why}, pulled: a child is built on it"
            )
        elif node in lists_from:
            decisions[node] = replace(
                decision,
                pull=True,
                why=f"{decision.why}, pulled: a node built reads the package lists in it",
            )
    return decisions


def why_build(plan: NodePlan, history: BuildHistory | None) -> str:
    """What changed since the repository's last recorded build."""
    # The last build of the same platform (or of a manifest list), else of the repository.
    like = {name: plan.inputs[name] for name in ("platform", "kind") if name in plan.inputs}
    last = history.last_build(repository_of(plan.image), like) if history is not None else None
    if last is None:
        return "no earlier build"
    if last.key == plan.key:
        return f"the image built in run {last.run_id} is no longer in local storage"
    kind, last_kind = plan.inputs.get("kind"), last.inputs.get("kind")
    if kind != last_kind and NodeKind.MANIFEST in (kind, last_kind):
        # An image's and a list's inputs have nothing to compare.
        return (
            f"no earlier {kind} build (the repository's last was a {last_kind}, run {last.run_id})"
        )
    changes = changed_inputs(last.inputs, plan.inputs, plan.deb_suites)
    return f"changed since run {last.run_id}: {'; '.join(changes) or 'key scheme'}"


def changed_inputs(
    old: Mapping[str, str], new: Mapping[str, str], suites: Mapping[str, str] | None = None
) -> list[str]:
    """One short phrase per input that differs, in name order (``suites``: the suite of each
    package of the new ``archive`` input)."""
    out = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name == "archive" and before is not None and after is not None:
            out.append(describe_archive(before, after, suites or {}))
        else:
            out.append(_describe(name, before, after))
    return out


_ARCHIVE_SHOWN = 3


def describe_archive(before: str, after: str, suites: Mapping[str, str]) -> str:
    """``archive libssl3 3.0.17-1~deb12u2 -> 3.0.17-1~deb12u3 in bookworm-security``: the
    packages whose version changed (then those added and gone), the first few by name."""
    old, new = _versions(before), _versions(after)
    items = [
        f"{name} {old[name]} -> {new[name]}" + (f" in {suites[name]}" if name in suites else "")
        for name in sorted(set(old) & set(new))
        if old[name] != new[name]
    ]
    items += [f"+{name} {new[name]}" for name in sorted(set(new) - set(old))]
    items += [f"-{name}" for name in sorted(set(old) - set(new))]
    shown = ", ".join(items[:_ARCHIVE_SHOWN])
    more = len(items) - _ARCHIVE_SHOWN
    return f"archive {shown}" + (f" and {more} more" if more > 0 else "")


def _versions(lines: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines.split("\n") if "=" in line)


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
