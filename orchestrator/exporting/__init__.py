"""Exporting the build graph as another CI engine's pipeline (Zuul, Tekton, Argo Workflows,
GitLab CI): one job per node running ``orchestrate build PIPELINE --only NODE --push
--no-promote``, the graph's edges as the engine's dependencies, and a promote job after all
of them. Pure: an :class:`~orchestrator.exporting.spec.ExportSpec` in, YAML text out."""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.exporting import argo, gitlab, tekton, zuul
from orchestrator.exporting.spec import ExportSpec

RENDERERS: dict[str, Callable[[ExportSpec], str]] = {
    "zuul": zuul.render,
    "tekton": tekton.render,
    "argo": argo.render,
    "gitlab": gitlab.render,
}
FORMATS = tuple(RENDERERS)


def render(spec: ExportSpec, fmt: str) -> str:
    """``spec`` as the pipeline of the engine ``fmt`` (one of :data:`FORMATS`)."""
    return RENDERERS[fmt](spec)
