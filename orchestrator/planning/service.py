"""Plan a service node: the project installed from the wheels image into a venv, on the
shared node (``layering: shared``) or on the base.

On the shared node, a service adds its own distro packages, its user and its project to the
venv there. On the base (``layering: flat``, or a pipeline of one service), it starts once
base is built and the wheels build is running: its distro packages and service user are set
up meanwhile, at low priority (``background``), and its first step that mounts the wheels
image waits for it (``needs``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.engine import buildah, naming
from orchestrator.engine.buildah import Mount
from orchestrator.errors import ConfigError
from orchestrator.model import bindep
from orchestrator.model.inputs import FetchedSource, tree_ignorefile
from orchestrator.model.materials import Material, identity_digest
from orchestrator.model.pipeline import BASE_NODE, REQUIREMENTS_NODE, SHARED_NODE, ExtraStep
from orchestrator.model.resolve import ResolvedPipeline, ServiceImage, unique
from orchestrator.model.states import NodeKind
from orchestrator.planning.builder import (
    IN_CTR,
    PATH_ENV,
    PROJECT_WHEEL_OUT_IN_CTR,
    PROJECT_WHEELS_IN_CTR,
    RUNTIME_PATH,
    RUNTIME_REPORT,
    SCRIPTS_IN_CTR,
    VENV,
    WHEELS_IN_CTR,
    NodeBuilder,
    project_wheels_dir,
)
from orchestrator.planning.nodeplan import GeneratedFile, NodePlan, PlanContext, Step
from orchestrator.planning.requirements import constraints_file, installs
from orchestrator.planning.shared import shared_packages

SRC_IN_CTR = "/tmp/orchestrate-src"
REPORT_IN_CTR = "/run/orchestrate/report"
WAIT_FOR_WHEELS = (REQUIREMENTS_NODE,)
# The host's program that keeps the wheel install-project built (python -m).
PROJECT_WHEELS_STEP = "orchestrator.execution.project_wheels"


def plan_service(
    resolved: ResolvedPipeline,
    service: ServiceImage,
    ctx: PlanContext,
    plans: Mapping[str, NodePlan],
    parents: Sequence[str],
) -> NodePlan:
    """A service (or plugin) image: runtime, project install, project steps, checks."""
    pipeline = resolved.pipeline
    shared_nodes = pipeline.shared_nodes
    b = NodeBuilder(service.name, NodeKind.SERVICE, resolved, ctx)
    b.network_env(pip_index=False)
    fetched = ctx.inputs.sources.get(service.name)
    wheels = plans[REQUIREMENTS_NODE].image
    b.input("project", service.project.name)
    # Its distribution's name and its configuration folder reach the image (the install,
    # /etc/image_info, where the default configuration is copied): a catalog or site entry
    # that moves either is another image.
    b.input("distribution", service.project.pypi)
    b.input("etc_dir", service.project.etc_dir)
    b.input("dist_packages", service.dist_packages)
    b.input("pip_packages", service.pip_packages)
    b.input("profiles", service.profiles)
    b.input("extras", service.extras)
    b.input("user", f"{service.user}:{service.uid}:{service.gid}")
    b.input("toolchain", pipeline.toolchain.builder())
    b.input("source", _source_input(service, fetched))
    if fetched is not None:
        b.materials.append(
            Material(
                name="source",
                uri=_source_url(service, fetched),
                digest=identity_digest(fetched.identity),
                annotations=(("version", fetched.version),),
            )
        )

    own = _own_bindep(resolved, service, fetched)
    if own:
        b.input("own_bindep_packages", [item.package for item in own])
    own_packages = tuple(item.package for item in own)
    shared_parent = next((p for p in parents if p == SHARED_NODE or p in shared_nodes), "")
    if service.plugin:
        b.from_step(plans[service.parent].image)
        install_needs: tuple[str, ...] = WAIT_FOR_WHEELS
    elif shared_parent:
        # The shared node has the venv and what services have in common: only the rest here.
        b.from_step(plans[shared_parent].image)
        common = shared_packages(plans, shared_parent)
        packages = [p for p in unique(service.dist_packages, own_packages) if p not in common]
        _user_and_packages(
            b, service, packages, background=False, lists_from=plans[BASE_NODE].image
        )
        # The shared node is keyed by the pins it installs: it may be reused while the
        # wheels image this service installs from is being built.
        install_needs = WAIT_FOR_WHEELS
    else:
        b.from_step(plans[BASE_NODE].image)
        _runtime(b, service, wheels, own_packages, plans[BASE_NODE].image)
        install_needs = ()
    version = fetched.version if fetched else service.source.version
    constraints = constraints_file(plans, resolved)
    requires = ((fetched.requires if fetched else (), service.extras),)
    b.installs = installs(resolved, ctx, plans, requires, service.pip_packages)
    _install(
        b, service, fetched, version, wheels=wheels, needs=install_needs, constraints=constraints
    )
    for script in service.project_steps:
        b.input(f"step:{script}", script)
        b.script_step(
            script.removesuffix(".sh"), script, {"VENV": VENV, "SERVICE_USER": service.user}
        )
    for extra in service.extra_steps:
        _extra_step(b, extra)
    source_url = _source_url(service, fetched)
    revision = fetched.revision if fetched else ""
    info = {
        "VENV": VENV,
        "PROJECT_NAME": service.project.pypi,
        "PROJECT_VERSION": version,
        "PROJECT_SOURCE": source_url,
        "PROJECT_REVISION": revision,
    }
    # check-libs reads the venv the commit takes as it is (cleanup.sh removes no library):
    # checked here, in the same buildah run, a broken image fails before its commit.
    then = [("check-libs.sh", {"VENV": VENV}), ("collect-info.sh", info)]
    _check_runtime(b, service, then=[*then, ("cleanup.sh", {"VENV": VENV})])
    config = [
        "--env",
        PATH_ENV,
        "--user",
        service.user,
        "--workingdir",
        f"/var/lib/{service.user}",
        "--cmd",
        "/bin/bash",
    ]
    b.input("config", config)
    return b.finish(
        parents=parents,
        labels=b.labels(version=version, source=source_url, revision=revision),
        produce=b.commit_working_container(config),
        extra_tags=service.tags,
        verify=_verify_steps(b, service),
        plans=plans,
        origins=(*service.bindep_origins, *((i.package, i.origin) for i in own)),
    )


def _check_runtime(
    b: NodeBuilder, service: ServiceImage, *, then: Sequence[tuple[str, Mapping[str, str]]]
) -> None:
    """Every command the project's rootwrap filters and privsep code run is in the image or
    accepted as absent, and every configuration default under /etc/<project>/ exists; then,
    in the same ``buildah run``, ``then`` (what the image says of itself, the cleanup)."""
    accepted = sorted(command for command, _ in service.project.runtime_absent)
    b.input("runtime_absent", accepted)
    # A copy of the report in the node's run folder, for the run's summary.
    report = Mount(source=str(b.node_dir), target=REPORT_IN_CTR, readonly=False)
    b.script_step(
        "+".join(["check-runtime", *(script.removesuffix(".sh") for script, _ in then)]),
        "check-runtime.sh",
        {
            "VENV": VENV,
            "PROJECT": service.project.name,
            "DIST": service.project.pypi,
            "ETC_DIR": service.project.etc_dir,
            "ACCEPTED": " ".join(accepted),
            "OUT": RUNTIME_PATH,
            "REPORT_COPY": f"{REPORT_IN_CTR}/{RUNTIME_REPORT}",
        },
        mounts=[report],
        then=then,
    )


def _own_bindep(
    resolved: ResolvedPipeline, service: ServiceImage, fetched: FetchedSource | None
) -> tuple[bindep.Selected, ...]:
    """Runtime packages the project's own bindep.txt selects (``bindep.project: true``):
    its project name and the image's profiles, never ``test`` or ``doc``."""
    pipeline = resolved.pipeline
    if not pipeline.bindep.project or fetched is None or not fetched.bindep or service.plugin:
        return ()
    try:
        parsed = bindep.parse(fetched.bindep, f"{service.project.name}'s bindep.txt")
    except bindep.BindepError as exc:
        raise ConfigError(
            str(pipeline.path), f"images.{service.name}.source", f"its bindep.txt: {exc}"
        ) from None
    renames = resolved.bindep.renames if resolved.bindep else {}
    selected = parsed.select((service.project.name, *service.profiles), pipeline.base.suite)
    return bindep.renamed(selected, renames)


def _runtime(
    b: NodeBuilder,
    service: ServiceImage,
    wheels: str,
    more_packages: tuple[str, ...],
    base_image: str,
) -> None:
    """Distro packages and the service user, in the background while the wheels build runs,
    then the venv, which needs the wheels image."""
    packages = unique(service.dist_packages, more_packages)
    _user_and_packages(b, service, packages, background=True, lists_from=base_image)
    b.venv_from_wheels(wheels, needs=WAIT_FOR_WHEELS)


def _user_and_packages(
    b: NodeBuilder,
    service: ServiceImage,
    packages: Sequence[str],
    *,
    background: bool,
    lists_from: str,
) -> None:
    """The distro packages and the service user, in one ``buildah run``."""
    user = {
        "SERVICE_USER": service.user,
        "SERVICE_UID": str(service.uid),
        "SERVICE_GID": str(service.gid),
    }
    if not packages:
        b.script_step("create-user", "create-user.sh", user, background=background)
        return
    b.install_packages(
        packages,
        name="install-packages+create-user",
        background=background,
        lists_from=lists_from,
        then=[("create-user.sh", user)],
    )


def _install(
    b: NodeBuilder,
    service: ServiceImage,
    fetched: FetchedSource | None,
    version: str,
    *,
    wheels: str,
    needs: tuple[str, ...],
    constraints: str,
) -> None:
    """Copy the source in and install the project and its pip packages from the wheels,
    under ``constraints`` (a file of the wheels image's folder)."""
    src_path = _copy_source(b, service, fetched)
    env = {
        "VENV": VENV,
        "WHEELS_DIR": WHEELS_IN_CTR,
        "CONSTRAINTS": f"{WHEELS_IN_CTR}/{constraints}",
        "PROJECT": service.project.pypi,
        "PROJECT_SRC": src_path,
        "PIP_PACKAGES": " ".join(service.pip_packages),
    }
    if fetched is not None and fetched.source.kind == "git" and version:
        env["PBR_VERSION"] = version
    if service.project.config and src_path:
        b.input("config_files", service.project.config)
        env["PROJECT_ETC"] = service.project.config
        env["ETC_DIR"] = service.project.etc_dir
        if service.project.config_optional:
            b.input("config_optional", "yes")
            env["PROJECT_ETC_OPTIONAL"] = "yes"
    sha = _sdist_sha256(fetched)
    out = b.node_dir / "project-wheel"
    mounts = [*(_project_wheel(b, out, env) if sha else []), *b.installs_check(env)]
    b.script_step(
        "install-project", "install-project.sh", env, wheels=wheels, needs=needs, mounts=mounts
    )
    if sha:
        cache = str(project_wheels_dir(b.settings.state_dir))
        b.step(
            "keep-project-wheel", (sys.executable, "-m", PROJECT_WHEELS_STEP, str(out), cache, sha)
        )


def _sdist_sha256(fetched: FetchedSource | None) -> str:
    """The sha256 of a fetched sdist ('' for a tree or no source)."""
    if fetched is None or fetched.is_tree or not fetched.identity.startswith("sha256:"):
        return ""
    return fetched.identity.removeprefix("sha256:")


def _project_wheel(b: NodeBuilder, out: Path, env: dict[str, str]) -> list[Mount]:
    """For an sdist: the host's cache of project wheels, read-only (not when the node
    builds from nothing), and ``out``, an emptied folder of the node's own where
    install-project leaves the wheel it built, for ``keep-project-wheel`` (the host) to keep
    (:mod:`orchestrator.execution.project_wheels`). Neither enters the key: a cache."""
    b.folders.append(out)
    env["PROJECT_WHEEL_OUT"] = PROJECT_WHEEL_OUT_IN_CTR
    mounts = [Mount(source=str(out), target=PROJECT_WHEEL_OUT_IN_CTR, readonly=False)]
    if not b.ctx.from_nothing(b.qualified):
        env["PROJECT_WHEELS"] = PROJECT_WHEELS_IN_CTR
        cache = project_wheels_dir(b.settings.state_dir)
        mounts.append(Mount(source=str(cache), target=PROJECT_WHEELS_IN_CTR))
    return mounts


def _copy_source(b: NodeBuilder, service: ServiceImage, fetched: FetchedSource | None) -> str:
    """Copy the fetched sdist or tree into the container; its path there ('' for none)."""
    if fetched is None:
        return ""
    if fetched.is_tree:
        src_path = f"{SRC_IN_CTR}/{service.project.name}"
        # What the tree hash leaves out (VCS data, venvs, caches) is not copied either.
        ignore = b.node_dir / "source.containerignore"
        b.files.append(GeneratedFile(path=ignore, content=tree_ignorefile()))
        argv = buildah.copy(b.container, [str(fetched.path)], src_path, ignorefile=str(ignore))
        b.step("copy-source", argv)
        return src_path
    src_path = f"{SRC_IN_CTR}/{fetched.path.name}"
    b.step("copy-source", buildah.copy(b.container, [str(fetched.path)], SRC_IN_CTR + "/"))
    return src_path


def _extra_step(b: NodeBuilder, extra: ExtraStep) -> None:
    mounts = b.base_mounts()
    if extra.script is not None:
        b.input(f"extra:{extra.name}", b.ctx.inputs.files[extra.script])
        mount = Mount(source=str(extra.script), target=f"{IN_CTR}/extra-{extra.name}.sh")
        mounts.append(mount)
        command = ["/bin/bash", mount.target]
    else:
        b.input(f"extra:{extra.name}", extra.run)
        command = ["/bin/bash", "-euo", "pipefail", "-c", extra.run]
    env = (("SOURCE_DATE_EPOCH", str(b.epoch)),)
    b.step(extra.name, b.run_in(b.container, command, mounts=mounts, env=env))


def _source_input(service: ServiceImage, fetched: FetchedSource | None) -> str:
    """The source's identity, led by its release or ref so a changed key says which version
    (a local tree is named by its content only: moving the checkout changes nothing)."""
    source = service.source
    if fetched is None:
        return source.describe()
    if source.kind == "local":
        return fetched.identity
    return f"{source.describe()} {fetched.identity}"


def _source_url(service: ServiceImage, fetched: FetchedSource | None) -> str:
    source = service.source
    match source.kind:
        case "pypi":
            return f"https://pypi.org/project/{source.name}/{source.version}/"
        case "git" | "url":
            return source.url
        case "local":
            return f"file://{source.path}" if fetched is None else f"file://{fetched.path}"


def _verify_steps(b: NodeBuilder, service: ServiceImage) -> list[Step]:
    """Smoke-test the committed image in a throwaway container (never the working one, which
    would leave __pycache__ behind), as the service user, then its acceptance script."""
    check = naming.check_container_name(b.ctx.run_id, b.qualified)
    b.containers.append(check)
    b.input("smoke", service.project.smoke)
    scripts = Mount(source=str(b.ctx.inputs.scripts_dir), target=SCRIPTS_IN_CTR)
    return [
        Step(name="from", argv=buildah.from_image(check, b.candidate, platform=b.platform.name)),
        Step(
            name="smoke",
            argv=b.run_in(
                check, service.project.smoke, user=service.user, env=service.project.smoke_env
            ),
        ),
        *_acceptance(b, service, check, scripts),
        Step(name="remove-smoke", argv=buildah.rm(check)),
    ]


def _acceptance(b: NodeBuilder, service: ServiceImage, check: str, scripts: Mount) -> list[Step]:
    """The project's acceptance script, as the service user, in the check container."""
    script = service.project.acceptance
    if not script:
        return []
    b.scripts.add(script)
    argv = b.run_in(
        check,
        ["/bin/bash", f"{SCRIPTS_IN_CTR}/run-step.sh", script],
        user=service.user,
        mounts=[scripts],
        env=[("VENV", VENV)],
    )
    return [Step(name="acceptance", argv=argv)]
