"""Packages from bindep files, as LOCI and the OpenStack projects write them.

LOCI's ``bindep.txt`` (distro packages) and ``pydep.txt`` (pip packages), and a project's own
``bindep.txt``, select packages with profiles: ``apache2 [platform:dpkg apache]``,
``libldap-2.4-2 [platform:dpkg (keystone ldap !jammy !noble)]``. They are evaluated here with
the bindep library itself, so a selector means what it means to bindep, but for the base
being built (its distro, release and Python), not for the host orchestrate runs on. The user
profiles are LOCI's: the project's name, its profiles and the release's codename for a
service; ``requirements`` for the wheels image. ``test`` and ``doc`` are never selected.

Names written for Ubuntu that Debian spells differently are mapped through a rename file
(``bindep.rename``): ``{suite: {name: new name, or null to drop it}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bindep.depends import Depends

# Debian releases a base may be (mmdebstrap suites), with their version numbers.
DEBIAN_RELEASES = {"bookworm": "12", "trixie": "13"}
# Profiles a project's own bindep.txt uses for what its tests and docs need, never an image's.
NEVER_SELECTED = frozenset({"test", "doc", "docs"})


class BindepError(ValueError):
    """A bindep file that the bindep parser refuses; the message names the line."""


@dataclass(frozen=True)
class Selected:
    """A package a bindep file selected, and why: ``file: [selector]``."""

    package: str
    origin: str


@dataclass(frozen=True)
class BindepFile:
    """One parsed bindep file."""

    name: str
    depends: Depends
    selectors: Mapping[str, str]  # package -> its selector text, as written

    def select(self, profiles: Iterable[str], suite: str) -> tuple[Selected, ...]:
        """The packages this file selects for ``profiles`` on Debian ``suite``."""
        active = set(profiles) - NEVER_SELECTED
        rules = self.depends.active_rules([*platform_profiles(suite), *active, suite])
        out: dict[str, Selected] = {}
        for package, *_ in rules:
            origin = f"{self.name}: [{self.selectors.get(package, '')}]"
            out.setdefault(package, Selected(package=package, origin=origin))
        return tuple(out.values())


def parse(text: str, name: str) -> BindepFile:
    """Parse a bindep file's text (``name`` is how origins and errors call it).

    Raises:
        BindepError: the text is not valid bindep.
    """
    try:
        depends = Depends(text)
    except Exception as exc:  # parsley raises its own ParseError, and others
        first = str(exc).strip().splitlines()[:3]
        raise BindepError(f"not a valid bindep file: {' '.join(first)}") from None
    selectors: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].strip()
        if not words:
            continue
        package, _, rest = words.partition(" ")
        selector = rest.strip()
        if selector.startswith("["):
            selector = selector[1 : selector.find("]")] if "]" in selector else selector[1:]
        else:
            selector = ""
        selectors.setdefault(package, selector.strip())
    return BindepFile(name=name, depends=depends, selectors=selectors)


def platform_profiles(suite: str) -> list[str]:
    """What bindep's ``platform_profiles()`` says on a Debian of this release."""
    release = DEBIAN_RELEASES.get(suite, "")
    atoms = {"debian", "dpkg", "base-py3", f"debian-{suite}"}
    if release:
        atoms.add(f"debian-{release}")
    return [f"platform:{atom}" for atom in sorted(atoms)]


def renamed(
    selected: Iterable[Selected], renames: Mapping[str, str | None]
) -> tuple[Selected, ...]:
    """``selected`` with Debian's names; a package renamed to None is dropped."""
    out = []
    for item in selected:
        if item.package in renames:
            new = renames[item.package]
            if new is None:
                continue
            item = Selected(package=new, origin=f"{item.origin} (renamed from {item.package})")
        out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class LoadedBindep:
    """A pipeline's bindep files, parsed, and the renames for its base's release."""

    suite: str
    files: tuple[BindepFile, ...] = ()
    pydep: tuple[BindepFile, ...] = ()
    renames: Mapping[str, str | None] = field(default_factory=dict)

    def packages(self, profiles: Iterable[str]) -> tuple[Selected, ...]:
        """Distro packages the files select for ``profiles``, Debian names."""
        return self._select(self.files, profiles)

    def pip_packages(self, profiles: Iterable[str]) -> tuple[Selected, ...]:
        """pip packages the pydep files select for ``profiles``."""
        return self._select(self.pydep, profiles, rename=False)

    def _select(
        self, files: Iterable[BindepFile], profiles: Iterable[str], *, rename: bool = True
    ) -> tuple[Selected, ...]:
        profiles = tuple(profiles)
        chosen: dict[str, Selected] = {}
        for bindep_file in files:
            for item in bindep_file.select(profiles, self.suite):
                chosen.setdefault(item.package, item)
        selected = tuple(chosen.values())
        return renamed(selected, self.renames) if rename else selected
