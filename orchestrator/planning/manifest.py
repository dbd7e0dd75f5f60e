"""Plan a manifest-list node: one image's platforms under one name (several platforms).

``keystone`` after ``keystone@amd64`` and ``keystone@arm64``: ``buildah manifest create``,
then ``manifest add`` of each platform's image, then the key tag and, after the run, the
release tags, all on the list. ``podman pull --arch arm64`` of any of its tags gets the arm64
image. Its key is that of its members (their keys name their platforms); it is pushed with
``manifest push --all`` (the members' blobs are there already when they pushed first).
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.engine import buildah
from orchestrator.model.platforms import split_node
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.model.states import NodeKind
from orchestrator.planning import cachekey
from orchestrator.planning.builder import NodeBuilder
from orchestrator.planning.nodeplan import NodePlan, PlanContext, Step

# The version of how a list is made from its members (bump it when that changes).
MANIFEST_FORMAT = "manifest-list/1"


def plan_manifest(
    resolved: ResolvedPipeline, node: str, members: Sequence[NodePlan], ctx: PlanContext
) -> NodePlan:
    """The manifest list of image ``node`` from its platforms' plans (``members``)."""
    b = NodeBuilder(node, NodeKind.MANIFEST, resolved, ctx)
    b.containers.clear()
    b.scripts.clear()
    members = sorted(members, key=lambda plan: plan.node)
    inputs = {
        "kind": NodeKind.MANIFEST.value,
        "format": MANIFEST_FORMAT,
        **{f"parent:{plan.node}": plan.key for plan in members},
    }
    key = cachekey.cache_key(inputs)
    image = f"{b.repository}:{key[:20]}"
    steps = [
        Step(name="create", argv=buildah.manifest_create(b.candidate)),
        *(
            Step(
                name=f"add:{split_node(plan.node)[1]}",
                argv=buildah.manifest_add(b.candidate, plan.image),
            )
            for plan in members
        ),
        Step(name="tag", argv=buildah.tag(b.candidate, image)),
        Step(name="untag-candidate", argv=buildah.manifest_rm(b.candidate)),
    ]
    spec = resolved.pipeline.images.get(node) or resolved.children.get(node)
    tags = b.release_tags(spec.tags if spec is not None else ())
    remote = b.remote_repository()
    push: tuple[Step, ...] = ()
    if ctx.settings.push and remote:
        destination = f"{remote}:{key[:20]}"
        push = (
            Step(
                name=f"push:{key[:20]}",
                argv=buildah.manifest_push(image, destination, registry=b.registry),
            ),
        )
    release = (Step(name="tag-release", argv=buildah.tag(image, *tags)),) if tags else ()
    return NodePlan(
        node=node,
        kind=NodeKind.MANIFEST,
        parents=tuple(plan.node for plan in members),
        image=image,
        candidate=b.candidate,
        tags=tuple(tags),
        key=key,
        inputs=inputs,
        containers=(),
        files=(),
        scratch=(),
        steps=tuple(steps),
        push=push,
        release=release,
        run_dir=b.node_dir,
        remote=remote,
        release_tags=tuple(tag.rsplit(":", 1)[1] for tag in tags),
    )
