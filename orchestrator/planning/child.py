"""Plan a child node: a site's Containerfile built FROM another node with ``buildah build``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.engine import buildah
from orchestrator.model.pipeline import ChildSpec
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.model.states import NodeKind
from orchestrator.planning.builder import NodeBuilder
from orchestrator.planning.nodeplan import NodePlan, PlanContext, Step


def plan_child(
    resolved: ResolvedPipeline, child: ChildSpec, ctx: PlanContext, plans: Mapping[str, NodePlan]
) -> NodePlan:
    """``buildah build`` straight to the candidate name; no working container."""
    b = NodeBuilder(child.name, NodeKind.CHILD, resolved, ctx)
    b.containers.clear()
    b.scripts.clear()
    parent_image = plans[child.parent].image
    b.input("containerfile", ctx.inputs.files[child.containerfile])
    b.input("context", "sha256:" + ctx.inputs.trees[child.context])
    b.input("build_args", [f"{k}={v}" for k, v in child.build_args])

    def produce(labels: Sequence[tuple[str, str]]) -> list[Step]:
        argv = buildah.build(
            containerfile=str(child.containerfile),
            context=str(child.context),
            tag=b.candidate,
            parent_image=parent_image,
            isolation=b.isolation,
            build_args=child.build_args,
            labels=labels,
            timestamp=b.epoch,
            platform=b.platform.name,
        )
        return [Step(name="build", argv=argv)]

    return b.finish(
        parents=(child.parent,),
        labels=b.labels(),
        produce=produce,
        extra_tags=child.tags,
        plans=plans,
    )
