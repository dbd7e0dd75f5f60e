"""Plan the shared node (``openstack-base``): what two services or more install, once.

Like kolla's openstack-base: the distro packages and the Python distributions (with what they
pull in) that at least two of the wheels image's services ask for, in the venv the services
then add their own to. Each service layer holds only what is its own, so the common part is
stored, pushed and pulled once, and installed once per build instead of once per service.

A pipeline's ``shared_nodes`` add a node under openstack-base per group of services (cinder,
glance and nova: ceph-common and qemu-utils, too big for every image but stored three times
without it): the distro packages two members or more install. Its Python distributions are
already in openstack-base, which takes every one two services require.

What is shared is decided here, from the services' declared requirements and packages: it is
in the plan and the key, never found out at build time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import networkx as nx

from orchestrator.model.pipeline import BASE_NODE, REQUIREMENTS_NODE, SHARED_NODE
from orchestrator.model.resolve import ResolvedPipeline, ServiceImage
from orchestrator.model.states import NodeKind
from orchestrator.planning.builder import VENV, WHEELS_IN_CTR, NodeBuilder
from orchestrator.planning.nodeplan import NodePlan, PlanContext
from orchestrator.planning.requirements import constraints_file, installs, wheeled_services
from orchestrator.planning.wheelset import parse_requirement, requirement_name

# A Python distribution goes into the shared node when this many services require it.
SHARED_BY = 2


def shared_services(resolved: ResolvedPipeline, graph: nx.DiGraph) -> list[ServiceImage]:
    """The services whose needs decide the shared node: those the wheels image is built for
    (its ``scope``), plugins left out (they start from their parent service)."""
    return [
        resolved.services[n]
        for n in wheeled_services(resolved, graph)
        if not resolved.services[n].plugin
    ]


def common_packages(services: Sequence[ServiceImage]) -> tuple[str, ...]:
    """The distro packages at least half the services install (and two or more), sorted.

    Half, not two: a distro package can be large and brings its own binaries (ceph-common,
    openvswitch, qemu-utils are each asked for by two or three services of nine), which
    the other services' images should not carry. Python distributions are smaller and
    mostly libraries: those go in from two services on.
    """
    counts = Counter(p for s in services for p in set(s.dist_packages))
    needed = max(SHARED_BY, (len(services) + 1) // 2)
    return tuple(sorted(p for p, n in counts.items() if n >= needed))


def common_distributions(requirements: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """The distributions at least ``SHARED_BY`` services require outright (no marker, no
    extras), by normalised name, sorted. Each service's ``requirements`` are its declared
    requirements and pip packages; versions come from upper-constraints at install time."""
    counts: Counter[str] = Counter()
    for specs in requirements:
        names = set()
        for spec in specs:
            parsed = parse_requirement(spec)
            if parsed.marker is None and not parsed.extras:
                names.add(requirement_name(spec))
        counts.update(names)
    return tuple(sorted(name for name, n in counts.items() if n >= SHARED_BY))


def group_packages(members: Sequence[ServiceImage], shared: Iterable[str]) -> tuple[str, ...]:
    """The distro packages two members of a shared node or more install that the shared
    node above it (``shared``) does not have, sorted."""
    counts = Counter(p for s in members for p in set(s.dist_packages))
    have = set(shared)
    return tuple(sorted(p for p, n in counts.items() if n >= SHARED_BY and p not in have))


def shared_packages(plans: Mapping[str, NodePlan], node: str) -> frozenset[str]:
    """The distro packages the image of shared node ``node`` holds: its own and, for a node
    of ``shared_nodes``, openstack-base's."""
    names = {node, SHARED_NODE}
    return frozenset(
        p for n in names for p in plans[n].inputs.get("dist_packages", "").split("\n") if p
    )


def plan_shared(
    resolved: ResolvedPipeline, graph: nx.DiGraph, ctx: PlanContext, plans: Mapping[str, NodePlan]
) -> NodePlan:
    """The common distro packages (while the wheels build), then the venv with the common
    distributions, from the wheels image under upper-constraints."""
    pipeline = resolved.pipeline
    services = shared_services(resolved, graph)
    packages = common_packages(services)
    distributions = common_distributions(
        (
            *(ctx.inputs.sources[s.name].requires if s.name in ctx.inputs.sources else ()),
            *s.pip_packages,
        )
        for s in services
    )
    wheels = plans[REQUIREMENTS_NODE].image
    b = NodeBuilder(SHARED_NODE, NodeKind.SHARED, resolved, ctx)
    b.network_env(pip_index=False)
    b.input("dist_packages", packages)
    b.input("distributions", distributions)
    # builder(): uv too, which installs the shared venv when pinned (NodeBuilder's uv mount).
    b.input("toolchain", pipeline.toolchain.builder())
    b.from_step(plans[BASE_NODE].image)
    b.install_packages(packages, background=True, lists_from=plans[BASE_NODE].image)
    b.venv_from_wheels(wheels, needs=(REQUIREMENTS_NODE,))
    b.installs = installs(resolved, ctx, plans, (), distributions)
    if distributions:  # none when the wheels are for one service alone (scope: selected)
        env = {
            "VENV": VENV,
            "WHEELS_DIR": WHEELS_IN_CTR,
            "CONSTRAINTS": f"{WHEELS_IN_CTR}/{constraints_file(plans, resolved)}",
            "PIP_PACKAGES": " ".join(distributions),
        }
        mounts = b.installs_check(env)
        b.script_step("install-shared", "install-project.sh", env, wheels=wheels, mounts=mounts)
    return b.clean_and_finish(parents=(BASE_NODE, REQUIREMENTS_NODE), plans=plans)


def plan_shared_group(
    resolved: ResolvedPipeline, name: str, ctx: PlanContext, plans: Mapping[str, NodePlan]
) -> NodePlan:
    """A node of ``shared_nodes``: FROM openstack-base, the distro packages two of its member
    services or more install (and that openstack-base has not), nothing else."""
    members = [resolved.services[m] for m in resolved.pipeline.shared_nodes[name]]
    packages = group_packages(members, shared_packages(plans, SHARED_NODE))
    b = NodeBuilder(name, NodeKind.SHARED, resolved, ctx)
    b.network_env(pip_index=False)
    b.input("dist_packages", packages)
    b.from_step(plans[SHARED_NODE].image)
    b.install_packages(packages, lists_from=plans[BASE_NODE].image)
    return b.clean_and_finish(parents=(SHARED_NODE,), plans=plans)
