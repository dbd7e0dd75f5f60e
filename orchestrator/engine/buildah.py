"""Everything orchestrate says to buildah and podman: one pure function per command it uses,
each returning the argv. Planning calls them to write a node's steps, and
:class:`~orchestrator.engine.storage.Storage` to query and tidy local storage; no other module
writes a buildah or podman argv.

Names (run ids, working containers, candidate tags) are made and matched in
:mod:`orchestrator.engine.naming`. This module runs nothing and imports nothing that does:
commands are run by a :class:`~orchestrator.engine.runner.Runner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.errors import StepFailedError

# -- argv builders ---------------------------------------------------------------------------


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
        # buildah's bind mounts are read-only unless told otherwise: say it either way.
        parts.append("ro" if self.readonly else "rw")
        return ",".join(parts)


@dataclass(frozen=True, kw_only=True)
class Isolation:
    """How ``buildah run`` and ``buildah build`` isolate a step."""

    isolation: str = "chroot"
    runtime: str = ""

    def options(self) -> list[str]:
        argv = ["--isolation", self.isolation]
        if self.isolation == "oci" and self.runtime:
            argv += ["--runtime", self.runtime]
        return argv


@dataclass(frozen=True, kw_only=True)
class RegistryAccess:
    """TLS and credential options shared by pulls and pushes; credentials stay in the
    authfile, never in an argv."""

    tls_verify: bool = True
    cert_dir: str = ""
    authfile: str = ""

    def options(self, prefix: str = "") -> list[str]:
        """The flags; ``prefix`` names one side of a copy (skopeo's ``src-``, ``dest-``)."""
        argv = []
        if not self.tls_verify:
            argv.append(f"--{prefix}tls-verify=false")
        if self.cert_dir:
            argv += [f"--{prefix}cert-dir", self.cert_dir]
        if self.authfile:
            argv += [f"--{prefix}authfile", self.authfile]
        return argv


Argv = tuple[str, ...]


def from_image(
    container: str,
    image: str,
    *,
    pull: str = "never",
    registry: RegistryAccess | None = None,
    platform: str = "",
) -> Argv:
    """``buildah from``: a named working container of ``image`` (``scratch`` for none); with
    ``platform`` (``linux/arm64``), of that platform: the variant pulled from a manifest
    list, the architecture of a scratch image's config."""
    access = registry.options() if registry is not None else []
    return (
        "buildah", "from", "--name", container, f"--pull={pull}", *access,
        *platform_options(platform), image,
    )  # fmt: skip


def platform_options(platform: str) -> list[str]:
    """``--os``/``--arch`` of ``linux/arm64``; none for ""."""
    if not platform:
        return []
    os_name, _, arch = platform.partition("/")
    return ["--os", os_name, "--arch", arch]


def run(
    container: str,
    command: Sequence[str],
    *,
    isolation: Isolation,
    user: str = "",
    mounts: Sequence[Mount] = (),
    env: Sequence[tuple[str, str]] = (),
) -> Argv:
    """``buildah run`` of ``command`` in ``container``, on the host network."""
    argv = ["buildah", "run", *isolation.options(), "--network", "host"]
    if user:
        argv += ["--user", user]
    for mount in mounts:
        argv += ["--mount", mount.option()]
    for key, value in env:
        argv += ["--env", f"{key}={value}"]
    return (*argv, container, "--", *command)


def isolation_of(argv: Sequence[str]) -> str | None:
    """The ``--isolation`` of a ``buildah run`` or ``buildah build`` argv, or None."""
    if tuple(argv[:2]) not in (("buildah", "run"), ("buildah", "build")):
        return None
    args = list(argv)
    return args[args.index("--isolation") + 1] if "--isolation" in args else None


def with_isolation(argv: Sequence[str], isolation: Isolation) -> Argv:
    """The same ``buildah run``/``build`` argv with another isolation (and runtime)."""
    rest: list[str] = []
    args = list(argv[2:])
    while args:
        arg = args.pop(0)
        if arg in ("--isolation", "--runtime"):
            args.pop(0)
        else:
            rest.append(arg)
    return (*argv[:2], *isolation.options(), *rest)


def run_container(argv: Sequence[str]) -> str:
    """The container a ``buildah run`` argv runs in (the argument before ``--``)."""
    args = list(argv)
    return args[args.index("--") - 1]


def probe(container: str, isolation: Isolation) -> Argv:
    """``buildah run`` of ``/bin/true`` in ``container``: can this isolation start at all?"""
    return run(container, ["/bin/true"], isolation=isolation)


def config(container: str, *, labels: Sequence[tuple[str, str]], options: Sequence[str]) -> Argv:
    """``buildah config``: labels, then image config options (``--env``, ``--user``, ...)."""
    argv = ["buildah", "config"]
    for name, value in labels:
        argv += ["--label", f"{name}={value}"]
    return (*argv, *options, container)


def commit(container: str, image: str, *, timestamp: int | None = None) -> Argv:
    """``buildah commit`` a working container to ``image``, removing the container.

    With ``timestamp`` (seconds since the epoch), the commit is reproducible: the image's
    dates and every file time in the new layer are set to it, and the history is left out
    (buildah writes the parent's local name into it, ``FROM localhost/x/base:...``, which
    differs between hosts), so two commits of the same files give the same image.
    """
    stamp = ("--timestamp", str(timestamp), "--omit-history") if timestamp is not None else ()
    return ("buildah", "commit", "--rm", "--quiet", *stamp, container, image)


# The parent's local name, which buildah records in the manifest of the image committed from
# it: not the same on two hosts (the parent's digest, which is, stays).
FORGET_BASE_NAME = ("--annotation", "org.opencontainers.image.base.name-")


def add(container: str, source: str, dest: str) -> Argv:
    """``buildah add`` (unpacks a tarball) into a working container."""
    return ("buildah", "add", container, source, dest)


def copy(container: str, sources: Sequence[str], dest: str, *, ignorefile: str = "") -> Argv:
    """``buildah copy`` host files into a working container; with ``ignorefile`` (one source
    folder), what it lists is left out."""
    if ignorefile:
        (folder,) = sources
        return (
            "buildah", "copy", "--contextdir", folder, "--ignorefile", ignorefile,
            container, folder, dest,
        )  # fmt: skip
    return ("buildah", "copy", container, *sources, dest)


def build(
    *,
    containerfile: str,
    context: str,
    tag: str,
    parent_image: str,
    isolation: Isolation,
    build_args: Sequence[tuple[str, str]] = (),
    labels: Sequence[tuple[str, str]] = (),
    timestamp: int | None = None,
    platform: str = "",
) -> Argv:
    """``buildah build`` of a Containerfile FROM ``parent_image`` (never pulled), for
    ``platform`` when given; with
    ``timestamp``, dated by it (image, files, and SOURCE_DATE_EPOCH as a build argument) and
    without history, as :func:`commit` does."""
    argv = [
        "buildah",
        "build",
        *isolation.options(),
        "--network",
        "host",
        "--layers=false",
        "--pull=never",
        *(["--platform", platform] if platform else []),
        "--from",
        parent_image,
        "--build-arg",
        f"PARENT_IMAGE={parent_image}",
    ]
    if timestamp is not None:
        argv += ["--timestamp", str(timestamp), "--omit-history"]
        argv += ["--build-arg", f"SOURCE_DATE_EPOCH={timestamp}"]
    for key, value in build_args:
        argv += ["--build-arg", f"{key}={value}"]
    for name, value in labels:
        argv += ["--label", f"{name}={value}"]
    return (*argv, "-f", containerfile, "-t", tag, context)


def pull(ref: str, *, registry: RegistryAccess) -> Argv:
    """``buildah pull`` of ``ref`` (by digest: exactly the image that was looked up)."""
    return ("buildah", "pull", "--policy", "always", *registry.options(), f"docker://{ref}")


def tag(image: str, *names: str) -> Argv:
    """``buildah tag``: give ``image`` more names, in one call (each waits for the lock)."""
    return ("buildah", "tag", image, *names)


def rmi(*images: str) -> Argv:
    """``buildah rmi``: remove image names (the image goes with its last name)."""
    return ("buildah", "rmi", *images)


def manifest_create(name: str) -> Argv:
    """``buildah manifest create``: an empty manifest list named ``name``."""
    return ("buildah", "manifest", "create", name)


def manifest_add(name: str, image: str) -> Argv:
    """``buildah manifest add`` of a local image (its platform from its config)."""
    return ("buildah", "manifest", "add", name, f"containers-storage:{image}")


def manifest_rm(name: str) -> Argv:
    """``buildah manifest rm``: a name of a manifest list (the list goes with its last
    name). Never ``rmi``: on a list, buildah 1.28 removes the host platform's image."""
    return ("buildah", "manifest", "rm", name)


def manifest_exists(name: str) -> Argv:
    """``podman manifest exists``: exit 0 when local storage has a manifest list of that
    name (``buildah manifest inspect`` would ask the registry the name points at)."""
    return ("podman", "manifest", "exists", name)


def manifest_push(name: str, destination: str, *, registry: RegistryAccess) -> Argv:
    """``buildah manifest push --all``: the list and every image it names, as they are
    (``--format`` unset: the members' OCI manifests keep their digests)."""
    return (
        "buildah", "manifest", "push", "--all", *registry.options(), name,
        f"docker://{destination}",
    )  # fmt: skip


def mount(container: str) -> Argv:
    """``buildah mount``: print the path of a working container's root on the host."""
    return ("buildah", "mount", container)


def umount(container: str) -> Argv:
    """``buildah umount`` a working container's root."""
    return ("buildah", "umount", container)


def rm(*containers: str) -> Argv:
    """``buildah rm``: remove working containers."""
    return ("buildah", "rm", *containers)


def push(ref: str, destination: str, *, registry: RegistryAccess) -> Argv:
    """``buildah push`` a local image to ``docker://destination``."""
    return ("buildah", "push", *registry.options(), ref, f"docker://{destination}")


def inspect_label(image: str, label: str) -> Argv:
    """``buildah inspect`` printing one label of a local image."""
    template = f'{{{{index .OCIv1.Config.Labels "{label}"}}}}'
    return ("buildah", "inspect", "--type", "image", "--format", template, image)


def inspect_image(image: str) -> Argv:
    """``buildah inspect`` of a local image, as JSON (its OCI config under ``OCIv1``)."""
    return ("buildah", "inspect", "--type", "image", image)


def inspect_image_id(image: str) -> Argv:
    """``buildah inspect`` printing a local image's id."""
    return ("buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", image)


def inspect_manifest_digest(image: str) -> Argv:
    """``buildah inspect`` printing the digest of a local image's manifest."""
    return ("buildah", "inspect", "--type", "image", "--format", "{{.FromImageDigest}}", image)


def podman_image_facts(image: str) -> Argv:
    """``podman image inspect`` printing id and size (buildah does not report sizes)."""
    return ("podman", "image", "inspect", "--format", "{{.Id}} {{.Size}}", image)


def containers() -> Argv:
    """``buildah containers``: one working container name per line."""
    return ("buildah", "containers", "--format", "{{.ContainerName}}")


def images() -> Argv:
    """``buildah images``: one ``repository:tag`` per line."""
    return ("buildah", "images", "--format", "{{.Name}}:{{.Tag}}")


def rm_all() -> Argv:
    """``buildah rm --all``: remove every working container."""
    return ("buildah", "rm", "--all")


def rmi_all() -> Argv:
    """``buildah rmi --all --force``: remove every image."""
    return ("buildah", "rmi", "--all", "--force")


# -- what buildah says -----------------------------------------------------------------------

# Failures of buildah's own start-up, before the step's command runs in the container, that a
# second try gets past. buildah copies its binary into a sealed memfd before re-executing
# itself for chroot isolation; under load the kernel can refuse the seal with EBUSY while
# pages of the copy are still pinned.
TRANSIENT_STARTUP_ERRORS = ("sealing memfd copy: Device or resource busy",)


def is_transient(error: StepFailedError) -> bool:
    """True if the command failed in buildah's start-up, before its payload ran."""
    return failed_to_start(error.tail)


def failed_to_start(output: str) -> bool:
    """True if ``output`` (a buildah command's error output) says buildah failed in its
    start-up (``TRANSIENT_STARTUP_ERRORS``)."""
    return any(marker in output for marker in TRANSIENT_STARTUP_ERRORS)
