"""Which Debian packages each image installs, and at which version, before anything is built
(``refresh: updates``).

A node's image holds what its parent holds plus the dependency closure of the packages it
asks apt for; the versions of those new packages are one input of its key. A newer version of
a package only nova's image installs then changes nova's key alone; one in the base changes
the base's, and every key through it.

The closure follows apt's choices without recommends: ``Pre-Depends`` and ``Depends``; of an
or-group, one already in the image (or already chosen, or providing the name) satisfies it,
otherwise its first alternative apt can install; a virtual package is satisfied by a chosen
provider, else by its provider of highest priority (then by name). Versions in dependencies
are not compared: the candidate is what apt installs. What apt may choose differently (an
alternative taken because a later dependency needs it) at worst adds or leaves out a package
no image holds, which makes a rebuild happen once too often or misses one; the closure is
checked against the images' SBOMs by the integration tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from orchestrator.model.debs import Deb, DebIndex

# mmdebstrap's variants (its manual): what each installs besides ``--include``.
_VARIANT_PRIORITY = {"essential": False, "apt": False, "minbase": True, "required": True}


def base_request(index: DebIndex, variant: str, include: Iterable[str]) -> list[str]:
    """The packages an mmdebstrap bootstrap of ``variant`` asks for: every ``Essential: yes``
    package, apt (but for ``essential``), every ``Priority: required`` one (``minbase``,
    ``required``), then ``include``."""
    wanted = list(index.essential)
    if variant != "essential":
        wanted.append("apt")
    if _VARIANT_PRIORITY.get(variant, False):
        wanted += index.required
    return sorted(set(wanted)) + [name for name in include if name not in wanted]


def plain(name: str) -> str:
    """A package name as apt is asked for it, without ``=version`` or ``:arch``."""
    return name.split("=", 1)[0].split(":", 1)[0]


def closure(index: DebIndex, requested: Iterable[str], have: Iterable[str] = ()) -> dict[str, Deb]:
    """The packages apt installs for ``requested`` on an image holding ``have``: each new
    package's candidate, by name. Names the archive does not offer are left out (the build's
    own check names them)."""
    chosen = set(have)
    provided = {
        p for name in chosen if name in index.packages for p in index.packages[name].provides
    }
    new: dict[str, Deb] = {}
    pending: deque[Deb] = deque()
    groups: deque[tuple[str, ...]] = deque()

    def satisfied(name: str) -> bool:
        return name in chosen or name in provided

    def take(deb: Deb) -> None:
        chosen.add(deb.name)
        provided.update(deb.provides)
        new[deb.name] = deb
        pending.append(deb)

    def installable(name: str) -> Deb | None:
        if name in index.packages:
            return index.packages[name]
        providers = [index.packages[p] for p in index.providers.get(name, ())]
        return min(providers, key=lambda d: (d.rank, d.name), default=None)

    for name in requested:
        name = plain(name)
        deb = None if satisfied(name) else installable(name)
        if deb is not None and deb.name not in chosen:
            take(deb)
    while pending or groups:
        # Single dependencies first: an or-group is then decided by what is already chosen,
        # as apt's resolver prefers an installed or marked alternative.
        while pending:
            for group in pending.popleft().depends:
                if len(group) == 1:
                    name = group[0]
                    if not satisfied(name) and (deb := installable(name)) is not None:
                        take(deb)
                else:
                    groups.append(group)
        while groups and not pending:
            group = groups.popleft()
            if any(satisfied(name) for name in group):
                continue
            for name in group:
                deb = installable(name)
                if deb is not None:
                    take(deb)
                    break
    return new


def archive_lines(debs: Mapping[str, Deb]) -> list[str]:
    """A node's ``archive`` key input: ``name=version``, by name. The suite is left out: a
    version moved from ``-security`` into a point release is the same package."""
    return [f"{name}={debs[name].version}" for name in sorted(debs)]
