"""Lines for people: a node's plan (``orchestrate plan``) and a pipeline's nodes
(``orchestrate list``)."""

from __future__ import annotations

import networkx as nx

from orchestrator.model.pipeline import BUILDER_NODE, REQUIREMENTS_NODE, SHARED_NODE
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.planning.graph import order
from orchestrator.planning.nodeplan import NodePlan


def describe_plan(plan: NodePlan) -> list[str]:
    """Human-readable lines: key, image, parents, tags, files written and every command."""
    lines = [
        f"== {plan.node} ({plan.kind.value})",
        f"   key:     {plan.key}",
        f"   image:   {plan.image}",
    ]
    if plan.parents:
        lines.append(f"   after:   {', '.join(plan.parents)}")
    if plan.tags:
        lines.append(f"   tags:    {', '.join(plan.tags)}")
    for generated in plan.files:
        shown = (
            "(network settings; not shown)"
            if generated.secret
            else f"({len(generated.content.splitlines())} lines)"
        )
        lines.append(f"   writes:  {generated.path} {shown}")
    for package, origin in plan.origins:
        lines.append(f"   bindep:  {package} <- {origin}")
    for index, step in enumerate((*plan.steps, *plan.push, *plan.release), start=1):
        if step.lists is not None:
            lines.append(
                f"       (the run's package lists, in {step.lists.folder}: fetched once per run"
                " by the first node that needs them, with)"
            )
            lines += [f"       - [{fetch.name}] {fetch.display()}" for fetch in step.lists.steps]
        lines.append(f"   {index:2d}. [{step.name}] {step.display()}")
    return lines


def describe_nodes(resolved: ResolvedPipeline, graph: nx.DiGraph) -> list[str]:
    """One line per node of ``graph``, in build order: its name, kind and what it is (a
    service's project, source and profiles; the wheels' scope; a child's parent; the base)."""
    lines = []
    width = max(15, *(len(str(node)) for node in graph))
    for node in order(graph):
        kind = graph.nodes[node]["kind"].value
        image = str(graph.nodes[node]["image"])  # keystone@arm64's and the list's: keystone
        platform = graph.nodes[node]["platform"]
        detail = _what(resolved, image)
        if resolved.multi_platform:
            detail = f"{platform}: {detail}" if platform else f"manifest list: {detail}"
        lines.append(f"{node:<{width}} {kind:<13} {detail}")
    return lines


def _what(resolved: ResolvedPipeline, image: str) -> str:
    service = resolved.services.get(image)
    if service is not None:
        what = (
            f"{service.project.pypi} from {service.source.describe()}; profiles: "
            f"{', '.join(service.profiles) or '-'}"
        )
        if service.project.implicit:
            what += f"; not in the catalog: defaults (user {service.user}, uid {service.uid})"
        return what
    if image == REQUIREMENTS_NODE:
        return f"wheels ({resolved.pipeline.requirements.scope})"
    if image == BUILDER_NODE:
        return "compilers, -dev packages and the builder venv of the wheels"
    if image == SHARED_NODE:
        return "what two services or more install (layering: shared)"
    if image in resolved.pipeline.shared_nodes:
        members = ", ".join(resolved.pipeline.shared_nodes[image])
        return f"distro packages two or more of {members} install"
    if image in resolved.children:
        return f"FROM {resolved.children[image].parent}"
    base = resolved.pipeline.base
    return base.image if base.kind == "image" else f"mmdebstrap {base.suite}"
