"""The image DAG: base → wheel-builder → requirements → openstack-base (→ shared nodes) →
services (→ plugins, children), as a networkx DiGraph.

Nodes carry a ``kind`` attribute (base, builder, requirements, shared, service, child). The
wheel-builder node (compilers, -dev packages, the builder venv) is there when the wheels are
built here, not taken from an image or an index. The shared
node (``layering: shared``, the default, with two services or more) holds what the services
have in common; a pipeline's ``shared_nodes`` add, under it, one node per group of services
(the storage services' ceph-common and qemu-utils); with ``layering: flat`` each service
starts from the base. A pipeline of several platforms has that graph once per platform, its
nodes named ``<node>@<arch>``, and one ``manifest`` node per image, named as the image,
after its platforms' nodes: one platform's failure stops no other's chain. Selections pull in
ancestors (a service cannot be built without its parents) and ``--skip`` drops a node with
everything that depends on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import networkx as nx

from orchestrator.errors import GraphError
from orchestrator.model.options import split_names
from orchestrator.model.pipeline import BASE_NODE, BUILDER_NODE, REQUIREMENTS_NODE, SHARED_NODE
from orchestrator.model.platforms import EMULATION_COST
from orchestrator.model.request import Selection
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.model.states import NodeKind


def build_graph(resolved: ResolvedPipeline) -> nx.DiGraph:
    """Build and check the image graph of a resolved pipeline, for each of its platforms.

    Every node carries ``kind``, ``image`` (the image it makes: ``keystone`` for
    ``keystone@arm64``), ``platform`` ("" for a manifest list) and ``cost`` (1 for a native
    node, :data:`EMULATION_COST` for an emulated one, 0 for a manifest list).

    Raises:
        GraphError: a plugin or child names a parent that does not exist, or the graph has a
            cycle (the message lists it).
    """
    one = _image_graph(resolved)
    several = resolved.multi_platform
    graph = nx.DiGraph()
    for platform in resolved.platforms:
        names = {node: f"{node}{platform.suffix}" if several else node for node in one}
        chain = nx.relabel_nodes(one, names, copy=True)
        cost = EMULATION_COST if resolved.emulated(platform) else 1.0
        for node, name in names.items():
            chain.nodes[name].update(image=node, platform=platform.name, cost=cost)
        graph.update(chain)
    if several:
        for node in order(one):
            graph.add_node(node, kind=NodeKind.MANIFEST, image=node, platform="", cost=0.0)
            for platform in resolved.platforms:
                graph.add_edge(f"{node}{platform.suffix}", node)
    return graph


def _image_graph(resolved: ResolvedPipeline) -> nx.DiGraph:
    """The graph of one platform, nodes named as their images."""
    graph = nx.DiGraph()
    graph.add_node(BASE_NODE, kind=NodeKind.BASE)
    graph.add_node(REQUIREMENTS_NODE, kind=NodeKind.REQUIREMENTS)
    if builds_wheels(resolved):
        graph.add_node(BUILDER_NODE, kind=NodeKind.BUILDER)
        graph.add_edge(BASE_NODE, BUILDER_NODE)
        graph.add_edge(BUILDER_NODE, REQUIREMENTS_NODE)
    else:
        graph.add_edge(BASE_NODE, REQUIREMENTS_NODE)
    root = BASE_NODE
    # The node each service starts from (plugins: their parent service).
    roots: dict[str, str] = {}
    if has_shared_node(resolved):
        # Its distro packages are installed while the wheels image is built; its Python
        # distributions need the wheels.
        graph.add_node(SHARED_NODE, kind=NodeKind.SHARED)
        graph.add_edge(BASE_NODE, SHARED_NODE)
        graph.add_edge(REQUIREMENTS_NODE, SHARED_NODE, late=True)
        root = SHARED_NODE
        for group, members in resolved.pipeline.shared_nodes.items():
            graph.add_node(group, kind=NodeKind.SHARED)
            graph.add_edge(SHARED_NODE, group)
            roots.update(dict.fromkeys(members, group))
    for name in resolved.services:
        graph.add_node(name, kind=NodeKind.SERVICE)
    for name, service in resolved.services.items():
        # The wheels are needed from the first install step on, not to start: the service's
        # distro packages and user are set up while the wheels image is being built.
        graph.add_edge(REQUIREMENTS_NODE, name, late=True)
        if service.plugin:
            _check_parent(resolved, graph, name, service.parent, "images")
            graph.add_edge(service.parent, name)
        else:
            graph.add_edge(roots.get(name, root), name)
    for name in resolved.children:
        graph.add_node(name, kind=NodeKind.CHILD)
    for name, child in resolved.children.items():
        _check_parent(resolved, graph, name, child.parent, "children")
        graph.add_edge(child.parent, name)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    path = " -> ".join([str(edge[0]) for edge in cycle] + [str(cycle[0][0])])
    raise GraphError(f"{resolved.pipeline.path}: the image graph has a cycle: {path}")


def builds_wheels(resolved: ResolvedPipeline) -> bool:
    """The wheels image is built here (``requirements.image`` takes one built elsewhere,
    ``requirements.index`` fetches published wheels: neither needs a build environment)."""
    spec = resolved.pipeline.requirements
    return not spec.image and not spec.index


def has_shared_node(resolved: ResolvedPipeline) -> bool:
    """``layering: shared`` and two services or more that start from the base (plugins
    start from their parent service): only then is there something to share."""
    services = [s for s in resolved.services.values() if not s.plugin]
    return resolved.pipeline.layering == "shared" and len(services) >= 2


def _check_parent(
    resolved: ResolvedPipeline, graph: nx.DiGraph, name: str, parent: str, section: str
) -> None:
    if parent not in graph:
        raise GraphError(
            f"{resolved.pipeline.path}: {section}.{name}: parent {parent!r} is not a node of "
            f"this pipeline (nodes: {', '.join(sorted(graph.nodes))})"
        )


def select(
    graph: nx.DiGraph,
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    match: str | None = None,
) -> nx.DiGraph:
    """Return the subgraph to build.

    Args:
        graph: the full image graph.
        only: node names (comma-separated allowed); these and their ancestors are kept.
        skip: node names; these and their descendants are dropped (an image's name, of a
            pipeline of several platforms: on every platform).
        match: a regular expression; nodes whose name it matches (re.search) and their
            ancestors are kept, as with ``only``.

    Raises:
        GraphError: a name is not a node, the pattern is invalid or matches nothing, or the
            selection is empty.
    """
    only_names = split_names(only)
    skip_names = split_names(skip)
    for name in (*only_names, *skip_names):
        if name not in graph:
            raise GraphError(f"unknown node {name!r} (nodes: {', '.join(sorted(graph.nodes))})")
    wanted: set[str] = set(only_names)
    if match is not None:
        try:
            pattern = re.compile(match)
        except re.error as exc:
            raise GraphError(f"--match {match!r}: invalid regular expression: {exc}") from None
        matched = {n for n in graph if pattern.search(n)}
        if not matched:
            raise GraphError(f"--match {match!r} matches no node")
        wanted |= matched
    keep = set(graph.nodes)
    if wanted:
        keep = set(wanted)
        for name in wanted:
            keep |= nx.ancestors(graph, name)
    for name in skip_names:
        # An image's name skips it on every platform (its list and the nodes it lists).
        listed = graph.nodes[name]["kind"] == NodeKind.MANIFEST
        for node in {name, *(graph.predecessors(name) if listed else ())}:
            keep -= {node} | nx.descendants(graph, node)
    if not keep:
        raise GraphError("the selection leaves no node to build")
    return graph.subgraph(keep).copy()


def graph_for(resolved: ResolvedPipeline, selection: Selection | None = None) -> nx.DiGraph:
    """The checked image graph of ``resolved``, restricted to ``selection``."""
    graph = build_graph(resolved)
    if selection is None:
        return graph
    return select(graph, only=selection.only, skip=selection.skip, match=selection.match)


def dependents_of(graph: nx.DiGraph) -> dict[str, int]:
    """The work that waits on each node: its own cost and that of every node after it,
    directly or not (an emulated node counts :data:`EMULATION_COST` times). The build slots
    and the scheduler serve the node with more first: the arm64 chain, the long pole of a
    two-platform run, before native work that can fill the gaps."""

    def cost(node: str) -> float:
        return float(graph.nodes[node].get("cost", 1.0))

    return {
        str(node): round(cost(node) + sum(cost(after) for after in nx.descendants(graph, node)))
        for node in graph
    }


def platform_nodes(graph: nx.DiGraph, platform: str) -> dict[str, str]:
    """{image name: node name} of the nodes of one platform (``linux/arm64``)."""
    return {
        str(graph.nodes[node]["image"]): str(node)
        for node in graph
        if graph.nodes[node].get("platform") == platform
    }


def order(graph: nx.DiGraph) -> list[str]:
    """Nodes in a stable topological order (ties broken by name)."""
    return list(nx.lexicographical_topological_sort(graph))


def render(graph: nx.DiGraph, fmt: str) -> str:
    """Render the graph as ``text``, ``dot``, ``mermaid`` or ``json``."""
    nodes = order(graph)
    edges = sorted(graph.edges)
    match fmt:
        case "json":
            data = {
                "nodes": [
                    {
                        "name": n,
                        "kind": graph.nodes[n]["kind"].value,
                        "image": graph.nodes[n].get("image", n),
                        "platform": graph.nodes[n].get("platform", ""),
                        "parents": sorted(graph.predecessors(n)),
                    }
                    for n in nodes
                ],
                "edges": [
                    {"from": a, "to": b, "late": bool(graph.edges[a, b].get("late"))}
                    for a, b in edges
                ],
            }
            return json.dumps(data, indent=2)
        case "dot":
            lines = ["digraph orchestrate {", "  rankdir=LR;"]
            lines += [f'  "{n}" [label="{n}\\n({graph.nodes[n]["kind"].value})"];' for n in nodes]
            lines += [
                f'  "{a}" -> "{b}"{" [style=dashed]" if graph.edges[a, b].get("late") else ""};'
                for a, b in edges
            ]
            return "\n".join([*lines, "}"])
        case "mermaid":
            lines = ["graph LR"]
            lines += [f'  {_mermaid_id(n)}["{n}"]' for n in nodes]
            lines += [
                f"  {_mermaid_id(a)} {'-.->' if graph.edges[a, b].get('late') else '-->'} "
                f"{_mermaid_id(b)}"
                for a, b in edges
            ]
            return "\n".join(lines)
        case "text":
            lines = []
            for n in nodes:
                parents = sorted(graph.predecessors(n))
                after = f"  <- {', '.join(parents)}" if parents else ""
                lines.append(f"{n} ({graph.nodes[n]['kind'].value}){after}")
            return "\n".join(lines)
    raise ValueError(f"unknown format {fmt!r}")


def _mermaid_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)
