"""The image graph: shape, selections and renderings."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from orchestrator.errors import GraphError
from orchestrator.loading.load import load
from orchestrator.planning.graph import build_graph, dependents_of, render, select
from tests.conftest import SERVICES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def full() -> nx.DiGraph:
    return build_graph(load(ROOT / "pipelines" / "full-stack.yaml"))


def test_full_stack_shape(full: nx.DiGraph) -> None:
    assert full.number_of_nodes() == 14
    assert list(full.successors("wheel-builder")) == ["requirements"]
    assert full.nodes["wheel-builder"]["kind"] == "builder"
    assert set(full.successors("requirements")) == {*SERVICES, "openstack-base"}
    storage = {"cinder", "glance", "nova"}
    assert set(full.successors("openstack-base")) == {*(set(SERVICES) - storage), "storage-base"}
    assert set(full.successors("storage-base")) == storage
    assert full.nodes["openstack-base"]["kind"] == "shared"
    assert full.nodes["storage-base"]["kind"] == "shared"
    assert not full.edges["openstack-base", "storage-base"].get("late")
    assert full.edges["requirements", "openstack-base"]["late"]
    for node in full:
        if node != "base":
            assert "base" in nx.ancestors(full, node)
    assert nx.is_directed_acyclic_graph(full)


def test_only_pulls_in_ancestors(full: nx.DiGraph) -> None:
    assert set(select(full, only=["keystone,nova"])) == {
        "base",
        "wheel-builder",
        "requirements",
        "openstack-base",
        "storage-base",
        "keystone",
        "nova",
    }


def test_match_selects_by_pattern(full: nx.DiGraph) -> None:
    assert set(select(full, match="^(nova|neutron)$")) == {
        "base",
        "wheel-builder",
        "requirements",
        "openstack-base",
        "storage-base",
        "nova",
        "neutron",
    }


def test_skip_drops_descendants(full: nx.DiGraph) -> None:
    assert set(select(full, skip=["requirements"])) == {"base", "wheel-builder"}
    assert set(select(full, skip=["nova", "heat"])) == set(full) - {"nova", "heat"}


def test_unknown_node_is_an_error(full: nx.DiGraph) -> None:
    with pytest.raises(GraphError, match=r"unknown node 'keystne' \(nodes: base, cinder"):
        select(full, only=["keystne"])


def test_match_without_hits_is_an_error(full: nx.DiGraph) -> None:
    with pytest.raises(GraphError, match=r"--match 'swift' matches no node"):
        select(full, match="swift")


def test_bad_regex_is_an_error(full: nx.DiGraph) -> None:
    with pytest.raises(GraphError, match=r"^--match '\(': invalid regular expression: "):
        select(full, match="(")


def test_renderings(full: nx.DiGraph) -> None:
    data = json.loads(render(full, "json"))
    assert len(data["nodes"]) == 14
    parents = {n["name"]: n["parents"] for n in data["nodes"]}
    assert parents["nova"] == ["requirements", "storage-base"]
    assert parents["keystone"] == ["openstack-base", "requirements"]
    assert '"requirements" -> "nova" [style=dashed];' in render(full, "dot")
    assert '"storage-base" -> "nova";' in render(full, "dot")
    assert "requirements -.-> nova" in render(full, "mermaid")
    assert {"from": "requirements", "to": "nova", "late": True} in data["edges"]
    assert {"from": "storage-base", "to": "nova", "late": False} in data["edges"]
    assert "nova (service)  <- requirements, storage-base" in render(full, "text")


def test_dependents_count_every_node_waiting(full: nx.DiGraph) -> None:
    # Native nodes cost 1 each: the node itself and every node after it.
    counts = dependents_of(full)
    assert counts["storage-base"] == 4 and counts["keystone"] == 1
    assert counts["openstack-base"] == 11  # itself, the nine services and storage-base
    assert counts["base"] == full.number_of_nodes()
