"""What the Debian archive offers now, as planning sees it (``refresh: updates``): for one
architecture, the candidate of each package the base's suites offer (the newest version, as
apt picks it) with what it depends on. Read by :mod:`orchestrator.loading.archive`, used by
:mod:`orchestrator.planning.debs`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Priorities in the order apt and mmdebstrap rank them (the first ranks highest).
PRIORITIES = ("required", "important", "standard", "optional", "extra")


@dataclass(frozen=True)
class Deb:
    """A package's candidate: its version, the suite offering it, and its dependencies
    (``Pre-Depends`` then ``Depends``, each an or-group of package names, without versions or
    architecture qualifiers)."""

    name: str
    version: str
    suite: str
    depends: tuple[tuple[str, ...], ...] = ()
    provides: tuple[str, ...] = ()
    essential: bool = False
    priority: str = "optional"

    @property
    def rank(self) -> int:
        """Lower for a higher priority (``required`` first)."""
        return PRIORITIES.index(self.priority) if self.priority in PRIORITIES else len(PRIORITIES)


@dataclass(frozen=True)
class DebIndex:
    """The candidates of one architecture's suites, which packages provide each virtual
    package, and the ``Essential: yes`` and ``Priority: required`` ones (what a bootstrap
    installs; listed apart so that finding them reads no record)."""

    packages: Mapping[str, Deb]
    suites: tuple[str, ...] = ()
    providers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    essential: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    @classmethod
    def of(cls, debs: Iterable[Deb], suites: Iterable[str] = ()) -> DebIndex:
        packages = {deb.name: deb for deb in debs}
        providers: dict[str, list[str]] = {}
        for deb in packages.values():
            for name in deb.provides:
                providers.setdefault(name, []).append(deb.name)
        return cls(
            packages=packages,
            suites=tuple(suites),
            providers={name: tuple(sorted(found)) for name, found in providers.items()},
            essential=tuple(sorted(d.name for d in packages.values() if d.essential)),
            required=tuple(sorted(d.name for d in packages.values() if d.priority == "required")),
        )
