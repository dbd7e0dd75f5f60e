"""Plan the wheels image's contents from what the selected services will install.

The set is the union of every selected service's declared requirements (from its source), its
pip packages (catalog, profiles, pipeline) and the pinned toolchain, so "this package is not in
the wheels image" cannot happen at service-build time. Versions come from upper-constraints,
so requirement specifiers are dropped here: a service release that only moves lower bounds
leaves the set, and therefore the wheels image, unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

_EXTRAS = re.compile(r"\s*\[[^\]]*\]")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
# Build backends and their dependencies: service nodes build their own sdist from the wheels.
BUILD_REQUIREMENTS = ("pbr", "setuptools", "wheel")


def parse_requirement(spec: str) -> Requirement:
    """A PEP 508 requirement, parsed by ``packaging``.

    Raises:
        ValueError: ``spec`` is not a requirement (the message says why).
    """
    try:
        return Requirement(spec)
    except InvalidRequirement as exc:
        raise ValueError(f"not a requirement: {spec!r}: {exc}") from None


def requirement_name(spec: str) -> str:
    """The distribution name of a requirement specifier, normalised (PEP 503)."""
    return canonicalize_name(parse_requirement(spec).name)


def unpinned(spec: str, extras: Iterable[str] = (), *, keep_version: bool = False) -> str | None:
    """Strip version specifiers from a requirement (unless ``keep_version``), keeping extras
    and environment markers.

    Requirements behind an ``extra == "x"`` marker are kept (without that marker) only when
    ``x`` is in ``extras``; otherwise ``None`` is returned.
    """
    marker = spec.partition(";")[2].strip()
    found = _EXTRA.search(marker)
    if found:
        if found.group(1) not in set(extras):
            return None
        marker = ""
    parsed = parse_requirement(spec)
    # The extras as written (the line enters the wheels image's key: keep it stable).
    written = _EXTRAS.match(spec, spec.index(parsed.name) + len(parsed.name))
    name = parsed.name + (written.group(0).strip() if written and parsed.extras else "")
    if keep_version and parsed.specifier:
        name += str(parsed.specifier)
    return f"{name}; {marker}" if marker else name


def constraint_names(upper_constraints: str) -> tuple[str, ...]:
    """Every requirement of an upper-constraints file's text, as ``name[; marker]`` lines."""
    out = []
    for raw in upper_constraints.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        name = requirement.split("===", 1)[0].split("==", 1)[0].strip()
        out.append(f"{name}; {marker.strip()}" if marker.strip() else name)
    return tuple(out)


def constrained_names(upper_constraints: str) -> set[str]:
    """The (canonical) names an upper-constraints file's text pins."""
    return {
        canonicalize_name(line.partition(";")[0].strip())
        for line in constraint_names(upper_constraints)
    }


def plan_wheels(
    service_requires: Iterable[tuple[Iterable[str], Iterable[str]]],
    pip_packages: Iterable[str],
    *,
    toolchain: Iterable[str],
    everything: Iterable[str] = (),
    constrained: Collection[str] | None = None,
) -> tuple[str, ...]:
    """The sorted, de-duplicated requirement lines the wheels image builds.

    Args:
        service_requires: per selected service, (its declared requirements, its extras).
        pip_packages: every extra pip package of the selected services and the pipeline,
            kept as written (a pin there is deliberate).
        toolchain: the pinned pip/setuptools/wheel requirements.
        everything: upper-constraints entries when the scope is ``all``.
        constrained: the (canonical) names upper-constraints pins: a project's requirement
            on one of them loses its specifier (the constraint decides), one on anything
            else keeps it (skyline's ``uvicorn==0.30.1``: nothing else would pin it).
            ``None``: every requirement loses its specifier.
    """
    lines: dict[str, None] = {}
    for requires, extras in service_requires:
        extras = tuple(extras)
        for spec in requires:
            keep = constrained is not None and requirement_name(spec) not in constrained
            line = unpinned(spec, extras, keep_version=keep)
            if line is not None:
                lines.setdefault(line, None)
    for spec in (*pip_packages, *everything):
        lines.setdefault(spec.strip(), None)
    toolchain_names = {requirement_name(spec) for spec in toolchain}
    for name in BUILD_REQUIREMENTS:
        if name not in toolchain_names:
            lines.setdefault(name, None)
    # The toolchain is pinned by the pipeline: drop any unpinned duplicate of it.
    kept = [line for line in lines if requirement_name(line) not in toolchain_names]
    return tuple(sorted(kept, key=str.lower)) + tuple(toolchain)


def installed_pins(
    pins: Iterable[str], requires: Mapping[str, Iterable[str]], lines: Iterable[str]
) -> tuple[str, ...]:
    """The pins an image installs when it installs ``lines`` from a wheel set: the pins of the
    lines' names and of everything they require, transitively (``requires``: a pin's name ->
    the names it requires, :attr:`~orchestrator.model.inputs.WheelSet.requires`). A line's
    extras and markers are not read: the closure follows every edge of the set's resolution,
    so it holds at least what the image installs (install-project.sh checks that it holds
    all of it)."""
    by_name = {requirement_name(pin): pin for pin in pins}
    todo = [requirement_name(line) for line in lines]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        todo.extend(requires.get(name, ()))
    return tuple(sorted(by_name[name] for name in seen))
