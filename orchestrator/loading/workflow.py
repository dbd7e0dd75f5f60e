"""The steps from a pipeline file to plans: load, resolve, graph, select, fetch, plan.

Each is a small function the CLI calls in turn; only :func:`fetch_sources` has side effects
(network and the source cache).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import structlog

from orchestrator.loading.sources import DEFAULT_INDEX, FetchedSource, Network, fetch
from orchestrator.model.catalog import load_catalog
from orchestrator.model.pipeline import load_pipeline
from orchestrator.model.profiles import load_profiles
from orchestrator.model.settings import Settings
from orchestrator.planning.graph import build_graph, select
from orchestrator.planning.plan import NodePlan, PlanContext, plan_all
from orchestrator.planning.resolve import ResolvedPipeline, resolve

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PIPELINE = Path("pipelines/full-stack.yaml")
SCRIPTS_DIR = PROJECT_ROOT / "scripts"
PROFILES_DIR = PROJECT_ROOT / "profiles"


def find_pipeline(path: Path | None) -> Path:
    """The pipeline to use: ``path``, else ``pipelines/full-stack.yaml`` here or in the
    project's own checkout."""
    if path is not None:
        return path
    if DEFAULT_PIPELINE.is_file():
        return DEFAULT_PIPELINE
    return PROJECT_ROOT / DEFAULT_PIPELINE


def load(path: Path, profiles_dir: Path | None = None) -> ResolvedPipeline:
    """Load, validate and resolve a pipeline with the catalog and profiles."""
    catalog = load_catalog()
    profiles = load_profiles(profiles_dir or PROFILES_DIR, frozenset(catalog.projects))
    return resolve(load_pipeline(path), catalog, profiles)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Which nodes to build: ``only``/``match`` pull in ancestors, ``skip`` drops descendants."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    match: str | None = None


def graph_for(resolved: ResolvedPipeline, selection: Selection = Selection()) -> nx.DiGraph:
    """The checked image graph restricted to the selection."""
    graph = build_graph(resolved)
    return select(graph, only=selection.only, skip=selection.skip, match=selection.match)


def no_cache_for(options: Mapping[str, Any]) -> frozenset[str]:
    """``--no-cache-for a,b --no-cache-for c`` as a set of node names."""
    return frozenset(
        n.strip() for v in options.get("no_cache_for") or () for n in v.split(",") if n.strip()
    )


def network_of(settings: Settings) -> Network:
    """Host-side network settings for fetching sources."""
    return Network(
        index_url=settings.get_str("pip_index_url") or DEFAULT_INDEX,
        http_proxy=settings.get_str("http_proxy"),
        https_proxy=settings.get_str("https_proxy"),
        ca_bundle=settings.get_str("ca_bundle"),
    )


def fetch_sources(
    resolved: ResolvedPipeline, nodes: Iterable[str], settings: Settings
) -> dict[str, FetchedSource]:
    """Fetch the sources of the selected service nodes into the state directory's cache."""
    cache = settings.state_dir / "sources"
    network = network_of(settings)
    fetched: dict[str, FetchedSource] = {}
    log = structlog.get_logger()
    for name in nodes:
        service = resolved.services.get(name)
        if service is None:
            continue
        fetched[name] = fetch(service.source, cache, network)
        log.debug("source ready", node=name, identity=fetched[name].identity)
    return fetched


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id such as ``20261126-154012-a1b2``."""
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def make_plans(
    resolved: ResolvedPipeline,
    graph: nx.DiGraph,
    settings: Settings,
    sources: Mapping[str, FetchedSource],
    *,
    run_id: str,
    now: datetime | None = None,
) -> dict[str, NodePlan]:
    """Plan every node of the graph for one run."""
    ctx = PlanContext(
        run_id=run_id,
        run_dir=settings.state_dir / "runs" / run_id / "work",
        scripts_dir=SCRIPTS_DIR,
        settings=settings,
        sources=sources,
        now=now or datetime.now(UTC),
    )
    return plan_all(resolved, graph, ctx)
