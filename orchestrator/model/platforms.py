"""Target platforms (``linux/amd64``, ``linux/arm64``): their names in OCI, Debian and qemu.

A pipeline's ``platforms`` lists the platforms its images are built for (default: the
host's). Each is a chain of nodes of its own in the image graph; with more than one, the
nodes are named ``<node>@<arch>`` and a manifest-list node per image joins them under the
image's name. A platform that is not the host's runs under emulation (qemu-user through
binfmt_misc): the same steps, several times the CPU.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

# How many times the CPU of a native build one node costs under qemu-user emulation
# (measured here: mmdebstrap 170 s against 26-37 s; pip, dpkg and the compilers run 3 to
# 10 times slower). The scheduler orders and estimates with it; nothing is capped by it.
EMULATION_COST = 5.0


@dataclass(frozen=True)
class Platform:
    """One target platform: its OCI name and what Debian and qemu call its architecture."""

    os: str
    arch: str
    debian_arch: str
    qemu: str  # the binfmt_misc handler that runs its binaries elsewhere (qemu-<qemu>)
    machines: tuple[str, ...]  # what ``uname -m`` says on a host of this platform

    @property
    def name(self) -> str:
        return f"{self.os}/{self.arch}"

    @property
    def suffix(self) -> str:
        """What a node of this platform is named after: ``keystone@arm64``."""
        return f"@{self.arch}"

    def __str__(self) -> str:
        return self.name


# The platforms Debian builds, in OCI's words (the image config's os and architecture).
SUPPORTED = {
    p.name: p
    for p in (
        Platform("linux", "amd64", "amd64", "x86_64", ("x86_64", "amd64")),
        Platform("linux", "arm64", "arm64", "aarch64", ("aarch64", "arm64")),
        Platform("linux", "ppc64le", "ppc64el", "ppc64le", ("ppc64le",)),
        Platform("linux", "s390x", "s390x", "s390x", ("s390x",)),
    )
}


def platform_problem(name: str) -> str:
    """Why ``name`` is not a platform orchestrate builds for ("" when it is one)."""
    if name in SUPPORTED:
        return ""
    return f"{name!r} is not a supported platform (supported: {', '.join(SUPPORTED)})"


def parse(name: str) -> Platform:
    """The platform named ``name`` (checked by the pipeline loader). Raises KeyError."""
    return SUPPORTED[name]


def for_machine(machine: str) -> Platform | None:
    """The platform of a host whose ``uname -m`` is ``machine``, if orchestrate knows it."""
    for platform in SUPPORTED.values():
        if machine in platform.machines:
            return platform
    return None


def split_node(node: str) -> tuple[str, str]:
    """``keystone@arm64`` -> (``keystone``, ``arm64``); ``keystone`` -> (``keystone``, "")."""
    name, _, arch = node.partition("@")
    return name, arch


def named_in(node: str, names: Collection[str]) -> bool:
    """Whether ``names`` (``--no-cache-for``) names ``node``, or its image on every
    platform (``keystone`` names ``keystone@arm64``)."""
    return node in names or split_node(node)[0] in names
