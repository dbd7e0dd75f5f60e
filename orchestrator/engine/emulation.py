"""Whether this host can run a platform's binaries: natively, or under qemu-user emulation
through a binfmt_misc handler registered with the F flag (the interpreter opened when it is
registered, so it works inside every container's root, where no qemu binary is).

Checked before a run starts, so a pipeline that asks for ``linux/arm64`` on a host without
the handler stops at once with what to do, not in the middle of its first arm64 step.
"""

from __future__ import annotations

import platform as host
from collections.abc import Iterable
from pathlib import Path

from orchestrator.errors import PlatformError
from orchestrator.model.platforms import Platform, for_machine

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
SETUP_HINT = (
    "run ./setup-host (it installs qemu-user-static, binfmt-support and arch-test, mounts "
    "binfmt_misc and enables the handlers), or build this platform on a host of its own"
)


def host_platform(machine: str | None = None) -> Platform:
    """The platform of this host (``uname -m``).

    Raises:
        PlatformError: orchestrate builds for no platform of this machine type.
    """
    machine = machine or host.machine()
    found = for_machine(machine)
    if found is None:
        raise PlatformError(f"this host's machine type {machine!r} is not a supported platform")
    return found


def handler_problem(target: Platform, binfmt_dir: Path | None = None) -> str:
    """Why ``target``'s binaries cannot run here under emulation ("" when they can)."""
    binfmt_dir = binfmt_dir or BINFMT_DIR
    if not (binfmt_dir / "register").exists():
        return f"binfmt_misc is not mounted at {binfmt_dir}"
    handler = binfmt_dir / f"qemu-{target.qemu}"
    try:
        text = handler.read_text(encoding="utf-8")
    except OSError:
        return f"no binfmt handler {handler.name} in {binfmt_dir}"
    lines = text.splitlines()
    if not lines or lines[0].strip() != "enabled":
        return f"the binfmt handler {handler.name} is disabled"
    flags = next((line.split(":", 1)[1] for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        # Without F the kernel looks the interpreter up inside each container's root.
        return f"the binfmt handler {handler.name} lacks the F (fix binary) flag"
    return ""


def check_runnable(
    targets: Iterable[Platform],
    *,
    native: Platform,
    where: str,
    binfmt_dir: Path | None = None,
) -> None:
    """Every platform of ``targets`` runs here, natively or emulated.

    Args:
        where: what asked for the platforms (the pipeline's file and field), for the message.

    Raises:
        PlatformError: one cannot, with the reason and what to do.
    """
    for target in targets:
        if target == native:
            continue
        problem = handler_problem(target, binfmt_dir)
        if problem:
            raise PlatformError(
                f"{where}: {target.name} cannot run on this {native.name} host: {problem}; "
                f"{SETUP_HINT}"
            )
