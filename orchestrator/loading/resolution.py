"""Resolve the wheels image's requirements on the host before planning, with uv.

The wheels image holds what its requirement lines resolve to under upper-constraints: a few
hundred of the file's pins. Keyed by the whole file, any new pin rebuilds the wheels image and
every image installed from it, to the same files when the pin is of nothing they hold. Keyed
by the resolution (``uv pip compile`` for the image's Python and platform), a pin of something
no image holds rebuilds nothing; the wheels build installs exactly those pins and checks, with
the image's own Python, that they are the whole resolution (``build-wheels.sh``).

The Python and glibc of each Debian suite are in :data:`TARGETS`; a pipeline on another base
(a pulled image, another suite) or platform is not resolved here: its wheels image is keyed by
the whole file, as before. uv prepares an sdist's metadata by running its build backend, which
needs the build packages the wheel-builder image has and the host may not (libvirt-python's
``pkg-config libvirt``): for such an sdist the requirements its PKG-INFO declares are given to
uv instead (``dependency-metadata``), and the check in the wheels build proves them right.

Resolutions are kept under ``<state>/wheel-sets`` by a digest of everything they depend on,
so a run whose inputs did not change resolves nothing and needs no network.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import structlog
import uv
from packaging.utils import canonicalize_name

from orchestrator.engine import runner as engine
from orchestrator.errors import (
    ConfigError,
    FetchError,
    SourceError,
    StateError,
    StepFailedError,
    StepTimeoutError,
)
from orchestrator.files import write_atomically
from orchestrator.loading.load import network_of
from orchestrator.loading.sources import DEFAULT_INDEX, Network, fetch_pypi
from orchestrator.model.inputs import PlanInputs, WheelSet
from orchestrator.model.pipeline import BaseSpec, RequirementsSpec, Source
from orchestrator.model.platforms import Platform
from orchestrator.model.resolve import ResolvedPipeline
from orchestrator.model.settings import Settings
from orchestrator.model.states import NodeKind
from orchestrator.planning.requirements import wheel_lines
from orchestrator.planning.wheelset import constrained_names, requirement_name

SCHEMA = "orchestrate-wheel-set-v1"
# Each Debian suite's Python (python_full_version) and the manylinux tag of its glibc (trixie
# has 2.41; uv 0.13 knows tags up to 2_40, and no wheel needs more).
TARGETS = {"bookworm": ("3.11.2", "2_36"), "trixie": ("3.13.5", "2_40")}
# OCI architecture -> what uv's --python-platform calls it.
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
# At most this many sdists given their declared metadata in one resolution.
DECLARED_LIMIT = 20
# Resolutions of the distributions upper-constraints does not pin, at most (see Query.cutoff).
FLOATING_PASSES = 4
TIMEOUT = 900
# A resolution no run used for this long is removed when another is kept.
KEEP_DAYS = 30
_FAILED_BUILD = re.compile(r"Failed to build `([^`=\s]+)==([^`\s]+)`")
_NETWORK = re.compile(
    r"Failed to fetch|error sending request|dns error|Connection refused|timed out|"
    r"Could not connect|tcp connect error",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class Query:
    """What a resolution depends on: the lines, the constraints' text, the target, the
    binary policy and the indexes."""

    lines: tuple[str, ...]
    constraints: str
    python: str
    platform: str
    binary: tuple[str, ...] = ()
    index_url: str = DEFAULT_INDEX
    extra_index_urls: tuple[str, ...] = ()
    # What a distribution upper-constraints does not pin (uwsgi, fluent-logger) resolves
    # to: its newest release uploaded before this instant, the start of the week (UTC), so
    # every host resolving that week finds the same, and a new release is taken the week
    # after.
    cutoff: str = ""

    def digest(self) -> str:
        """What the cached resolution is found by. Not the indexes: they are run settings
        (a mirror, credentials), in no key, and a faithful mirror resolves to the same pins."""
        kept = {
            k: v for k, v in self.__dict__.items() if k not in ("index_url", "extra_index_urls")
        }
        document = {
            "schema": SCHEMA,
            "uv": uv_version(),
            # The interpreter that runs sdists' build backends for their metadata.
            "host_python": ".".join(map(str, sys.version_info[:3])),
            **kept,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def week_start(now: datetime) -> str:
    """The Monday 00:00 UTC of ``now``'s week, as uv's --exclude-newer-package takes it."""
    day = now.astimezone(UTC).date()
    monday = day - timedelta(days=day.weekday())
    return f"{monday.isoformat()}T00:00:00Z"


def target(base: BaseSpec, platform: Platform) -> tuple[str, str] | None:
    """(python version, uv's platform) of the images on ``base`` for ``platform``; ``None``
    when this module does not know them (the wheels image is then keyed by the whole file)."""
    known = TARGETS.get(base.suite) if base.kind == "mmdebstrap" else None
    machine = MACHINES.get(platform.arch)
    if known is None or machine is None:
        return None
    python, glibc = known
    return python, f"{machine}-manylinux_{glibc}"


def binary_options(spec: RequirementsSpec) -> tuple[str, ...]:
    """uv's options for the binary policy, as build-wheels.sh passes them to its own uv: a
    version with no sdist is no candidate when wheels are built from sdists."""
    if spec.binary == "none":
        return ("--no-binary", ":all:")
    if spec.binary == "only-pinned":
        return (
            "--no-binary",
            ":all:",
            *(o for n in spec.only_binary for o in ("--only-binary", n)),
        )
    return ()


def uv_version() -> str:
    return engine.capture([uv.find_uv_bin(), "--version"]).strip()


def resolve(query: Query, state_dir: Path, network: Network, where: str) -> WheelSet:
    """The pins ``query`` resolves to, from the state's cache or by ``uv pip compile``.

    Raises:
        ConfigError: the lines do not resolve under the constraints (``where`` names the
            pipeline); uv's reason is in the message.
        FetchError: the index could not be reached.
    """
    folder = state_dir / "wheel-sets"
    cached = folder / f"{query.digest()}.json"
    found, with_graph = _read_kept(cached, query)
    if found is not None and with_graph:
        return found
    try:
        wheel_set = _compile(query, state_dir, network, where)
    except FetchError:
        if found is None:
            raise
        # Kept by an orchestrate that did not keep the dependency graph: used as it is
        # offline (every image keyed by the wheels image's key, as then).
        structlog.get_logger().warning(
            "resolution kept without its graph, used offline", pipeline=where, file=str(cached)
        )
        return found
    kept = {k: v for k, v in wheel_set.__dict__.items() if k != "lines"}
    try:
        write_atomically(cached, json.dumps(kept, indent=1) + "\n")
    except OSError as exc:
        raise StateError(f"{cached}: cannot keep the wheels' resolution ({exc.strerror})") from None
    _prune(folder, time.time())
    return wheel_set


def _read_kept(cached: Path, query: Query) -> tuple[WheelSet | None, bool]:
    """The resolution kept in ``cached`` (None: none kept, or a damaged file), and whether
    it was kept with the dependency graph."""
    try:
        data = json.loads(cached.read_text(encoding="utf-8"))
        os.utime(cached)  # used: kept another KEEP_DAYS (see _prune)
        found = WheelSet(
            lines=query.lines,
            python=data["python"],
            platform=data["platform"],
            pins=tuple(data["pins"]),
            declared=tuple(data["declared"]),
            requires={name: tuple(names) for name, names in data.get("requires", {}).items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, False
    return found, "requires" in data


def _prune(folder: Path, now: float) -> None:
    """Remove the resolutions no run used for KEEP_DAYS (a week's cutoff makes new ones)."""
    limit = now - KEEP_DAYS * 86400
    for kept in folder.glob("*.json"):
        with contextlib.suppress(OSError):  # another run's, gone or in use meanwhile
            if kept.stat().st_mtime < limit:
                kept.unlink()


def _compile(query: Query, state_dir: Path, network: Network, where: str) -> WheelSet:
    """Resolve with uv; pins of names upper-constraints does not pin are resolved again as
    of ``query.cutoff`` until none is left unfixed (a fixed one may bring another)."""
    declared: dict[tuple[str, str], tuple[str, ...]] = {}
    pinned = constrained_names(query.constraints)
    floating: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="orchestrate-resolve-") as tmp:
        folder = Path(tmp)
        (folder / "requirements.in").write_text("".join(f"{line}\n" for line in query.lines))
        (folder / "constraints.txt").write_text(query.constraints)
        for _ in range(FLOATING_PASSES):
            output = _resolve_once(query, folder, state_dir, network, declared, floating, where)
            pins = _pins(output)
            unpinned = {requirement_name(pin) for pin in pins} - pinned
            if not query.cutoff or unpinned <= floating:
                break
            floating |= unpinned
        else:
            raise ConfigError(
                where, "requirements", f"no stable resolution of {', '.join(sorted(floating))}"
            )
    return WheelSet(
        lines=query.lines,
        python=query.python,
        platform=query.platform,
        pins=pins,
        declared=tuple(sorted(f"{n}=={v}" for n, v in declared)),
        requires=requirements_of(output),
    )


def _resolve_once(
    query: Query,
    folder: Path,
    state_dir: Path,
    network: Network,
    declared: dict[tuple[str, str], tuple[str, ...]],
    floating: set[str],
    where: str,
) -> str:
    """One resolution: uv's output; an sdist uv cannot prepare is given its declared
    requirements and the resolution tried again."""
    while True:
        try:
            return _uv_compile(query, folder, state_dir, network, declared, floating)
        except StepTimeoutError:
            raise FetchError(
                f"{where}: resolving the wheels took longer than {TIMEOUT} s"
            ) from None
        except StepFailedError as exc:
            failed = _FAILED_BUILD.search(exc.tail)
            if failed and (failed[1], failed[2]) not in declared:
                if len(declared) >= DECLARED_LIMIT:
                    raise ConfigError(where, "requirements", _reason(exc.tail)) from None
                name, version = failed[1], failed[2]
                declared[(name, version)] = _declared(name, version, state_dir, network, where)
                continue
            if "No space left on device" in exc.tail:
                reason = _reason(exc.tail)
                raise StateError(f"{where}: resolving the wheels: {reason}") from None
            if _NETWORK.search(exc.tail):
                raise FetchError(f"{where}: resolving the wheels: {_reason(exc.tail)}") from None
            raise ConfigError(where, "requirements", _reason(exc.tail)) from None


def _pins(output: str) -> tuple[str, ...]:
    """The pins of uv's output, without its annotations."""
    return tuple(
        line.split("#", 1)[0].strip()
        for line in output.splitlines()
        if line.split("#", 1)[0].strip()
    )


def requirements_of(output: str) -> dict[str, tuple[str, ...]]:
    """Each pin's name -> the names of the pins it requires, from uv's one-line annotations
    (``name==version  # via a, b, -r requirements.in``: a and b require name)."""
    pinned = {requirement_name(pin) for pin in _pins(output)}
    requires: dict[str, set[str]] = {name: set() for name in pinned}
    for line in output.splitlines():
        pin, _, note = line.partition("#")
        if not pin.strip() or not note.strip().startswith("via "):
            continue
        name = requirement_name(pin.strip())
        for parent in note.strip().removeprefix("via ").split(","):
            parent = canonicalize_name(parent.strip().split("[", 1)[0])
            if parent in requires and parent != name:
                requires[parent].add(name)
    return {name: tuple(sorted(names)) for name, names in sorted(requires.items())}


def _uv_compile(
    query: Query,
    folder: Path,
    state_dir: Path,
    network: Network,
    declared: dict[tuple[str, str], tuple[str, ...]],
    floating: set[str] = frozenset(),  # type: ignore[assignment]
) -> str:
    argv = [
        uv.find_uv_bin(),
        "pip",
        "compile",
        # The interpreter that runs build backends; the resolution is for query.python.
        "--python",
        sys.executable,
        "--python-version",
        query.python,
        "--python-platform",
        query.platform,
        "--no-header",
        # What requires each pin ("# via a, b"): the closure of what each image installs.
        "--annotation-style",
        "line",
        "--quiet",
        "--index-url",
        query.index_url,
        *(o for url in query.extra_index_urls for o in ("--extra-index-url", url)),
        *query.binary,
        *(
            o
            for name in sorted(floating)
            for o in ("--exclude-newer-package", f"{name}={query.cutoff}")
        ),
        "--constraint",
        str(folder / "constraints.txt"),
        "--output-file",
        str(folder / "resolved.txt"),
    ]
    if declared:
        config = folder / "uv.toml"
        config.write_text(_dependency_metadata(declared))
        argv += ["--config-file", str(config)]
    else:
        argv.append("--no-config")
    # Only what this says reaches uv: none of the host's UV_* settings (an index, overrides,
    # a resolution strategy) may change the pins behind a key. Its cache (metadata, sdists
    # built for theirs) is uv's own, where the host's uv keeps it and `uv cache prune` trims
    # it, not the state directory: the pins are kept there (wheel-sets/).
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") or k == "UV_CACHE_DIR"}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if network.ca_bundle:
        env["SSL_CERT_FILE"] = network.ca_bundle
    else:
        env["UV_NATIVE_TLS"] = "1"
    for name, value in (("HTTP_PROXY", network.http_proxy), ("HTTPS_PROXY", network.https_proxy)):
        if value:
            env[name] = value
    engine.capture([*argv, str(folder / "requirements.in")], env=env, timeout=TIMEOUT)
    return (folder / "resolved.txt").read_text(encoding="utf-8")


def _declared(
    name: str, version: str, state_dir: Path, network: Network, where: str
) -> tuple[str, ...]:
    """What name==version's sdist declares it requires (PKG-INFO, else requirements.txt)."""
    source = Source(kind="pypi", name=name, version=version)
    try:
        fetched = fetch_pypi(source, state_dir / "sources", network)
    except FetchError:
        raise
    except SourceError as exc:
        raise ConfigError(
            where, "requirements", f"{name}=={version}: uv cannot prepare its metadata and {exc}"
        ) from None
    structlog.get_logger().info(
        "sdist metadata taken from its PKG-INFO",
        distribution=f"{name}=={version}",
        requires=len(fetched.requires),
    )
    return fetched.requires


def _dependency_metadata(declared: dict[tuple[str, str], tuple[str, ...]]) -> str:
    """uv's ``dependency-metadata`` tables (TOML; JSON strings are TOML basic strings)."""
    out = []
    for (name, version), requires in sorted(declared.items()):
        out += [
            "[[dependency-metadata]]",
            f"name = {json.dumps(canonicalize_name(name))}",
            f"version = {json.dumps(version)}",
            f"requires-dist = [{', '.join(json.dumps(r) for r in requires)}]",
            "",
        ]
    return "\n".join(out)


def _reason(tail: str) -> str:
    """uv's error on one line: from its first ``error:`` (or cross-marked) line on."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith(("error:", "\u00d7"))), 0)
    return " ".join(lines[start : start + 6])[:600] or "uv pip compile failed"


def wheel_sets(
    resolved: ResolvedPipeline,
    graph: nx.DiGraph,
    settings: Settings,
    inputs: PlanInputs,
    now: datetime,
) -> dict[str, WheelSet]:
    """The wheels image's resolution for each platform of the graph that has a wheels node
    built from requirement lines, with uv in its toolchain (build-wheels.sh checks the set
    with it) and a known target; the others are keyed by the whole upper-constraints file.

    Raises:
        ConfigError: the lines do not resolve.
        FetchError: the index could not be reached.
    """
    pipeline = resolved.pipeline
    spec = pipeline.requirements
    if spec.image or spec.index or not pipeline.toolchain.uv:
        return {}
    wanted = {
        graph.nodes[node]["platform"]
        for node in graph
        if graph.nodes[node]["kind"] == NodeKind.REQUIREMENTS
    }
    targets = {
        p.name: found
        for p in resolved.platforms
        if p.name in wanted and (found := target(pipeline.base, p)) is not None
    }
    if not targets:
        return {}
    lines = wheel_lines(resolved, graph, inputs)
    network = network_of(settings)
    out = {}
    for name, (python, platform) in sorted(targets.items()):
        query = Query(
            lines=lines,
            constraints=inputs.upper_constraints,
            python=python,
            platform=platform,
            binary=binary_options(spec),
            index_url=network.index_url,
            extra_index_urls=tuple(settings.pip_extra_index_urls),
            cutoff=week_start(now),
        )
        out[name] = resolve(query, settings.state_dir, network, str(pipeline.path))
    return out
