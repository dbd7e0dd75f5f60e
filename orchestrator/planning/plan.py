"""Resolve each node of the graph into a frozen build plan: the exact buildah argv of every
step, the environment, mounts and labels, the inputs and the content-addressed cache key.

Planning is pure: it reads the resolved pipeline, the fetched sources' identities and the
settings, and returns data. The executor runs the steps; nothing here touches buildah.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import networkx as nx

from orchestrator.loading.sources import FetchedSource, tree_hash
from orchestrator.model.pipeline import BASE_NODE, REQUIREMENTS_NODE, BaseSpec, ChildSpec, ExtraStep
from orchestrator.model.settings import Settings
from orchestrator.planning import cachekey
from orchestrator.planning.graph import NodeKind, order
from orchestrator.planning.resolve import ResolvedPipeline, ServiceImage, unique
from orchestrator.planning.wheelset import constraint_names, plan_wheels

VENV = "/var/lib/openstack"
WHEELS_DIR = "/wheels"
# Where a service step sees the wheels image's /wheels: under the /run tmpfs, so the mount
# point never becomes part of the image.
WHEELS_IN_CTR = "/run/orchestrate/wheels"
IN_CTR = "/run/orchestrate"
SCRIPTS_IN_CTR = f"{IN_CTR}/scripts"
NETWORK_ENV_IN_CTR = f"{IN_CTR}/network.env"
CA_IN_CTR = f"{IN_CTR}/ca.crt"
UV_IN_CTR = f"{IN_CTR}/uv"
SRC_IN_CTR = "/tmp/orchestrate-src"
KEY_LABEL = "io.orchestrate.key"
PATH_ENV = f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
)


@dataclass(frozen=True, kw_only=True)
class Mount:
    """A mount into a build container: a bind mount (``image`` binds a path of another image)
    or, with ``tmpfs``, an empty in-memory folder."""

    target: str
    source: str = ""
    readonly: bool = True
    image: str = ""
    tmpfs: bool = False

    def option(self) -> str:
        """The value of buildah run's ``--mount``."""
        if self.tmpfs:
            return f"type=tmpfs,dst={self.target}"
        parts = ["type=bind"]
        if self.image:
            parts.append(f"from={self.image}")
        parts += [f"src={self.source}", f"dst={self.target}"]
        if self.readonly:
            parts.append("ro")
        return ",".join(parts)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One command of a node: its name and exact argv (run on the host, buildah included)."""

    name: str
    argv: tuple[str, ...]
    host_env: tuple[str, ...] = ()
    # Parents whose image this step needs; the node may start before they finish, this step
    # may not (a service's distro packages install while the wheels image is being built).
    needs: tuple[str, ...] = ()
    # Run at low CPU priority: work done ahead of a late parent must not slow that parent,
    # which is on the critical path.
    background: bool = False

    def display(self) -> str:
        """The command line as it would be typed, with host env names noted."""
        env = f"[env: {', '.join(self.host_env)}] " if self.host_env else ""
        after = f"[after: {', '.join(self.needs)}] " if self.needs else ""
        return after + env + shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class GeneratedFile:
    """A file the executor writes on the host before the node's steps run."""

    path: Path
    content: str
    secret: bool = False


@dataclass(frozen=True, kw_only=True)
class NodePlan:
    """Everything needed to build one node, decided before anything runs."""

    node: str
    kind: NodeKind
    parents: tuple[str, ...]
    image: str
    candidate: str
    tags: tuple[str, ...]
    key: str
    inputs: Mapping[str, str]
    env: tuple[tuple[str, str], ...]
    mounts: tuple[Mount, ...]
    labels: tuple[tuple[str, str], ...]
    containers: tuple[str, ...]
    files: tuple[GeneratedFile, ...]
    scratch: tuple[Path, ...]
    steps: tuple[Step, ...]
    push: tuple[Step, ...] = ()
    run_dir: Path = field(default=Path("."))


def empty_plan(node: str, kind: NodeKind = NodeKind.SERVICE) -> NodePlan:
    """A plan with no steps: what scheduler benchmarks and tests schedule."""
    return NodePlan(
        node=node,
        kind=kind,
        parents=(),
        image=f"{node}:empty",
        candidate="",
        tags=(),
        key="",
        inputs={},
        env=(),
        mounts=(),
        labels=(),
        containers=(),
        files=(),
        scratch=(),
        steps=(),
    )


@dataclass(frozen=True, kw_only=True)
class PlanContext:
    """What planning needs beyond the pipeline: run identity, folders, settings, sources."""

    run_id: str
    run_dir: Path
    scripts_dir: Path
    settings: Settings
    sources: Mapping[str, FetchedSource]
    now: datetime

    @property
    def date(self) -> str:
        return self.now.strftime("%Y%m%d")


def plan_all(
    resolved: ResolvedPipeline, graph: nx.DiGraph, ctx: PlanContext
) -> dict[str, NodePlan]:
    """Plan every node of ``graph`` in topological order (parents' keys feed children's)."""
    plans: dict[str, NodePlan] = {}
    for node in order(graph):
        kind: NodeKind = graph.nodes[node]["kind"]
        parents = tuple(sorted(graph.predecessors(node)))
        match kind:
            case NodeKind.BASE:
                plans[node] = _plan_base(resolved, ctx)
            case NodeKind.REQUIREMENTS:
                plans[node] = _plan_requirements(resolved, graph, ctx, plans)
            case NodeKind.SERVICE:
                plans[node] = _plan_service(resolved, resolved.services[node], ctx, plans, parents)
            case NodeKind.CHILD:
                plans[node] = _plan_child(resolved, resolved.children[node], ctx, plans)
    return plans


# -- shared pieces -------------------------------------------------------------------------


class _Builder:
    """Accumulates the steps, inputs and files of one node's plan."""

    def __init__(self, node: str, kind: NodeKind, resolved: ResolvedPipeline, ctx: PlanContext):
        self.node = node
        self.kind = kind
        self.resolved = resolved
        self.ctx = ctx
        self.settings = ctx.settings
        self.container = f"orch-{ctx.run_id}-{node}"
        self.node_dir = ctx.run_dir / node
        self.steps: list[Step] = []
        self.inputs: dict[str, str] = {"kind": kind.value}
        self.files: list[GeneratedFile] = []
        self.scratch: list[Path] = []
        self.containers: list[str] = [self.container]
        self.mounts: list[Mount] = []
        self.env: dict[str, str] = {}
        self.scripts: set[str] = {"run-step.sh"}
        self.waited_for_wheels = False
        namespace = self.settings.get_str("namespace").rstrip("/")
        self.repository = f"{namespace}/{node}"

    # inputs ---------------------------------------------------------------------------------
    def input(self, name: str, value: str | Sequence[str]) -> None:
        self.inputs[name] = value if isinstance(value, str) else "\n".join(value)

    # buildah argv helpers -------------------------------------------------------------------
    @property
    def candidate(self) -> str:
        """The name a commit gets until its checks pass."""
        return f"{self.repository}:candidate-{self.ctx.run_id}"

    def run_prefix(self, *, mounts: Sequence[Mount] = (), user: str = "") -> list[str]:
        """``buildah run`` with the isolation settings, a user and mounts; the container
        name and command follow."""
        argv = ["buildah", "run", "--isolation", self.settings.get_str("isolation")]
        if self.settings.get_str("isolation") == "oci" and self.settings.get_str("runtime"):
            argv += ["--runtime", self.settings.get_str("runtime")]
        argv += ["--network", "host"]
        if user:
            argv += ["--user", user]
        for mount in mounts:
            argv += ["--mount", mount.option()]
        return argv

    def script_step(
        self,
        name: str,
        script: str,
        env: Mapping[str, str],
        *,
        wheels: str = "",
    ) -> None:
        """Run ``scripts/<script>`` in the working container with ``env`` as its inputs."""
        self.scripts.add(script)
        mounts = [*self.base_mounts()]
        if wheels:
            mounts.append(Mount(image=wheels, source=WHEELS_DIR, target=WHEELS_IN_CTR))
            if self.resolved.pipeline.toolchain.uv:
                # uv, the pinned installer, comes from the wheels image's builder venv, for
                # the duration of the step: it is never installed into the service image.
                mounts.append(Mount(image=wheels, source=f"{VENV}/bin/uv", target=UV_IN_CTR))
                env = {**env, "UV": UV_IN_CTR}
        for mount in mounts:
            if mount not in self.mounts:
                self.mounts.append(mount)
        argv = self.run_prefix(mounts=mounts)
        for key, value in env.items():
            argv += ["--env", f"{key}={value}"]
            self.env[key] = value
        argv += [
            self.container,
            "--",
            "/bin/bash",
            f"{SCRIPTS_IN_CTR}/run-step.sh",
            script,
        ]
        needs = (REQUIREMENTS_NODE,) if wheels and not self.waited_for_wheels else ()
        self.waited_for_wheels = self.waited_for_wheels or bool(wheels)
        background = self.kind is NodeKind.SERVICE and not self.waited_for_wheels
        self.steps.append(Step(name=name, argv=tuple(argv), needs=needs, background=background))

    def base_mounts(self) -> list[Mount]:
        # /run is a tmpfs during steps: buildah creates bind-mount points in the container's
        # filesystem, and under /run they vanish with the step instead of landing in the image.
        mounts = [
            Mount(target="/run", tmpfs=True),
            Mount(source=str(self.ctx.scripts_dir), target=SCRIPTS_IN_CTR),
            Mount(source=str(self.network_env_path()), target=NETWORK_ENV_IN_CTR),
        ]
        ca = self.settings.get_str("ca_bundle")
        if ca:
            mounts.append(Mount(source=ca, target=CA_IN_CTR))
        return mounts

    def network_env_path(self) -> Path:
        return self.node_dir / "network.env"

    def network_env(self, *, pip_index: bool) -> None:
        """Write the proxy/mirror/CA settings to a file mounted at build time only.

        They are never passed as ``--env`` or ``buildah config``, so they cannot reach the
        image config, its history or the logged argv.
        """
        s = self.settings
        values: dict[str, str] = {}
        for name in ("http_proxy", "https_proxy", "no_proxy"):
            if s.get_str(name):
                values[name] = values[name.upper()] = s.get_str(name)
        if s.get_str("ca_bundle"):
            for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
                values[name] = CA_IN_CTR
        if pip_index and s.get_str("pip_index_url"):
            values["PIP_INDEX_URL"] = s.get_str("pip_index_url")
        if pip_index and s.get_list("pip_extra_index_urls"):
            values["PIP_EXTRA_INDEX_URL"] = " ".join(s.get_list("pip_extra_index_urls"))
        if s.get_str("apt_mirror"):
            values["APT_MIRROR"] = s.get_str("apt_mirror")
            values["APT_MIRROR_REPLACES"] = self.resolved.pipeline.base.mirror
        lines = [f"{k}={shlex.quote(v)}" for k, v in values.items()]
        self.files.append(
            GeneratedFile(
                path=self.network_env_path(), content="\n".join(lines) + "\n", secret=True
            )
        )

    def host_network_env(self) -> tuple[str, ...]:
        names = []
        for name in ("http_proxy", "https_proxy", "no_proxy"):
            if self.settings.get_str(name):
                names.append(name)
        return tuple(names)

    def labels(
        self, version: str = "", source: str = "", revision: str = ""
    ) -> list[tuple[str, str]]:
        pipeline = self.resolved.pipeline
        labels = [
            ("org.opencontainers.image.title", self.node),
            ("org.opencontainers.image.version", version or pipeline.release),
            ("org.opencontainers.image.created", self.ctx.now.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ]
        if source:
            labels.append(("org.opencontainers.image.source", source))
        if revision:
            labels.append(("org.opencontainers.image.revision", revision))
        labels += [
            ("io.orchestrate.node", self.node),
            ("io.orchestrate.pipeline", pipeline.name),
            ("io.orchestrate.run", self.ctx.run_id),
        ]
        return labels

    def finish(
        self,
        *,
        parents: Sequence[str],
        labels: list[tuple[str, str]],
        config: Sequence[str],
        extra_tags: Sequence[str],
        verify: Sequence[Step] = (),
        plans: Mapping[str, NodePlan],
    ) -> NodePlan:
        """Add the commit, verification and tag steps, compute the key and freeze the plan."""
        for script in sorted(self.scripts):
            path = self.ctx.scripts_dir / script
            self.inputs[f"script:{script}"] = (
                cachekey.file_digest(path) if path.is_file() else ("missing")
            )
        for parent in parents:
            self.inputs[f"parent:{parent}"] = plans[parent].key
        key = cachekey.cache_key(self.inputs)
        image = f"{self.repository}:{key[:20]}"
        candidate = self.candidate
        labels = [*labels, (KEY_LABEL, key)]
        argv = ["buildah", "config"]
        for name, value in labels:
            argv += ["--label", f"{name}={value}"]
        argv += [*config, self.container]
        self.steps.append(Step(name="config", argv=tuple(argv)))
        self.steps.append(
            Step(
                name="commit",
                argv=("buildah", "commit", "--rm", "--quiet", self.container, candidate),
            )
        )
        self.steps += verify
        tags = self._tags(extra_tags)
        self.steps += _publish(candidate, image, tags)
        push = self._push(image, tags)
        return NodePlan(
            node=self.node,
            kind=self.kind,
            parents=tuple(parents),
            image=image,
            candidate=candidate,
            tags=tuple(tags),
            key=key,
            inputs=dict(self.inputs),
            env=tuple(sorted(self.env.items())),
            mounts=tuple(self.mounts),
            labels=tuple(labels),
            containers=tuple(self.containers),
            files=tuple(self.files),
            scratch=tuple(self.scratch),
            steps=tuple(self.steps),
            push=push,
            run_dir=self.node_dir,
        )

    def registry_options(self) -> list[str]:
        """TLS and credential options shared by pulls and pushes."""
        options = []
        if not self.settings.get_bool("tls_verify"):
            options.append("--tls-verify=false")
        if self.settings.get_str("cert_dir"):
            options += ["--cert-dir", self.settings.get_str("cert_dir")]
        if self.settings.get_str("authfile"):
            options += ["--authfile", self.settings.get_str("authfile")]
        return options

    def _tags(self, extra: Sequence[str]) -> list[str]:
        pipeline = self.resolved.pipeline
        values = {"release": pipeline.release, "date": self.ctx.date, "node": self.node}
        out = []
        for template in unique(pipeline.tags, extra):
            try:
                tag = template.format(**values)
            except (KeyError, IndexError, ValueError):
                tag = template
            out.append(f"{self.repository}:{tag}")
        return out

    def _push(self, image: str, tags: Sequence[str]) -> tuple[Step, ...]:
        registry = self.settings.get_str("registry").rstrip("/")
        if not self.settings.get_bool("push") or not registry:
            return ()
        steps = []
        for ref in (image, *tags):
            tag = ref.rsplit(":", 1)[1]
            dest = f"docker://{registry}/{self.node}:{tag}"
            argv = ("buildah", "push", *self.registry_options(), ref, dest)
            steps.append(Step(name=f"push:{tag}", argv=argv))
        return tuple(steps)


def _publish(candidate: str, image: str, tags: Sequence[str]) -> list[Step]:
    """Give a verified candidate its key tag and release tags in one call, then drop the
    candidate name: each call waits for the storage lock that concurrent commits hold."""
    return [
        Step(name="tag", argv=("buildah", "tag", candidate, image, *tags)),
        Step(name="untag-candidate", argv=("buildah", "rmi", candidate)),
    ]


def _from(container: str, image: str, pull: str = "never") -> Step:
    return Step(name="from", argv=("buildah", "from", "--name", container, f"--pull={pull}", image))


# -- base ----------------------------------------------------------------------------------


def _plan_base(resolved: ResolvedPipeline, ctx: PlanContext) -> NodePlan:
    spec = resolved.pipeline.base
    b = _Builder(BASE_NODE, NodeKind.BASE, resolved, ctx)
    b.input("refresh", refresh_period(spec.refresh, ctx.now))
    b.network_env(pip_index=False)
    if spec.kind == "mmdebstrap":
        _base_mmdebstrap(b, spec)
    else:
        b.input("from", spec.image)
        argv = (
            "buildah",
            "from",
            "--name",
            b.container,
            "--pull=missing",
            *b.registry_options(),
            spec.image,
        )
        b.steps.append(Step(name="from", argv=argv))
        b.input("packages", spec.packages)
        b.script_step(
            "install-packages", "install-packages.sh", {"PACKAGES": " ".join(spec.packages)}
        )
        b.script_step("cleanup", "cleanup.sh", {})
    config = ["--env", "LANG=C.UTF-8", "--cmd", "/bin/bash"]
    b.input("config", config)
    return b.finish(parents=(), labels=b.labels(), config=config, extra_tags=(), plans={})


def refresh_period(refresh: str, now: datetime) -> str:
    """The current period of a base's refresh policy, e.g. ``weekly:2026-W48``."""
    match refresh:
        case "daily":
            return f"daily:{now:%Y-%m-%d}"
        case "weekly":
            year, week, _ = now.isocalendar()
            return f"weekly:{year}-W{week:02d}"
        case "monthly":
            return f"monthly:{now:%Y-%m}"
    return "never"


def apt_sources(spec: BaseSpec, mirror: str) -> list[str]:
    """sources.list lines: the suite, its -updates and, with a security mirror, -security."""
    components = " ".join(spec.components)
    lines = [
        f"deb {mirror} {spec.suite} {components}",
        f"deb {mirror} {spec.suite}-updates {components}",
    ]
    if spec.security_mirror:
        lines.append(f"deb {spec.security_mirror} {spec.suite}-security {components}")
    return lines


def _base_mmdebstrap(b: _Builder, spec: BaseSpec) -> None:
    rootfs = b.node_dir / "rootfs.tar"
    mirror = b.settings.get_str("apt_mirror") or spec.mirror
    public = apt_sources(spec, spec.mirror)
    argv = [
        "mmdebstrap",
        f"--variant={spec.variant}",
        f"--components={','.join(spec.components)}",
        f"--include={','.join(spec.include)}",
        '--aptopt=APT::Install-Recommends "false"',
        '--aptopt=APT::Install-Suggests "false"',
        *[f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES],
        # The image keeps the public mirrors; a build-time apt_mirror is never baked in.
        "--customize-hook=printf '%s\\n' "
        + " ".join(shlex.quote(line) for line in public)
        + ' > "$1/etc/apt/sources.list"',
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
        spec.suite,
        str(rootfs),
        *apt_sources(spec, mirror),
    ]
    b.input("bootstrap", [spec.variant, *public, *spec.include, *DPKG_EXCLUDES])
    b.scratch.append(rootfs)
    b.steps.append(Step(name="bootstrap", argv=tuple(argv), host_env=b.host_network_env()))
    b.steps.append(_from(b.container, "scratch"))
    b.steps.append(Step(name="add-rootfs", argv=("buildah", "add", b.container, str(rootfs), "/")))


# -- requirements --------------------------------------------------------------------------


def _plan_requirements(
    resolved: ResolvedPipeline, graph: nx.DiGraph, ctx: PlanContext, plans: Mapping[str, NodePlan]
) -> NodePlan:
    pipeline = resolved.pipeline
    b = _Builder(REQUIREMENTS_NODE, NodeKind.REQUIREMENTS, resolved, ctx)
    b.network_env(pip_index=True)
    selected = [resolved.services[n] for n in order(graph) if n in resolved.services]
    build_packages = unique(
        resolved.catalog.common_build_packages,
        *(s.build_packages for s in selected),
        pipeline.requirements.build_packages,
    )
    requires = []
    pip_packages: list[str] = list(pipeline.requirements.pip_packages)
    for service in selected:
        fetched = ctx.sources.get(service.name)
        requires.append((fetched.requires if fetched else (), service.extras))
        pip_packages += service.pip_packages
    everything = (
        constraint_names(pipeline.constraints.upper)
        if (pipeline.requirements.scope == "all")
        else ()
    )
    wheels = plan_wheels(
        requires, pip_packages, toolchain=pipeline.toolchain.requirements(), everything=everything
    )
    req_file = b.node_dir / "requirements.txt"
    b.files.append(GeneratedFile(path=req_file, content="\n".join(wheels) + "\n"))
    b.input("build_packages", build_packages)
    b.input("wheels", wheels)
    b.input("toolchain", pipeline.toolchain.builder())
    constraint_files = [pipeline.constraints.upper]
    if pipeline.constraints.global_requirements is not None:
        constraint_files.append(pipeline.constraints.global_requirements)
    b.input("constraints", cachekey.files_digest(constraint_files))

    base = plans[BASE_NODE].image
    b.steps.append(_from(b.container, base))
    b.script_step(
        "install-build-packages", "install-packages.sh", {"PACKAGES": " ".join(build_packages)}
    )
    b.script_step(
        "setup-venv",
        "setup-venv.sh",
        {"VENV": VENV, "TOOLCHAIN": " ".join(pipeline.toolchain.builder())},
    )
    b.steps.append(
        Step(
            name="copy-constraints",
            argv=(
                "buildah",
                "copy",
                b.container,
                str(req_file),
                *map(str, constraint_files),
                WHEELS_DIR + "/",
            ),
        )
    )
    b.script_step(
        "build-wheels",
        "build-wheels.sh",
        {
            "VENV": VENV,
            "WHEELS_DIR": WHEELS_DIR,
            "REQUIREMENTS": f"{WHEELS_DIR}/requirements.txt",
            "CONSTRAINTS": f"{WHEELS_DIR}/{pipeline.constraints.upper.name}",
        },
    )
    b.script_step(
        "wheel-runtime-packages",
        "wheel-runtime-packages.sh",
        {"VENV": VENV, "WHEELS_DIR": WHEELS_DIR},
    )
    b.script_step("cleanup", "cleanup.sh", {"VENV": VENV})
    config = ["--env", PATH_ENV, "--env", f"WHEELS_DIR={WHEELS_DIR}"]
    b.input("config", config)
    return b.finish(
        parents=(BASE_NODE,), labels=b.labels(), config=config, extra_tags=(), plans=plans
    )


# -- services ------------------------------------------------------------------------------


def _plan_service(
    resolved: ResolvedPipeline,
    service: ServiceImage,
    ctx: PlanContext,
    plans: Mapping[str, NodePlan],
    parents: Sequence[str],
) -> NodePlan:
    pipeline = resolved.pipeline
    b = _Builder(service.name, NodeKind.SERVICE, resolved, ctx)
    b.network_env(pip_index=False)
    fetched = ctx.sources.get(service.name)
    wheels = plans[REQUIREMENTS_NODE].image
    b.input("project", service.project.name)
    b.input("dist_packages", service.dist_packages)
    b.input("pip_packages", service.pip_packages)
    b.input("profiles", service.profiles)
    b.input("extras", service.extras)
    b.input("user", f"{service.user}:{service.uid}:{service.gid}")
    b.input("toolchain", pipeline.toolchain.builder())
    b.input("source", _source_input(service, fetched))
    constraints = f"{WHEELS_IN_CTR}/{pipeline.constraints.upper.name}"

    if service.plugin:
        b.steps.append(_from(b.container, plans[service.parent].image))
    else:
        b.steps.append(_from(b.container, plans[BASE_NODE].image))
        b.script_step(
            "install-packages", "install-packages.sh", {"PACKAGES": " ".join(service.dist_packages)}
        )
        b.script_step(
            "create-user",
            "create-user.sh",
            {
                "SERVICE_USER": service.user,
                "SERVICE_UID": str(service.uid),
                "SERVICE_GID": str(service.gid),
            },
        )
        b.script_step(
            "setup-venv",
            "setup-venv.sh",
            {
                "VENV": VENV,
                "TOOLCHAIN": " ".join(pipeline.toolchain.requirements()),
                "WHEELS_DIR": WHEELS_IN_CTR,
            },
            wheels=wheels,
        )

    src_target = SRC_IN_CTR + "/"
    src_path = ""
    version = fetched.version if fetched else service.source.version
    if fetched is not None:
        if fetched.path.is_dir():
            src_path = f"{SRC_IN_CTR}/{service.project.name}"
            src_target = src_path
        else:
            src_path = f"{SRC_IN_CTR}/{fetched.path.name}"
        b.steps.append(
            Step(
                name="copy-source",
                argv=("buildah", "copy", b.container, str(fetched.path), src_target),
            )
        )
    install_env = {
        "VENV": VENV,
        "WHEELS_DIR": WHEELS_IN_CTR,
        "CONSTRAINTS": constraints,
        "PROJECT": service.project.pypi,
        "PROJECT_SRC": src_path,
        "PIP_PACKAGES": " ".join(service.pip_packages),
    }
    if fetched is not None and fetched.source.kind == "git" and version:
        install_env["PBR_VERSION"] = version
    b.script_step("install-project", "install-project.sh", install_env, wheels=wheels)
    for script in service.project_steps:
        b.input(f"step:{script}", script)
        b.script_step(
            script.removesuffix(".sh"), script, {"VENV": VENV, "SERVICE_USER": service.user}
        )
    for extra in service.extra_steps:
        _extra_step(b, extra)
    source_url = _source_url(service, fetched)
    revision = fetched.revision if fetched else ""
    b.script_step(
        "collect-info",
        "collect-info.sh",
        {
            "VENV": VENV,
            "PROJECT": service.project.pypi,
            "PROJECT_VERSION": version,
            "PROJECT_SOURCE": source_url,
            "PROJECT_REVISION": revision,
        },
    )
    b.script_step("cleanup", "cleanup.sh", {"VENV": VENV})
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
    smoke = _verify_steps(b, service)
    return b.finish(
        parents=parents,
        labels=b.labels(version=version, source=source_url, revision=revision),
        config=config,
        extra_tags=service.tags,
        verify=smoke,
        plans=plans,
    )


def _extra_step(b: _Builder, extra: ExtraStep) -> None:
    mounts = b.base_mounts()
    if extra.script is not None:
        b.input(f"extra:{extra.name}", cachekey.file_digest(extra.script))
        mount = Mount(source=str(extra.script), target=f"{IN_CTR}/extra-{extra.name}.sh")
        b.mounts.append(mount)
        mounts.append(mount)
        command = ["/bin/bash", mount.target]
    else:
        b.input(f"extra:{extra.name}", extra.run)
        command = ["/bin/bash", "-euo", "pipefail", "-c", extra.run]
    argv = (*b.run_prefix(mounts=mounts), b.container, "--", *command)
    b.steps.append(Step(name=extra.name, argv=argv))


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


def _verify_steps(b: _Builder, service: ServiceImage) -> list[Step]:
    """Smoke-test the committed image in a throwaway container (never the working one, which
    would leave __pycache__ behind), as the service user, and check its shared libraries."""
    smoke = f"{b.container}-smoke"
    b.containers.append(smoke)
    b.input("smoke", service.project.smoke)
    env_args = [a for k, v in service.project.smoke_env for a in ("--env", f"{k}={v}")]
    steps = [
        _from(smoke, b.candidate),
        Step(
            name="smoke",
            argv=(*b.run_prefix(user=service.user), *env_args, smoke, "--", *service.project.smoke),
        ),
    ]
    b.scripts.add("check-libs.sh")
    mounts = [Mount(source=str(b.ctx.scripts_dir), target=SCRIPTS_IN_CTR)]
    check = [
        *b.run_prefix(user="root", mounts=mounts),
        "--env",
        f"VENV={VENV}",
        smoke,
        "--",
        "/bin/bash",
        f"{SCRIPTS_IN_CTR}/run-step.sh",
        "check-libs.sh",
    ]
    steps.append(Step(name="check-libs", argv=tuple(check)))
    steps.append(Step(name="remove-smoke", argv=("buildah", "rm", smoke)))
    return steps


# -- children ------------------------------------------------------------------------------


def _plan_child(
    resolved: ResolvedPipeline, child: ChildSpec, ctx: PlanContext, plans: Mapping[str, NodePlan]
) -> NodePlan:
    b = _Builder(child.name, NodeKind.CHILD, resolved, ctx)
    b.containers.clear()
    parent_image = plans[child.parent].image
    b.input("containerfile", cachekey.file_digest(child.containerfile))
    b.input("context", "sha256:" + tree_hash(child.context))
    b.input("build_args", [f"{k}={v}" for k, v in child.build_args])
    candidate = b.candidate
    argv = [
        "buildah",
        "build",
        "--isolation",
        b.settings.get_str("isolation"),
        "--network",
        "host",
        "--layers=false",
        "--pull=never",
        "--from",
        parent_image,
        "--build-arg",
        f"PARENT_IMAGE={parent_image}",
    ]
    for k, v in child.build_args:
        argv += ["--build-arg", f"{k}={v}"]
    for name, value in b.labels():
        argv += ["--label", f"{name}={value}"]
    # The key label is added after the key is known, below, by rebuilding the argv tail.
    for parent in (child.parent,):
        b.inputs[f"parent:{parent}"] = plans[parent].key
    key = cachekey.cache_key(b.inputs)
    argv += [
        "--label",
        f"{KEY_LABEL}={key}",
        "-f",
        str(child.containerfile),
        "-t",
        candidate,
        str(child.context),
    ]
    image = f"{b.repository}:{key[:20]}"
    tags = b._tags(child.tags)
    steps = [Step(name="build", argv=tuple(argv)), *_publish(candidate, image, tags)]
    return NodePlan(
        node=child.name,
        kind=NodeKind.CHILD,
        parents=(child.parent,),
        image=image,
        candidate=candidate,
        tags=tuple(tags),
        key=key,
        inputs=dict(b.inputs),
        env=(),
        mounts=(),
        labels=(*b.labels(), (KEY_LABEL, key)),
        containers=(),
        files=(),
        scratch=(),
        steps=tuple(steps),
        push=b._push(image, tags),
        run_dir=b.node_dir,
    )


def describe_plan(plan: NodePlan) -> list[str]:
    """Human-readable lines for ``orchestrate plan``: key, image, inputs and every command."""
    lines = [
        f"== {plan.node} ({plan.kind.value})",
        f"   key:     {plan.key}",
        f"   image:   {plan.image}",
    ]
    if plan.parents:
        lines.append(f"   after:   {', '.join(plan.parents)}")
    if plan.tags:
        lines.append(f"   tags:    {', '.join(plan.tags)}")
    for generated in plan.files:
        shown = (
            "(network settings; not shown)"
            if generated.secret
            else (f"({len(generated.content.splitlines())} lines)")
        )
        lines.append(f"   writes:  {generated.path} {shown}")
    for index, step in enumerate((*plan.steps, *plan.push), start=1):
        lines.append(f"   {index:2d}. [{step.name}] {step.display()}")
    return lines
