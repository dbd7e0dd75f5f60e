"""What every node kind's plan shares: inputs, steps in the working container, network file,
labels, and :meth:`NodeBuilder.finish`, the one path from steps to a frozen plan with its key."""

from __future__ import annotations

import hashlib
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engine import buildah, naming
from orchestrator.engine.buildah import Isolation, Mount, RegistryAccess
from orchestrator.engine.naming import KEY_LABEL
from orchestrator.model.materials import Material, identity_digest
from orchestrator.model.pipeline import BASE_NODE, BaseSpec
from orchestrator.model.platforms import Platform
from orchestrator.model.references import render_tag
from orchestrator.model.resolve import ResolvedPipeline, unique
from orchestrator.model.states import NodeKind
from orchestrator.planning import cachekey, debs
from orchestrator.planning.nodeplan import (
    LISTS_RM,
    GeneratedFile,
    ListsFetch,
    NodePlan,
    PlanContext,
    Step,
)
from orchestrator.planning.refresh import source_date_epoch

VENV = "/var/lib/openstack"
WHEELS_DIR = "/wheels"
IN_CTR = "/run/orchestrate"
# Where a service step sees the wheels image's /wheels: under the /run tmpfs, so the mount
# point never becomes part of the image.
WHEELS_IN_CTR = f"{IN_CTR}/wheels"
SCRIPTS_IN_CTR = f"{IN_CTR}/scripts"
NETWORK_ENV_IN_CTR = f"{IN_CTR}/network.env"
CA_IN_CTR = f"{IN_CTR}/ca.crt"
UV_IN_CTR = f"{IN_CTR}/uv"
APT_PINS_IN_CTR = f"{IN_CTR}/apt-pins"
APT_CACHE_IN_CTR = f"{IN_CTR}/apt-cache"
APT_LISTS_IN_CTR = f"{IN_CTR}/apt-lists"
PROJECT_WHEELS_IN_CTR = f"{IN_CTR}/project-wheels"
PROJECT_WHEEL_OUT_IN_CTR = f"{IN_CTR}/project-wheel-out"
# The pins of the wheel set a node's key holds (NodeBuilder.installs), for install-project.
INSTALLS_IN_CTR = f"{IN_CTR}/installs.txt"
# The scripts each step script runs in turn (scripts/): in the key of every node that runs it.
HELPERS: Mapping[str, tuple[str, ...]] = {
    "install-project.sh": (
        "compile-bytecode.py",
        "install-packages.sh",
        "installed-wheels.py",
        "project-wheel-key.py",
    ),
    "install-packages.sh": ("apt-pins.sh",),
    "compile-stdlib.sh": ("compile-bytecode.py",),
    "check-runtime.sh": ("check-runtime.py",),
    "cleanup.sh": ("sweep-bytecode.py",),
}


def with_helpers(script: str) -> set[str]:
    """``script`` and every script it runs, and those they run."""
    out = {script}
    for helper in HELPERS.get(script, ()):
        out |= with_helpers(helper)
    return out


# Every image built in a working container carries a CycloneDX SBOM there (orchestrate sbom);
# the format's version enters the keys of the images that carry it.
SBOM_PATH = "/etc/image_info/sbom.cdx.json"
# The lean program that writes it (python -m), not the whole command line.
SBOM_STEP = "orchestrator.inspection.sbom_step"
# In a node's folder: what the sbom step read of orchestrate's documents in the working
# container (image_files.py), the SBOM beside them, laid out as in the image.
DOCUMENTS = "documents"
# The runtime completeness report (scripts/check-runtime.py) in the image, and its copy's name
# in the node's run folder.
RUNTIME_PATH = "/etc/image_info/runtime.json"
RUNTIME_REPORT = "runtime.json"
# /2: the constraints property only on images whose key holds the constraints.
SBOM_FORMAT = "cyclonedx-1.6/2"
# The version of what makes two builds of one key identical (bump it when that changes).
REPRODUCIBLE = "reproducible/1"
PATH_ENV = f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN_STEP = "run-step.sh"

# Turns the labels (the key label included) into the steps that produce the candidate image.
Producer = Callable[[Sequence[tuple[str, str]]], Sequence[Step]]


def apt_cache_dir(state_dir: Path, base: BaseSpec) -> Path:
    """The host's package cache for images on ``base`` (one per suite or base image): the
    .debs install-packages.sh takes after checking them against the package index."""
    name = base.suite if base.kind == "mmdebstrap" else base.image
    return state_dir / "apt-cache" / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def apt_lists_dir(state_dir: Path, base: BaseSpec, platform: Platform) -> Path:
    """The host's package lists for images on ``base`` of ``platform``, kept between runs
    (:class:`~orchestrator.planning.nodeplan.ListsFetch`)."""
    name = base.suite if base.kind == "mmdebstrap" else base.image
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    return state_dir / "apt-lists" / f"{name}@{platform.debian_arch}"


def project_wheels_dir(state_dir: Path) -> Path:
    """The host's cache of the services' own wheels built from their sdists, by the sdist's
    sha256 and the build environment's fingerprint (:mod:`~orchestrator.execution.
    project_wheels`)."""
    return state_dir / "project-wheels"


class NodeBuilder:
    """Accumulates the steps, inputs and files of one node's plan."""

    def __init__(self, node: str, kind: NodeKind, resolved: ResolvedPipeline, ctx: PlanContext):
        self.node = node
        self.kind = kind
        self.resolved = resolved
        self.ctx = ctx
        self.settings = ctx.settings
        self.platform = ctx.platform
        # The node's name in the graph (``keystone@arm64``); ``node`` names its image.
        self.qualified = ctx.qualify(node)
        self.container = naming.container_name(ctx.run_id, self.qualified)
        self.node_dir = ctx.run_dir / self.qualified
        self.steps: list[Step] = []
        # Every image of the run is dated at the start of the base's refresh period: file
        # times, the commit's timestamp, the created label and SOURCE_DATE_EPOCH of builds.
        self.epoch = source_date_epoch(resolved.pipeline.base.refresh, ctx.now)
        # Every image is committed with its times set to the epoch, from a layer scrubbed of
        # what differs between two builds (cleanup.sh): images made before were dated by the
        # build, so the epoch and the version of that recipe are inputs of every key.
        self.inputs: dict[str, str] = {
            "kind": kind.value,
            "reproducible": f"{REPRODUCIBLE}@{self.epoch}",
            # An image of one platform is never another's, whatever else they share.
            "platform": self.platform.name,
        }
        self.files: list[GeneratedFile] = []
        self.scratch: list[Path] = []
        self.folders: list[Path] = []
        self.containers: list[str] = [self.container]
        self.scripts: set[str] = {RUN_STEP}
        # The image this node starts FROM, and the distro packages it asks apt for (the
        # base's bootstrap: the variant and its includes): the ``archive`` input's sources.
        self.from_image = ""
        self.requested: list[str] = []
        # The run's package lists this node reads (its install-packages step's), if any.
        self.lists: ListsFetch | None = None
        self.bootstrap: tuple[str, tuple[str, ...]] | None = None
        self.deb_suites: dict[str, str] = {}
        self.materials: list[Material] = []
        self.wheels_image = ""
        # Set by :meth:`finish` (the SBOM step reads them): see ``NodePlan.constraints``.
        self.constraints = ""
        self.constraints_revision = ""
        # The pins of the wheel set this node installs, keying it in place of the wheels
        # image's key (planning.requirements.installs), or None: keyed by that key.
        self.installs: tuple[str, ...] | None = None
        namespace = self.settings.namespace.rstrip("/")
        self.repository = f"{namespace}/{node}"
        variant = self.platform.arch if ctx.qualified else ""
        if kind == NodeKind.MANIFEST:
            variant = "list"
        self.candidate = naming.candidate_name(self.repository, ctx.run_id, variant)
        self.isolation = Isolation(isolation=self.settings.isolation, runtime=self.settings.runtime)
        self.registry = RegistryAccess(
            tls_verify=self.settings.tls_verify,
            cert_dir=self.settings.cert_dir,
            authfile=self.settings.authfile,
        )

    # inputs -------------------------------------------------------------------------------
    def input(self, name: str, value: str | Sequence[str]) -> None:
        self.inputs[name] = value if isinstance(value, str) else "\n".join(value)

    # steps --------------------------------------------------------------------------------
    def step(
        self,
        name: str,
        argv: Sequence[str],
        *,
        needs: tuple[str, ...] = (),
        background: bool = False,
        host_env: tuple[str, ...] = (),
        lists: ListsFetch | None = None,
    ) -> None:
        """Add a step; see :class:`Step` for ``needs`` (parents by image name),
        ``background``, ``host_env`` and ``lists``."""
        needs = tuple(self.ctx.qualify(parent) for parent in needs)
        self.steps.append(
            Step(
                name=name,
                argv=tuple(argv),
                needs=needs,
                background=background,
                host_env=host_env,
                lists=lists,
            )
        )

    def from_step(self, image: str, *, pull: str = "never") -> None:
        """``from``: the working container, of ``image`` for this node's platform."""
        registry = self.registry if pull != "never" else None
        self.from_image = image
        argv = buildah.from_image(
            self.container, image, pull=pull, registry=registry, platform=self.platform.name
        )
        self.step("from", argv)

    def run_in(
        self,
        container: str,
        command: Sequence[str],
        *,
        user: str = "",
        mounts: Sequence[Mount] = (),
        env: Sequence[tuple[str, str]] = (),
    ) -> tuple[str, ...]:
        """The argv of ``buildah run`` with this run's isolation."""
        return buildah.run(
            container, command, isolation=self.isolation, user=user, mounts=mounts, env=env
        )

    def script_step(
        self,
        name: str,
        script: str,
        env: Mapping[str, str],
        *,
        wheels: str = "",
        needs: tuple[str, ...] = (),
        background: bool = False,
        mounts: Sequence[Mount] = (),
        lists: ListsFetch | None = None,
        then: Sequence[tuple[str, Mapping[str, str]]] = (),
    ) -> None:
        """Run ``scripts/<script>`` in the working container with ``env`` as its inputs.

        Args:
            wheels: the wheels image to bind-mount read-only for this step, if any.
            needs: parents that must have succeeded before this step (the node may have
                started earlier).
            background: run at low CPU priority (work done ahead of a parent on the critical
                path).
            mounts: more bind mounts for this step (a local package index).
            lists: the run's package lists, fetched before this step (once per run).
            then: more (script, env) to run after ``script`` in the same ``buildah run``
                (each run costs about 0.2 CPU-s to set up), which stops at the first that
                fails; their inputs join ``env`` and must not contradict it.
        """
        scripts = [script, *(name for name, _ in then)]
        run = set().union(*(with_helpers(each) for each in scripts))
        self.scripts.update(run)
        if lists is None and self.lists is not None and "install-packages.sh" in run:
            # A later step that may install packages too (install-project: the runtime
            # packages of compiled wheels) reads the same lists, not a later fetch of its own.
            lists = self.lists
            mounts = [*mounts, Mount(source=str(lists.folder), target=APT_LISTS_IN_CTR)]
        env = {"SOURCE_DATE_EPOCH": str(self.epoch), **env}
        for each, more in then:
            for variable, value in more.items():
                if env.setdefault(variable, value) != value:
                    raise ValueError(f"{self.qualified}: {each} needs another {variable}")
        step_mounts = [*self.base_mounts(), *mounts]
        if wheels:
            self.wheels_image = wheels
            step_mounts.append(Mount(image=wheels, source=WHEELS_DIR, target=WHEELS_IN_CTR))
            if self.resolved.pipeline.toolchain.uv:
                # uv, the pinned installer, comes from the wheels image's builder venv, for
                # the duration of the step: it is never installed into the service image.
                uv = Mount(image=wheels, source=f"{VENV}/bin/uv", target=UV_IN_CTR)
                step_mounts.append(uv)
                env = {**env, "UV": UV_IN_CTR}
        argv = self.run_in(
            self.container,
            ["/bin/bash", f"{SCRIPTS_IN_CTR}/{RUN_STEP}", *scripts],
            mounts=step_mounts,
            env=tuple(env.items()),
        )
        self.step(name, argv, needs=needs, background=background, lists=lists)

    def install_packages(
        self,
        packages: Sequence[str],
        *,
        name: str = "install-packages",
        background: bool = False,
        lists_from: str = "",
        then: Sequence[tuple[str, Mapping[str, str]]] = (),
    ) -> None:
        """``install-packages.sh``: distro packages with apt, the way every node installs
        them; what it is given is what the ``archive`` input follows. Nothing to install, no
        step (a ``buildah run`` costs 0.4 CPU-s even to say so).

        Args:
            lists_from: the base image: apt reads the run's package lists, fetched once in a
                container of it (:meth:`lists_fetch`), instead of fetching its own ("": the
                base itself, which has no base image yet).
            then: more scripts run in the same step (see :meth:`script_step`).
        """
        if not packages:
            return
        self.requested += packages
        fetch = self.lists_fetch(lists_from) if lists_from else None
        self.lists = self.lists or fetch
        self.script_step(
            name,
            "install-packages.sh",
            {"PACKAGES": " ".join(packages)},
            background=background,
            mounts=[Mount(source=str(fetch.folder), target=APT_LISTS_IN_CTR)] if fetch else [],
            lists=fetch,
            then=then,
        )

    def lists_fetch(self, image: str) -> ListsFetch:
        """The run's package lists for this node's platform: ``apt-get update`` once, by
        install-packages.sh in a throwaway container of ``image`` (the base), into a folder
        of the run that every node's install-packages then mounts read-only. Each node
        fetching its own cost 1.6-1.8 CPU-s (9.4 MB of lists fetched and parsed); a
        writable folder shared by the nodes' own steps would let one step change what
        another installs."""
        folder = self.ctx.run_dir / ".apt-lists" / self.ctx.qualify(BASE_NODE)
        kept = apt_lists_dir(self.settings.state_dir, self.resolved.pipeline.base, self.platform)
        container = naming.container_name(self.ctx.run_id, f"{self.qualified}-apt-lists")
        mounts = [
            *self.base_mounts(),
            Mount(source=str(kept), target=APT_LISTS_IN_CTR, readonly=False),
        ]
        env = (("SOURCE_DATE_EPOCH", str(self.epoch)), ("APT_LISTS_FETCH", "yes"))
        command = ["/bin/bash", f"{SCRIPTS_IN_CTR}/{RUN_STEP}", "install-packages.sh"]
        return ListsFetch(
            folder=folder,
            kept=kept,
            container=container,
            node=self.ctx.qualify(BASE_NODE),
            steps=(
                Step(
                    name="apt-lists-from",
                    argv=buildah.from_image(container, image, platform=self.platform.name),
                ),
                Step(
                    name="apt-lists", argv=self.run_in(container, command, mounts=mounts, env=env)
                ),
                Step(name=LISTS_RM, argv=buildah.rm(container)),
            ),
        )

    def installs_check(self, env: dict[str, str]) -> list[Mount]:
        """With :attr:`installs` set: the pins in a file of the node's (one a line), mounted
        for install-project.sh, which checks the step installs nothing else (``INSTALLS``)."""
        if self.installs is None:
            return []
        path = self.node_dir / "installs.txt"
        self.files.append(
            GeneratedFile(path=path, content="".join(f"{p}\n" for p in self.installs))
        )
        env["INSTALLS"] = INSTALLS_IN_CTR
        return [Mount(source=str(path), target=INSTALLS_IN_CTR)]

    def venv_from_wheels(self, wheels: str, needs: tuple[str, ...]) -> None:
        """``setup-venv``: the runtime venv at VENV with the pinned toolchain, from the wheels
        image ``wheels`` (a step that waits for ``needs``)."""
        self.script_step(
            "setup-venv",
            "setup-venv.sh",
            {
                "VENV": VENV,
                "TOOLCHAIN": " ".join(self.resolved.pipeline.toolchain.requirements()),
                "WHEELS_DIR": WHEELS_IN_CTR,
            },
            wheels=wheels,
            needs=needs,
        )

    def base_mounts(self) -> list[Mount]:
        """/run as a tmpfs (bind-mount points land there and vanish with the step instead of
        in the image), the scripts, the network file, the CA bundle, the recorded package
        versions (apt_pins) and the host's package cache (writable)."""
        mounts = [
            Mount(target="/run", tmpfs=True),
            Mount(source=str(self.ctx.inputs.scripts_dir), target=SCRIPTS_IN_CTR),
            Mount(source=str(self.network_env_path()), target=NETWORK_ENV_IN_CTR),
        ]
        ca = self.settings.ca_bundle
        if ca:
            mounts.append(Mount(source=ca, target=CA_IN_CTR))
        pins = self.apt_pins()
        if pins:
            mounts.append(Mount(source=pins, target=APT_PINS_IN_CTR))
        cache = apt_cache_dir(self.settings.state_dir, self.resolved.pipeline.base)
        mounts.append(Mount(source=str(cache), target=APT_CACHE_IN_CTR, readonly=False))
        return mounts

    def apt_pins(self) -> str:
        """The file of package versions this node's apt must install (setting apt_pins),
        named after the node (``keystone@arm64.txt``: each platform its own)."""
        folder = self.settings.apt_pins
        return str(Path(folder) / f"{self.qualified}.txt") if folder else ""

    def network_env_path(self) -> Path:
        return self.node_dir / "network.env"

    def network_env(self, *, pip_index: bool) -> None:
        """Write the proxy/mirror/CA settings to a file mounted at build time only.

        They are never passed as ``--env`` or ``buildah config``, so they cannot reach the
        image config, its history or the logged argv.
        """
        s = self.settings
        values: dict[str, str] = {}
        for name, proxy in s.proxies.items():
            if proxy:
                values[name] = values[name.upper()] = proxy
        if s.ca_bundle:
            for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
                values[name] = CA_IN_CTR
        if pip_index and s.pip_index_url:
            values["PIP_INDEX_URL"] = s.pip_index_url
        if pip_index and s.pip_extra_index_urls:
            values["PIP_EXTRA_INDEX_URL"] = " ".join(s.pip_extra_index_urls)
        if s.apt_mirror:
            values["APT_MIRROR"] = s.apt_mirror
            values["APT_MIRROR_REPLACES"] = self.resolved.pipeline.base.mirror
        lines = [f"{k}={shlex.quote(v)}" for k, v in values.items()]
        self.files.append(
            GeneratedFile(
                path=self.network_env_path(), content="\n".join(lines) + "\n", secret=True
            )
        )

    def host_network_env(self) -> tuple[str, ...]:
        """The proxy settings a step on the host (mmdebstrap) gets in its environment."""
        return tuple(name for name, proxy in self.settings.proxies.items() if proxy)

    def labels(
        self, version: str = "", source: str = "", revision: str = ""
    ) -> list[tuple[str, str]]:
        pipeline = self.resolved.pipeline
        labels = [
            ("org.opencontainers.image.title", self.node),
            ("org.opencontainers.image.version", version or pipeline.release),
            (
                "org.opencontainers.image.created",
                f"{datetime.fromtimestamp(self.epoch, UTC):%Y-%m-%dT%H:%M:%SZ}",
            ),
        ]
        if source:
            labels.append(("org.opencontainers.image.source", source))
        if revision:
            labels.append(("org.opencontainers.image.revision", revision))
        labels += [
            ("io.orchestrate.node", self.node),
        ]
        return labels

    def commit_working_container(self, config: Sequence[str], *, sbom: bool = True) -> Producer:
        """The usual producer: the SBOM of what the working container holds, written on the
        host and copied in (the step settles /run too: :mod:`orchestrator.inspection.sbom_step`;
        unless ``sbom`` is false: an image taken as it is); then ``buildah config`` (labels,
        then ``config``) and commit."""
        if sbom:
            self.input("sbom", SBOM_FORMAT)  # images made before carried none

        def produce(labels: Sequence[tuple[str, str]]) -> list[Step]:
            return [
                *(self._sbom(labels) if sbom else ()),
                Step(
                    name="config",
                    argv=buildah.config(
                        self.container,
                        labels=labels,
                        options=[*config, *buildah.FORGET_BASE_NAME],
                    ),
                ),
                Step(
                    name="commit",
                    argv=buildah.commit(self.container, self.candidate, timestamp=self.epoch),
                ),
            ]

        return produce

    # the one way out ---------------------------------------------------------------------
    def _sbom(self, labels: Sequence[tuple[str, str]]) -> list[Step]:
        """``orchestrate sbom`` of the working container, then into ``SBOM_PATH``. Only what
        does not change between two builds of the same key goes in (no run id, date or
        pipeline name: pipelines that share a node share its image). The step keeps what it
        read of orchestrate's other documents in ``DOCUMENTS``: the provenance and the pushed
        SBOM read them there, not from the committed image through another mount."""
        documents = self.node_dir / DOCUMENTS
        written = documents / SBOM_PATH.lstrip("/")
        values = dict(labels)
        properties = [f"key={values.get(KEY_LABEL, '')}"]
        if self.constraints:
            properties.append(f"constraints={self.constraints}")
            if self.constraints_revision:
                properties.append(f"constraints_revision={self.constraints_revision}")
        version = values.get("org.opencontainers.image.version", "")
        argv = [sys.executable, "-m", SBOM_STEP, self.container, str(documents), self.node, version]
        argv += properties
        return [
            Step(name="sbom", argv=tuple(argv)),
            Step(name="copy-sbom", argv=buildah.copy(self.container, [str(written)], SBOM_PATH)),
        ]

    def clean_and_finish(
        self,
        *,
        parents: Sequence[str],
        plans: Mapping[str, NodePlan],
        origins: Sequence[tuple[str, str]] = (),
    ) -> NodePlan:
        """The end of a node that images are built FROM and no host runs (wheel-builder, the
        shared nodes): ``cleanup``, the venv on PATH, then :meth:`finish`."""
        self.script_step("cleanup", "cleanup.sh", {"VENV": VENV})
        config = ["--env", PATH_ENV]
        self.input("config", config)
        return self.finish(
            parents=parents,
            labels=self.labels(),
            produce=self.commit_working_container(config),
            plans=plans,
            origins=origins,
        )

    def finish(
        self,
        *,
        parents: Sequence[str],
        labels: Sequence[tuple[str, str]],
        produce: Producer,
        plans: Mapping[str, NodePlan],
        extra_tags: Sequence[str] = (),
        verify: Sequence[Step] = (),
        origins: Sequence[tuple[str, str]] = (),
    ) -> NodePlan:
        """Compute the key, add the steps that produce the candidate, its checks, the tags
        and the pushes, and freeze the plan.

        Args:
            parents: the nodes whose keys enter this one's.
            labels: the image's labels; the key label is added here.
            produce: the steps that make the candidate image, given the final labels.
            plans: the plans made so far (parents' keys).
            extra_tags: the node's own tag templates, after the pipeline's.
            verify: checks of the committed candidate, run before it is tagged.
        """
        scripts = self.ctx.inputs.scripts
        for script in sorted(self.scripts):
            self.inputs[f"script:{script}"] = scripts.get(script, "missing")
        for parent in parents:
            recipe = plans[parent].wheel_recipe
            if recipe and self.installs is not None:
                # Of the wheels image, what its wheels are made by and the pins this node
                # installs, not every pin of it: a new pin of what it does not install
                # leaves it as it is.
                self.inputs["wheels_recipe"] = recipe
                self.inputs["installs"] = "\n".join(self.installs)
            else:
                self.inputs[f"parent:{parent}"] = plans[parent].key
        debs = self._archive_input(plans)
        # The constraints it is built under, when its key holds them, here or through a
        # parent's key (the wheels image and what installs from it; not the wheel-builder,
        # not the base): the upper-constraints file, or the pins resolved from it.
        self._own_constraints()
        for parent in parents:
            if not self.constraints and plans[parent].constraints:
                self.constraints = plans[parent].constraints
                self.constraints_revision = plans[parent].constraints_revision
        materials = [*self._parent_materials(parents, plans), *self._constraints_material()]
        # Everything the image holds is a function of its key, its labels too: two pipelines
        # that share a node share its image only where they would label it the same.
        self.inputs["labels"] = "\n".join(f"{name}={value}" for name, value in labels)
        key = cachekey.cache_key(self.inputs)
        image = f"{self.repository}:{key[:20]}"
        # Of several platforms, the release tags name the manifest list (its own node).
        tags = [] if self.ctx.qualified else self.release_tags(extra_tags)
        remote = self.remote_repository()
        steps = [
            *self.steps,
            *produce([*labels, (KEY_LABEL, key)]),
            *verify,
            # The verified candidate becomes the key image; release tags move only after
            # its pushes (NodePlan.release).
            Step(name="tag", argv=buildah.tag(self.candidate, image)),
            Step(name="untag-candidate", argv=buildah.rmi(self.candidate)),
        ]
        release = (Step(name="tag-release", argv=buildah.tag(image, *tags)),) if tags else ()
        return NodePlan(
            node=self.qualified,
            kind=self.kind,
            parents=tuple(self.ctx.qualify(parent) for parent in parents),
            image=image,
            candidate=self.candidate,
            tags=tuple(tags),
            key=key,
            inputs=dict(self.inputs),
            containers=tuple(self.containers),
            files=tuple(self.files),
            scratch=tuple(self.scratch),
            folders=tuple(self.folders),
            steps=tuple(steps),
            push=self._push(image, f"{remote}:{key[:20]}"),
            release=release,
            run_dir=self.node_dir,
            remote=remote,
            release_tags=tuple(tag.rsplit(":", 1)[1] for tag in tags),
            origins=tuple(origins),
            debs=debs,
            deb_suites=dict(self.deb_suites),
            materials=(*materials, *self.materials),
            constraints=self.constraints,
            constraints_revision=self.constraints_revision,
            # A venv inherited from a parent (storage-base on openstack-base) has its wheels.
            wheels_image=self.wheels_image
            or next((plans[p].wheels_image for p in parents if plans[p].wheels_image), ""),
        )

    def _parent_materials(
        self, parents: Sequence[str], plans: Mapping[str, NodePlan]
    ) -> list[Material]:
        """Each parent image, named as a consumer finds it (its key tag in the registry,
        else locally), with its key."""
        return [
            Material(
                name=f"parent:{parent}",
                uri=plans[parent].remote_key or plans[parent].image,
                image=plans[parent].image,
                annotations=(("key", plans[parent].key),),
            )
            for parent in parents
            if plans[parent].kind != NodeKind.MANIFEST
        ]

    def _own_constraints(self) -> None:
        """The constraints this node's own inputs hold: the upper-constraints file (and its
        commit), the pins of the wheel set resolved from it (``resolved.txt``), or those of
        them this node installs."""
        for held in ("resolved", "installs"):
            if held in self.inputs:
                pins = self.inputs[held] + "\n"
                self.constraints = "sha256:" + hashlib.sha256(pins.encode()).hexdigest()
                return
        if "constraints" in self.inputs:
            upper = self.resolved.pipeline.constraints.upper
            self.constraints = self.ctx.inputs.files.get(upper, "")
            self.constraints_revision = self.resolved.pipeline.constraints.revision

    def _constraints_material(self) -> list[Material]:
        """The constraints the node is built under, when its key holds them (as its SBOM
        says: the ``constraints`` property): the upper-constraints file, or the wheel set's
        pins resolved from it (annotated so)."""
        if not self.constraints:
            return []
        constraints = self.resolved.pipeline.constraints
        uri = constraints.git.describe() if constraints.git else f"file://{constraints.upper}"
        extra = (("gitCommit", self.constraints_revision),) if self.constraints_revision else ()
        resolved = self.constraints != self.ctx.inputs.files.get(constraints.upper, "")
        if "installs" in self.inputs:
            content = "the pins resolved from it that this image installs"
        else:
            content = "the wheel set's pins resolved from it"
        notes = (("content", content),) if resolved else ()
        return [
            Material(
                name="constraints",
                uri=uri,
                digest=identity_digest(self.constraints) + extra,
                annotations=notes,
            )
        ]

    def _archive_input(self, plans: Mapping[str, NodePlan]) -> frozenset[str]:
        """With the archive's candidates (``refresh: updates``): the ``archive`` input, the
        version of each package this node's apt installs beyond what its FROM image holds;
        returns every package the image holds. Without them, nothing."""
        index = self.ctx.inputs.archive.get(self.platform.debian_arch)
        if index is None:
            return frozenset()
        start = next((p for p in plans.values() if p.image == self.from_image), None)
        have = start.debs if start is not None else frozenset()
        if self.bootstrap is not None:
            requested = debs.base_request(index, *self.bootstrap)
        else:
            requested = self.requested
        if not requested:
            return have
        new = debs.closure(index, requested, have)
        held = self.ctx.inputs.pinned.get(self.qualified, {})
        new = {n: replace(d, version=held[n]) if n in held else d for n, d in new.items()}
        self.inputs["archive"] = "\n".join(debs.archive_lines(new))
        self.deb_suites = {name: deb.suite for name, deb in new.items()}
        return have | frozenset(new)

    def release_tags(self, extra: Sequence[str] = ()) -> list[str]:
        """The pipeline's tag templates, then ``extra``, made tags of this node's image."""
        pipeline = self.resolved.pipeline
        return [
            f"{self.repository}:"
            + render_tag(template, release=pipeline.release, date=self.ctx.date, node=self.node)
            for template in unique(pipeline.tags, extra)
        ]

    def remote_repository(self) -> str:
        """``<registry>/<node>``, or "" when no registry is set."""
        registry = self.settings.registry.rstrip("/")
        return f"{registry}/{self.node}" if registry else ""

    def _push(self, image: str, remote_key: str) -> tuple[Step, ...]:
        """The key image pushed under its key tag; release tags are promoted after the run
        (all or nothing), not here."""
        if not self.settings.push or not self.remote_repository():
            return ()
        argv = buildah.push(image, remote_key, registry=self.registry)
        return (Step(name=f"push:{remote_key.rsplit(':', 1)[1]}", argv=argv),)
