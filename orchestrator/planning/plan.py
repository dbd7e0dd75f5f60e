"""Plan every node of the graph: a frozen :class:`NodePlan` per node, parents first.

Planning is pure: everything it reads from disk or the network was read by the loading step
into :class:`~orchestrator.model.inputs.PlanInputs`; nothing here opens a file, reads the
environment or runs a command (a unit test plans the full stack with ``open`` patched to fail
and ``sh`` unimportable).

A pipeline of several platforms is planned once per platform (the platform in every key,
its nodes named ``<node>@<arch>``), then each image's manifest list from its platforms'
plans.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx

from orchestrator.model.pipeline import SHARED_NODE
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.model.states import NodeKind
from orchestrator.planning.base import plan_base
from orchestrator.planning.child import plan_child
from orchestrator.planning.graph import order, platform_nodes
from orchestrator.planning.manifest import plan_manifest
from orchestrator.planning.nodeplan import NodePlan, PlanContext
from orchestrator.planning.requirements import plan_requirements, plan_wheel_builder
from orchestrator.planning.service import plan_service
from orchestrator.planning.shared import plan_shared, plan_shared_group


def plan_all(
    resolved: ResolvedPipeline, graph: nx.DiGraph, ctx: PlanContext
) -> dict[str, NodePlan]:
    """Plan every node of ``graph`` in topological order (parents' keys feed children's)."""
    plans: dict[str, NodePlan] = {}
    for platform in resolved.platforms:
        names = platform_nodes(graph, platform.name)
        if not names:
            continue  # a selection without this platform's nodes
        # Planned under the images' names; the plans carry the graph's names.
        chain = nx.relabel_nodes(graph.subgraph(names.values()), {v: k for k, v in names.items()})
        on = replace(ctx, platform=platform, qualified=resolved.multi_platform)
        for plan in _plan_chain(resolved, chain, on).values():
            plans[plan.node] = plan
    for node in order(graph):
        if graph.nodes[node]["kind"] == NodeKind.MANIFEST:
            members = [plans[parent] for parent in graph.predecessors(node)]
            plans[node] = plan_manifest(resolved, node, members, ctx)
    return {node: plans[node] for node in order(graph)}


def _plan_chain(
    resolved: ResolvedPipeline, graph: nx.DiGraph, ctx: PlanContext
) -> dict[str, NodePlan]:
    """The plans of one platform's nodes, by image name."""
    plans: dict[str, NodePlan] = {}
    for node in order(graph):
        kind: NodeKind = graph.nodes[node]["kind"]
        match kind:
            case NodeKind.BASE:
                plans[node] = plan_base(resolved, ctx)
            case NodeKind.BUILDER:
                plans[node] = plan_wheel_builder(resolved, graph, ctx, plans)
            case NodeKind.REQUIREMENTS:
                plans[node] = plan_requirements(resolved, graph, ctx, plans)
            case NodeKind.SHARED if node == SHARED_NODE:
                plans[node] = plan_shared(resolved, graph, ctx, plans)
            case NodeKind.SHARED:
                plans[node] = plan_shared_group(resolved, node, ctx, plans)
            case NodeKind.SERVICE:
                parents = tuple(sorted(graph.predecessors(node)))
                plans[node] = plan_service(resolved, resolved.services[node], ctx, plans, parents)
            case NodeKind.CHILD:
                plans[node] = plan_child(resolved, resolved.children[node], ctx, plans)
    return plans
