"""Which Debian packages each image installs, and at which version, before anything is built
(``refresh: updates``).

A node's image holds what its parent holds plus the dependency closure of the packages it
asks apt for; the versions of those new packages are one input of its key. A newer version of
a package only nova's image installs then changes nova's key alone; one in the base changes
the base's, and every key through it.

The closure follows apt's own order without recommends (:func:`closure`): ``Pre-Depends``
and ``Depends``, depth first; of an or-group, one already held, marked or provided satisfies
it, otherwise its first installable alternative is taken; a virtual package is satisfied by a
marked provider, else by its provider of highest priority (then by name: apt may choose
another among equals). Versions in dependencies are not compared: the candidate is what apt
installs. Checked against the SBOMs of images built from the same archive (the docs give the
figures).
"""

from __future__ import annotations

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
    own check names them).

    As ``apt-get install`` does: every requested package is marked first; then, for each in
    turn, its dependencies in order, depth first: a dependency (or or-group) that a package
    held, marked or provided already satisfies is skipped, otherwise its first installable
    alternative is marked and its own dependencies followed at once.
    """
    chosen = set(have)
    provided = {
        p for name in chosen if name in index.packages for p in index.packages[name].provides
    }
    new: dict[str, Deb] = {}

    def satisfied(name: str) -> bool:
        return name in chosen or name in provided

    def mark(deb: Deb) -> None:
        chosen.add(deb.name)
        provided.update(deb.provides)
        new[deb.name] = deb

    def installable(name: str) -> Deb | None:
        if name in index.packages:
            return index.packages[name]
        providers = [index.packages[p] for p in index.providers.get(name, ())]
        return min(providers, key=lambda d: (d.rank, d.name), default=None)

    def follow(deb: Deb) -> None:
        stack = [iter(deb.depends)]
        while stack:
            group = next(stack[-1], None)
            if group is None:
                stack.pop()
                continue
            if any(satisfied(name) for name in group):
                continue
            for name in group:
                found = installable(name)
                if found is not None:
                    mark(found)
                    stack.append(iter(found.depends))  # its dependencies before the next
                    break

    asked = []
    for name in requested:
        name = plain(name)
        deb = None if satisfied(name) else installable(name)
        if deb is not None and deb.name not in chosen:
            mark(deb)
            asked.append(deb)
    for deb in asked:
        follow(deb)
    return new


def archive_lines(debs: Mapping[str, Deb]) -> list[str]:
    """A node's ``archive`` key input: ``name=version``, by name. The suite is left out: a
    version moved from ``-security`` into a point release is the same package."""
    return [f"{name}={debs[name].version}" for name in sorted(debs)]
