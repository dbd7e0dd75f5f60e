"""The Debian archive as it is now: which version of each package the suites an image was
built from offer, read from the archive's own indexes on the host.

An image names its suites in its apt sources (``deb URI SUITE COMPONENT...``: the suite,
``-updates`` and ``-security``, as mmdebstrap wrote them). For each, the suite's ``Release``
file is fetched (small, always fresh) and gives the sha256 of each ``Packages`` index; an
index is downloaded only when no index with that sha256 was read before, checked against it,
and kept as ``{package: version}`` under ``<state>/archive/``: an unchanged suite costs one
``Release`` fetch. Versions are compared with python-debian's implementation of Debian's
ordering (epochs, tildes).

The ``Release`` file is not checked against the archive's signing key here: what is read
decides a report and what rebuilds, never what is installed (apt in the build checks that).
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import http.client
import io
import json
import lzma
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from debian.deb822 import Packages, Release
from debian.debian_support import Version

from orchestrator.errors import FetchError, SourceError
from orchestrator.files import write_atomically
from orchestrator.loading.sources import FETCH_TRIES, Network, fetch_failure, retrying
from orchestrator.model.debs import Deb, DebIndex
from orchestrator.model.pipeline import BaseSpec

# The index files a Release may list for a component and architecture, best first.
_INDEX_NAMES = ("Packages.xz", "Packages.gz", "Packages")
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "Packages.xz": lzma.decompress,
    "Packages.gz": gzip.decompress,
    "Packages": bytes,
}
# 2: each package's candidate with its dependencies (a :class:`Deb`), not its version alone.
CACHE_FORMAT = 2
# The fields of a Packages stanza a cached record keeps.
_FIELDS = ["Package", "Version", "Pre-Depends", "Depends", "Provides", "Essential", "Priority"]


@dataclass(frozen=True)
class AptSource:
    """One ``deb URI SUITE COMPONENT...`` line of an image's apt sources."""

    uri: str
    suite: str
    components: tuple[str, ...]
    # ``[arch=amd64,arm64]``: the architectures apt reads it for (all when empty).
    arches: tuple[str, ...] = ()

    @property
    def security(self) -> bool:
        """A security suite (``bookworm-security``)."""
        return self.suite.endswith("-security") or self.suite.endswith("/updates")


@dataclass(frozen=True)
class Offer:
    """A version of a package a suite offers now."""

    version: str
    suite: str
    security: bool


# apt's default pin priority of a suite, and of one whose Release says NotAutomatic (with
# ButAutomaticUpgrades: 100): experimental, backports.
DEFAULT_PRIORITY = 500


@dataclass(frozen=True)
class ReleaseFile:
    """What a suite's Release file says: the sha256 and size of each index, apt's priority
    for the suite, and whether its Architecture: all packages are in each architecture's
    indexes (Debian's ``No-Support-for-Architecture-all: Packages``)."""

    table: Mapping[str, tuple[str, int]]
    priority: int = DEFAULT_PRIORITY
    all_in_arch: bool = True
    # Acquire-By-Hash: each index also under by-hash/SHA256/<sha256>, which a mirror part-way
    # through a sync still serves for the Release file it has.
    by_hash: bool = False


def _apt_priority(release: Mapping[str, str]) -> int:
    if release.get("NotAutomatic", "").strip().lower() != "yes":
        return DEFAULT_PRIORITY
    return 100 if release.get("ButAutomaticUpgrades", "").strip().lower() == "yes" else 1


def newer(candidate: str, installed: str) -> bool:
    """``candidate`` sorts after ``installed`` in Debian's version ordering."""
    return bool(Version(candidate) > Version(installed))


def parse_sources(text: str, *, name: str = "sources.list") -> list[AptSource]:
    """The ``deb`` lines of a one-line-style sources file (``deb-src`` and comments left
    out; options in brackets skipped); or, for a ``.sources`` file, its deb822 stanzas.

    Raises:
        SourceError: a ``deb`` line without a suite.
    """
    if name.endswith(".sources"):
        return _deb822_sources(text)
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        options: list[str] = []
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                options.append(words.pop(0))
            options.append(words.pop(0) if words else "")
        if len(words) < 2:
            raise SourceError(f"{name}: line {number}: {raw.strip()!r} names no suite")
        found.append(
            AptSource(
                uri=words[0].rstrip("/"),
                suite=words[1],
                components=tuple(words[2:]),
                arches=_arch_option(" ".join(options).strip("[]").split()),
            )
        )
    return found


def _arch_option(options: Sequence[str]) -> tuple[str, ...]:
    for option in options:
        if option.startswith("arch="):
            return tuple(a for a in option.removeprefix("arch=").split(",") if a)
    return ()


def _deb822_sources(text: str) -> list[AptSource]:
    found = []
    for stanza in Packages.iter_paragraphs(io.StringIO(text), use_apt_pkg=False):
        disabled = stanza.get("Enabled", "yes").strip().lower() == "no"
        if "deb" not in stanza.get("Types", "deb").split() or disabled:
            continue
        components = tuple(stanza.get("Components", "").split())
        arches = tuple(stanza.get("Architectures", "").split())
        for uri in stanza.get("URIs", "").split():
            for suite in stanza.get("Suites", "").split():
                source = AptSource(
                    uri=uri.rstrip("/"), suite=suite, components=components, arches=arches
                )
                found.append(source)
    return found


class Archive:
    """The archive's current indexes, fetched over the host's network settings and cached
    by their sha256 under ``cache_dir``. ``mirrors`` maps a source's URI to the one fetched
    instead (the run's ``apt_mirror`` for the public mirror)."""

    def __init__(
        self, network: Network, cache_dir: Path, mirrors: Mapping[str, str] | None = None
    ) -> None:
        self.network = network
        self.cache_dir = cache_dir
        self.mirrors = dict(mirrors or {})
        self._opener = network.opener()
        self._read: dict[tuple[AptSource, str], dict[str, list[Any]]] = {}
        # Each suite's Release file, read once per run whatever the architectures.
        self._releases: dict[AptSource, ReleaseFile] = {}
        # The Release files that could not be fetched, read from the copy of an earlier run.
        self.stale: list[str] = []
        self._offers: dict[tuple[tuple[AptSource, ...], str], dict[str, list[Offer]]] = {}

    def offers(self, sources: Sequence[AptSource], arch: str) -> dict[str, list[Offer]]:
        """Every package the sources offer for ``arch`` (and ``all``): its versions, one per
        suite that has it.

        Raises:
            FetchError: an index could not be fetched (the network, a server error).
            SourceError: the archive has no such suite, or an index is not what its Release says.
        """
        memo = (tuple(sources), arch)
        if memo in self._offers:  # images of one pipeline share their sources
            return self._offers[memo]
        found: dict[str, list[Offer]] = {}
        for source in sources:
            for package, version in self.index(source, arch).items():
                found.setdefault(package, []).append(
                    Offer(version=version, suite=source.suite, security=source.security)
                )
        self._offers[memo] = found
        return found

    def index(self, source: AptSource, arch: str) -> dict[str, str]:
        """``{package: newest version}`` of one source's components for ``arch``."""
        return {name: record[0] for name, record in self.records(source, arch).items()}

    def records(self, source: AptSource, arch: str) -> dict[str, list[Any]]:
        """``{package: its newest version's record}`` (see :func:`newest_records`) of one
        source's components for ``arch``; nothing when the source is not for ``arch``."""
        if source.arches and arch not in source.arches:
            return {}
        if (source, arch) not in self._read:
            release = self._release(source)
            # A flat repository (``deb URI ./``) has its index beside its Release file.
            flat = source.suite.endswith("/")
            folders = (
                [""] if flat else [f"{c}/binary-{arch}" for c in source.components or ("main",)]
            )
            if not flat and not release.all_in_arch:
                # Architecture: all packages in indexes of their own (a site's reprepro or
                # aptly), unless the Release says they are in every architecture's.
                folders += [f"{c}/binary-all" for c in source.components or ("main",)]
            indexes = [self._packages(source, release, folder) for folder in folders]
            merged = indexes[0]
            for more in indexes[1:]:
                for name, record in more.items():
                    if name not in merged or newer(record[0], merged[name][0]):
                        merged[name] = record
            self._read[(source, arch)] = merged
        return self._read[(source, arch)]

    def deb_index(self, sources: Sequence[AptSource], arch: str) -> DebIndex:
        """What apt in an image with ``sources`` installs for ``arch``: each package's newest
        version over every source (of equal versions, a security suite's is named)."""
        with _collector_paused():
            return self._deb_index(sources, arch)

    def _deb_index(self, sources: Sequence[AptSource], arch: str) -> DebIndex:
        best: dict[str, tuple[str, list[Any]]] = {}
        rank: dict[str, int] = {}  # the apt priority of each candidate's source
        for source in sources:
            records = self.records(source, arch)
            release = self._releases.get(source)
            priority = release.priority if release is not None else DEFAULT_PRIORITY
            for name, record in records.items():
                held = best.get(name)
                if (
                    held is None
                    or priority > rank[name]
                    or (priority == rank[name] and newer(record[0], held[1][0]))
                    or (priority == rank[name] and record[0] == held[1][0] and source.security)
                ):
                    best[name] = (source.suite, record)
                    rank[name] = priority
        providers: dict[str, list[str]] = {}
        for name, (_, record) in best.items():
            for virtual in record[2]:
                providers.setdefault(plain(virtual), []).append(name)
        return DebIndex(
            packages=_Candidates(best),
            suites=tuple(s.suite for s in sources),
            providers={name: tuple(sorted(found)) for name, found in providers.items()},
            essential=tuple(sorted(name for name, (_, r) in best.items() if r[3])),
            required=tuple(sorted(name for name, (_, r) in best.items() if r[4] == "required")),
        )

    def _url(self, source: AptSource, path: str) -> str:
        base = self.mirrors.get(source.uri, source.uri).rstrip("/")
        if source.suite.endswith("/"):  # a flat repository
            return f"{base}/{source.suite.lstrip('./')}{path}"
        return f"{base}/dists/{source.suite}/{path}"

    def _get(self, url: str, tries: int = FETCH_TRIES) -> bytes:
        def once() -> bytes:
            with self._opener.open(url, timeout=60) as response:
                data: bytes = response.read()
                return data

        try:
            return retrying(url, once, tries)
        except OSError as exc:
            raise fetch_failure(url, exc) from None
        except http.client.HTTPException as exc:  # a connection cut mid-download
            raise FetchError(f"{url}: {exc!r}") from None

    def _release(self, source: AptSource) -> ReleaseFile:
        """The suite's Release file: its SHA256 table and what decides apt's priority."""
        if source not in self._releases:
            self._releases[source] = self._fetch_release(source)
        return self._releases[source]

    def _fetch_release(self, source: AptSource) -> ReleaseFile:
        url = self._url(source, "Release")
        kept = self.cache_dir / f"release-{hashlib.sha256(url.encode()).hexdigest()}"
        try:
            # With a copy from an earlier run, one try: unreachable, that copy is used.
            data = self._get(url, tries=1 if kept.is_file() else FETCH_TRIES)
        except FetchError:
            if not kept.is_file():
                raise
            self.stale.append(url)
            data = kept.read_bytes()
        else:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(kept, data.decode("utf-8", "replace"))
        release = Release(data.decode("utf-8", "replace"))
        table = {
            entry["name"]: (entry["sha256"], int(entry["size"]))
            for entry in release.get("SHA256", [])
        }
        if not table:
            raise SourceError(f"{url}: no SHA256 list of indexes")
        return ReleaseFile(
            table=table,
            priority=_apt_priority(release),
            # apt reads binary-all indexes only for a suite whose Architectures name "all"
            # (and not while it says its arch-specific indexes still hold those packages).
            all_in_arch="all" not in release.get("Architectures", "").split()
            or release.get("No-Support-for-Architecture-all", "").strip() == "Packages",
            by_hash=release.get("Acquire-By-Hash", "").strip().lower() == "yes",
        )

    def _packages(
        self, source: AptSource, release: ReleaseFile, folder: str
    ) -> dict[str, list[Any]]:
        for name in _INDEX_NAMES:
            listed = release.table.get(f"{folder}/{name}" if folder else name)
            if listed is None:
                continue
            sha256, _ = listed
            cached = self.cache_dir / f"{sha256}.json"
            if cached.is_file():
                kept = _load_json(cached)
                if kept.get("format") == CACHE_FORMAT:
                    return dict(kept["packages"])
            path = f"{folder}/{name}" if folder else name
            url = self._url(source, path)
            data = b""
            if release.by_hash:
                # As apt does: by hash first, then by name.
                hashed = (
                    f"{folder}/by-hash/SHA256/{sha256}" if folder else f"by-hash/SHA256/{sha256}"
                )
                with suppress(FetchError, SourceError):
                    data = self._get(self._url(source, hashed))
            data = data or self._get(url)
            if hashlib.sha256(data).hexdigest() != sha256:
                raise SourceError(f"{url}: sha256 differs from the suite's Release file")
            packages = newest_records(_DECOMPRESS[name](data))
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(
                cached, json.dumps({"format": CACHE_FORMAT, "url": url, "packages": packages})
            )
            return packages
        # As apt does (it warns): a component without an index for this architecture offers
        # nothing.
        return {}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Without the cycle collector for the while: the half-million lists and tuples of the
    main suite's records set it off again and again (1.0 s instead of 0.1 s to read them
    back here), and none of them is garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_json(path: Path) -> Any:
    with _collector_paused():
        return json.loads(path.read_text())


def newest_versions(index: bytes) -> dict[str, str]:
    """``{package: newest version}`` of a Packages index."""
    return {name: record[0] for name, record in newest_records(index).items()}


def newest_records(index: bytes) -> dict[str, list[Any]]:
    """``{package: [version, depends, provides, essential, priority]}`` of the newest version
    of each package of a Packages index: what the cache keeps (JSON lists, small and fast to
    read back), ``depends`` as or-groups of names."""
    found: dict[str, list[Any]] = {}
    stream = io.BytesIO(index)
    for stanza in Packages.iter_paragraphs(stream, fields=_FIELDS, use_apt_pkg=False):
        name, version = stanza.get("Package"), stanza.get("Version")
        if not name or not version or (name in found and not newer(version, found[name][0])):
            continue
        relations = stanza.relations
        depends = [
            [alternative["name"] for alternative in group]
            for relation in ("pre-depends", "depends")
            for group in relations[relation] or ()
        ]
        provides = [group[0]["name"] for group in relations["provides"] or () if group]
        essential = stanza.get("Essential", "no").strip() == "yes"
        found[name] = [version, depends, provides, essential, stanza.get("Priority", "optional")]
    return found


class _Candidates(Mapping[str, Deb]):
    """The candidates by name, each made a :class:`Deb` when first looked up: a plan reads a
    few hundred of the archive's tens of thousands."""

    def __init__(self, best: dict[str, tuple[str, list[Any]]]) -> None:
        self._best = best
        self._made: dict[str, Deb] = {}

    def __getitem__(self, name: str) -> Deb:
        deb = self._made.get(name)
        if deb is None:
            suite, record = self._best[name]
            deb = self._made[name] = _deb(name, record, suite)
        return deb

    def __contains__(self, name: object) -> bool:
        return name in self._best

    def __iter__(self) -> Iterator[str]:
        return iter(self._best)

    def __len__(self) -> int:
        return len(self._best)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]


def _deb(name: str, record: Sequence[Any], suite: str) -> Deb:
    version, depends, provides, essential, priority = record
    return Deb(
        name=name,
        version=version,
        suite=suite,
        depends=tuple(tuple(plain(n) for n in group) for group in depends),
        provides=tuple(plain(n) for n in provides),
        essential=bool(essential),
        priority=priority,
    )


def plain(name: str) -> str:
    """A name in a relation without its architecture qualifier (``python3:any``)."""
    return name.split(":", 1)[0]


def best_offer(offers: Iterable[Offer]) -> Offer | None:
    """The newest of ``offers`` (a security suite's first among equal versions)."""
    best: Offer | None = None
    for offer in offers:
        if (
            best is None
            or newer(offer.version, best.version)
            or (offer.version == best.version and offer.security and not best.security)
        ):
            best = offer
    return best


def mirror_map(mirror: str, apt_mirror: str) -> dict[str, str]:
    """``Archive``'s ``mirrors``: the run's ``apt_mirror`` in place of the base's mirror."""
    return {mirror.rstrip("/"): apt_mirror} if apt_mirror else {}


def archive_for(
    spec: BaseSpec, arches: Iterable[str], network: Network, cache: Path, apt_mirror: str = ""
) -> dict[str, DebIndex]:
    """For ``refresh: updates``: what the base's suites (``spec.apt_lines``) offer now, per
    Debian architecture, fetched as ``outdated`` fetches them (``apt_mirror`` in place of the
    base's mirror) and cached in ``cache`` (the state directory's ``archive/``).

    Raises:
        FetchError: an index could not be fetched.
        SourceError: a suite is not in the archive, or an index is not what its Release says.
    """
    archive = Archive(network, cache, mirror_map(spec.mirror, apt_mirror))
    sources = parse_sources("\n".join(spec.apt_lines(spec.mirror)), name="base")
    found = {arch: archive.deb_index(sources, arch) for arch in sorted(set(arches))}
    if archive.stale:
        # As apt plans with the lists it has: a network failure does not stop a run that may
        # build nothing; what it builds, it builds from the archive as apt finds it then.
        structlog.get_logger().warning(
            "archive unreachable: planned with the Release files an earlier run read",
            suites=archive.stale,
        )
    return found
