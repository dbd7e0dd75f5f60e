"""Plan the base node: a Debian rootfs bootstrapped with mmdebstrap, or a pulled image."""

from __future__ import annotations

import shlex

from orchestrator.engine import buildah
from orchestrator.model.pipeline import BASE_NODE, BaseSpec
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.model.states import NodeKind
from orchestrator.planning.builder import NodeBuilder
from orchestrator.planning.nodeplan import NodePlan, PlanContext
from orchestrator.planning.refresh import refresh_period

DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
)


# Debian's PATH for root, without what a user's environment puts before it.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def plan_base(resolved: ResolvedPipeline, ctx: PlanContext) -> NodePlan:
    """The base every other node starts FROM."""
    spec = resolved.pipeline.base
    b = NodeBuilder(BASE_NODE, NodeKind.BASE, resolved, ctx)
    b.input("refresh", refresh_period(spec.refresh, ctx.now))
    b.network_env(pip_index=False)
    if spec.kind == "mmdebstrap":
        _bootstrap(b, spec)
        _compile_stdlib(b)
    else:
        b.input("from", spec.image)
        b.from_step(spec.image, pull="missing")
        b.input("packages", spec.packages)
        b.install_packages(spec.packages)
        b.script_step("cleanup", "cleanup.sh", {})
        # After cleanup, which keeps only an earlier node's bytecode there.
        _compile_stdlib(b)
    config = ["--env", "LANG=C.UTF-8", "--cmd", "/bin/bash"]
    b.input("config", config)
    return b.finish(
        parents=(), labels=b.labels(), produce=b.commit_working_container(config), plans={}
    )


def _bootstrap(b: NodeBuilder, spec: BaseSpec) -> None:
    rootfs = b.node_dir / "rootfs.tar"
    mirror = b.settings.apt_mirror or spec.mirror
    public = spec.apt_lines(spec.mirror)
    argv = [
        # mmdebstrap makes its tarball reproducible (file times, machine-id, logs) with it.
        "env",
        f"SOURCE_DATE_EPOCH={b.epoch}",
        # The distribution's tools only: mmdebstrap runs its Python helper (mmtarfilter, once
        # per essential package) through "env python3", which a user's shim (pyenv's: a
        # shell script that looks the version up) made 0.2 s a call instead of 0.04.
        f"PATH={SYSTEM_PATH}",
        "mmdebstrap",
        f"--variant={spec.variant}",
        f"--architectures={b.platform.debian_arch}",
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
        *_pin_hooks(b),
        spec.suite,
        str(rootfs),
        *spec.apt_lines(mirror),
    ]
    # The platform is in every key already; the bootstrap input names it as mmdebstrap does.
    b.input("bootstrap", [spec.variant, *public, *spec.include, *DPKG_EXCLUDES])
    b.bootstrap = (spec.variant, spec.include)
    b.scratch.append(rootfs)
    b.step("bootstrap", argv, host_env=b.host_network_env())
    b.from_step("scratch")
    b.step("add-rootfs", buildah.add(b.container, str(rootfs), "/"))


def _compile_stdlib(b: NodeBuilder) -> None:
    """Checked-hash bytecode for the system Python's library (``compile-stdlib.sh``): dpkg's
    is timestamp bytecode, stale once the image's files carry the build's date, and every
    Python start in every image derived from this one compiled what it imported anew."""
    b.script_step("compile-stdlib", "compile-stdlib.sh", {})


def _pin_hooks(b: NodeBuilder) -> list[str]:
    """With ``apt_pins``: the recorded versions held while bootstrapping, then checked."""
    pins = b.apt_pins()
    if not pins:
        return []
    script = shlex.quote(str(b.ctx.inputs.scripts_dir / "apt-pins.sh"))
    prefs = '"$1/etc/apt/preferences.d/orchestrate-pins"'
    return [
        f'--setup-hook=mkdir -p "$1/etc/apt/preferences.d" && '
        f"bash {script} preferences {shlex.quote(pins)} > {prefs}",
        f'--customize-hook=rm -f {prefs} && bash {script} check {shlex.quote(pins)} "$1"',
    ]
