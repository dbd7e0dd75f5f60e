"""Plan the requirements node, the wheels image every service installs from, and the
wheel-builder node it is built on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import networkx as nx

from orchestrator.engine import buildah
from orchestrator.engine.buildah import Mount
from orchestrator.errors import ConfigError
from orchestrator.model.inputs import PlanInputs
from orchestrator.model.pipeline import BASE_NODE, BUILDER_NODE, REQUIREMENTS_NODE
from orchestrator.model.resolve import ResolvedPipeline, unique
from orchestrator.model.states import NodeKind
from orchestrator.planning import cachekey
from orchestrator.planning.builder import IN_CTR, PATH_ENV, VENV, WHEELS_DIR, NodeBuilder
from orchestrator.planning.graph import order
from orchestrator.planning.nodeplan import GeneratedFile, NodePlan, PlanContext
from orchestrator.planning.wheelset import (
    constrained_names,
    constraint_names,
    installed_pins,
    plan_wheels,
)

# Where build-wheels.sh finds the previous wheels image's wheels (PREVIOUS_WHEELS).
PREVIOUS_WHEELS_IN_CTR = f"{IN_CTR}/previous-wheels"
# The resolved pins, in the wheels image's folder (build-wheels.sh writes it when it resolves).
RESOLVED = "resolved.txt"


def plan_requirements(
    resolved: ResolvedPipeline, graph: nx.DiGraph, ctx: PlanContext, plans: Mapping[str, NodePlan]
) -> NodePlan:
    """Wheels for the union of what the selected services install, under upper-constraints."""
    pipeline = resolved.pipeline
    b = NodeBuilder(REQUIREMENTS_NODE, NodeKind.REQUIREMENTS, resolved, ctx)
    b.network_env(pip_index=True)
    if pipeline.requirements.image:
        return _from_elsewhere(b, pipeline.requirements.image, plans)
    if pipeline.requirements.index:
        return _from_index(b, plans)
    pip_from_bindep = resolved.bindep.pip_packages(("requirements",)) if resolved.bindep else ()
    wheels = wheel_lines(resolved, graph, ctx.inputs)
    req_file = b.node_dir / "requirements.txt"
    b.files.append(GeneratedFile(path=req_file, content="\n".join(wheels) + "\n"))
    b.input("wheels", wheels)
    b.input("toolchain", pipeline.toolchain.builder())
    wheel_set = ctx.inputs.wheel_sets.get(ctx.platform.name)
    if wheel_set is not None and wheel_set.lines == wheels:
        # Keyed by what the lines resolve to, not by every pin of upper-constraints.
        resolved_file = b.node_dir / RESOLVED
        b.files.append(GeneratedFile(path=resolved_file, content=wheel_set.pins_text()))
        b.input("resolved", wheel_set.pins)
        b.input("resolved_for", [wheel_set.python, wheel_set.platform])
        constraint_files = [resolved_file]
        constraints_in_image = f"{WHEELS_DIR}/{RESOLVED}"
    else:
        constraint_files = _constraints(b)
        constraints_in_image = f"{WHEELS_DIR}/{pipeline.constraints.upper.name}"

    # The build packages and the builder venv are the wheel-builder's.
    b.from_step(plans[BUILDER_NODE].image)
    b.step(
        "copy-constraints",
        buildah.copy(b.container, [str(req_file), *map(str, constraint_files)], WHEELS_DIR + "/"),
    )
    build_env = {
        "VENV": VENV,
        "WHEELS_DIR": WHEELS_DIR,
        "REQUIREMENTS": f"{WHEELS_DIR}/requirements.txt",
        "CONSTRAINTS": constraints_in_image,
    }
    if "resolved" in b.inputs:
        build_env["RESOLVED"] = constraints_in_image
    spec = pipeline.requirements
    if spec.binary != "any":  # a wheel set from sdists is another wheel set: another key
        b.input("binary", [spec.binary, *spec.only_binary])
        build_env["BINARY"] = spec.binary
        if spec.only_binary:
            build_env["ONLY_BINARY"] = ",".join(spec.only_binary)
    previous = _previous_wheels(b, plans)
    if previous:
        build_env["PREVIOUS_WHEELS"] = PREVIOUS_WHEELS_IN_CTR
    b.script_step("build-wheels", "build-wheels.sh", build_env, mounts=previous)
    b.script_step(
        "wheel-runtime-packages",
        "wheel-runtime-packages.sh",
        {"VENV": VENV, "WHEELS_DIR": WHEELS_DIR},
    )
    b.script_step("cleanup", "cleanup.sh", {"VENV": VENV})
    plan = _finish(b, plans, [(i.package, i.origin) for i in pip_from_bindep], parent=BUILDER_NODE)
    if "resolved" in plan.inputs and wheel_set is not None and wheel_set.requires:
        # How its wheels are made: every input but the lines and the pins.
        recipe = {k: v for k, v in plan.inputs.items() if k not in ("wheels", "resolved")}
        plan = replace(plan, wheel_recipe=cachekey.cache_key(recipe))
    return plan


def installs(
    resolved: ResolvedPipeline,
    ctx: PlanContext,
    plans: Mapping[str, NodePlan],
    requires: Iterable[tuple[Iterable[str], Iterable[str]]],
    pip_packages: Iterable[str],
) -> tuple[str, ...] | None:
    """The pins of the wheel set a node installs: what ``requires`` (per project, its declared
    requirements and its extras) and ``pip_packages`` need of it, with the toolchain and the
    build backends (a project's wheel is built with them); None when the wheels image is
    not keyed by its pins (the node is keyed by the wheels image's key)."""
    if not plans[REQUIREMENTS_NODE].wheel_recipe:
        return None
    wheel_set = ctx.inputs.wheel_sets.get(ctx.platform.name)
    if wheel_set is None:
        return None
    lines = plan_wheels(
        requires, pip_packages, toolchain=resolved.pipeline.toolchain.requirements()
    )
    return installed_pins(wheel_set.pins, wheel_set.requires, lines)


def wheel_lines(
    resolved: ResolvedPipeline, graph: nx.DiGraph, inputs: PlanInputs
) -> tuple[str, ...]:
    """The requirement lines the wheels image is built from: what every wheeled service
    declares and installs, the pipeline's and bindep's pip packages, the toolchain.

    Raises:
        ConfigError: a pip package of the pipeline, a profile or a source is no requirement.
    """
    pipeline = resolved.pipeline
    selected = [resolved.services[n] for n in wheeled_services(resolved, graph)]
    pip_from_bindep = resolved.bindep.pip_packages(("requirements",)) if resolved.bindep else ()
    requires = []
    pip_packages: list[str] = list(pipeline.requirements.pip_packages)
    pip_packages += [item.package for item in pip_from_bindep]
    for service in selected:
        fetched = inputs.sources.get(service.name)
        requires.append((fetched.requires if fetched else (), service.extras))
        pip_packages += service.pip_packages
    everything = (
        constraint_names(inputs.upper_constraints) if pipeline.requirements.scope == "all" else ()
    )
    try:
        return plan_wheels(
            requires,
            pip_packages,
            toolchain=pipeline.toolchain.requirements(),
            everything=everything,
            constrained=constrained_names(inputs.upper_constraints),
        )
    except ValueError as exc:  # a pip package of the pipeline, a profile or a source
        raise ConfigError(str(pipeline.path), "requirements", str(exc)) from None


def constraints_file(plans: Mapping[str, NodePlan], resolved: ResolvedPipeline) -> str:
    """The file of the wheels image's folder a service installs under: the resolved pins
    when the wheels image is keyed by them, else the pipeline's upper-constraints."""
    if "resolved" in plans[REQUIREMENTS_NODE].inputs:
        return RESOLVED
    return resolved.pipeline.constraints.upper.name


def plan_wheel_builder(
    resolved: ResolvedPipeline, graph: nx.DiGraph, ctx: PlanContext, plans: Mapping[str, NodePlan]
) -> NodePlan:
    """The wheels image's build environment: compilers and -dev packages (the catalog's, the
    wheeled services', the pipeline's, bindep's ``requirements`` profile) and the builder
    venv with the pinned toolchain. A changed constraint or service leaves it as it is: only
    the wheels are built again."""
    pipeline = resolved.pipeline
    b = NodeBuilder(BUILDER_NODE, NodeKind.BUILDER, resolved, ctx)
    b.network_env(pip_index=True)
    selected = [resolved.services[n] for n in wheeled_services(resolved, graph)]
    from_bindep = resolved.bindep.packages(("requirements",)) if resolved.bindep else ()
    build_packages = unique(
        resolved.for_release(resolved.catalog.common_build_packages),
        *(s.build_packages for s in selected),
        resolved.for_release(pipeline.requirements.build_packages),
        (item.package for item in from_bindep),
    )
    b.input("build_packages", build_packages)
    b.input("toolchain", pipeline.toolchain.builder())
    b.from_step(plans[BASE_NODE].image)
    b.install_packages(
        build_packages, name="install-build-packages", lists_from=plans[BASE_NODE].image
    )
    b.script_step(
        "setup-venv",
        "setup-venv.sh",
        {"VENV": VENV, "TOOLCHAIN": " ".join(pipeline.toolchain.builder())},
    )
    return b.clean_and_finish(
        parents=(BASE_NODE,), plans=plans, origins=[(i.package, i.origin) for i in from_bindep]
    )


def _previous_wheels(b: NodeBuilder, plans: Mapping[str, NodePlan]) -> list[Mount]:
    """The previous wheels image's wheelhouse, read-only, where a wheel of the same pin is
    taken instead of downloaded or built: only from an image built on the same base with
    the same toolchain and binary policy, whose wheels are the ones this build would make
    (a wheel built here is reproducible), so the image is the same as a cold build's. Not
    an input of the key: a cache."""
    builder = f"parent:{BUILDER_NODE}"
    for previous in b.ctx.previous.get(b.qualified, ()):  # the newest of them that fits
        if previous.inputs.get(builder) != plans[BUILDER_NODE].key:
            continue
        if any(previous.inputs.get(name) != b.inputs.get(name) for name in ("toolchain", "binary")):
            continue
        return [Mount(image=previous.image, source=WHEELS_DIR, target=PREVIOUS_WHEELS_IN_CTR)]
    return []


def _constraints(b: NodeBuilder) -> list[Path]:
    """The constraint files the wheels image holds, their digest (and, taken from git, the
    commit) as inputs of its key."""
    constraints = b.resolved.pipeline.constraints
    files = [constraints.upper]
    if constraints.global_requirements is not None:
        files.append(constraints.global_requirements)
    digests = {path.name: b.ctx.inputs.files[path] for path in files}
    b.input("constraints", cachekey.combined_digest(digests))
    if constraints.revision:  # taken from git: the commit, beside the content
        b.input("constraints_revision", constraints.revision)
    return files


def _finish(
    b: NodeBuilder,
    plans: Mapping[str, NodePlan],
    origins: Sequence[tuple[str, str]] = (),
    *,
    sbom: bool = True,
    parent: str = BASE_NODE,
) -> NodePlan:
    """Every way to a wheels image ends the same: its environment, labels and commit (and
    its SBOM, but for an image taken as it is from elsewhere, whose layers stay its own)."""
    config = ["--env", PATH_ENV, "--env", f"WHEELS_DIR={WHEELS_DIR}"]
    b.input("config", config)
    return b.finish(
        parents=(parent,),
        labels=b.labels(),
        produce=b.commit_working_container(config, sbom=sbom),
        plans=plans,
        origins=origins,
    )


def wheeled_services(resolved: ResolvedPipeline, graph: nx.DiGraph) -> list[str]:
    """The services whose needs the wheels image holds: every service of the pipeline
    (``scope: pipeline``, the default: the key does not depend on what a run selects), or
    the run's selected ones (``scope: selected``)."""
    if resolved.pipeline.requirements.scope == "selected":
        images = (str(graph.nodes[n].get("image", n)) for n in order(graph))
        return list(dict.fromkeys(name for name in images if name in resolved.services))
    return list(resolved.services)


def _from_elsewhere(b: NodeBuilder, image: str, plans: Mapping[str, NodePlan]) -> NodePlan:
    """A wheels image built elsewhere, pulled by its digest (the wheel set's identity, so
    the key), and labelled as this pipeline's wheels image; nothing is built."""
    b.input("from", image)
    b.from_step(image, pull="missing")
    return _finish(b, plans, sbom=False)


def _from_index(b: NodeBuilder, plans: Mapping[str, NodePlan]) -> NodePlan:
    """Wheels fetched from a published index (exactly its pins, binaries only, each checked
    against the index's sha256), beside the builder venv and constraints services expect."""
    pipeline = b.resolved.pipeline
    spec = pipeline.requirements
    assert spec.pins is not None
    files = b.ctx.inputs.files
    b.input("index", spec.index)
    b.input("pins", files[spec.pins])
    constraint_files = _constraints(b)
    b.input("toolchain", pipeline.toolchain.builder())
    copied = [str(spec.pins), *map(str, constraint_files)]
    if spec.runtime_packages is not None:
        b.input("runtime_packages", files[spec.runtime_packages])
    b.from_step(plans[BASE_NODE].image)
    # Not installed here but by the services that install the wheels needing them: their
    # versions in this node's key rebuild the wheels and every service when one moves, as
    # the wheel-builder's -dev packages do when the wheels are built here.
    b.requested += b.ctx.inputs.runtime_packages
    b.script_step(
        "setup-venv",
        "setup-venv.sh",
        {"VENV": VENV, "TOOLCHAIN": " ".join(pipeline.toolchain.builder())},
    )
    b.step("copy-pins", buildah.copy(b.container, copied, WHEELS_DIR + "/"))
    if spec.runtime_packages is not None:
        b.step(
            "copy-runtime-packages",
            buildah.copy(
                b.container, [str(spec.runtime_packages)], f"{WHEELS_DIR}/runtime-packages.txt"
            ),
        )
    index_mounts = []
    if spec.index.startswith("file://"):
        folder = spec.index.removeprefix("file://").rstrip("/")
        index_root = str(Path(folder).parent) if folder.endswith("/simple") else folder
        index_mounts.append(Mount(source=index_root, target=index_root))
    b.script_step(
        "fetch-wheels",
        "fetch-wheels.sh",
        {
            "VENV": VENV,
            "WHEELS_DIR": WHEELS_DIR,
            "WHEELS_INDEX": spec.index,
            "PINS": f"{WHEELS_DIR}/{spec.pins.name}",
        },
        mounts=index_mounts,
    )
    b.script_step("cleanup", "cleanup.sh", {"VENV": VENV})
    return _finish(b, plans)
