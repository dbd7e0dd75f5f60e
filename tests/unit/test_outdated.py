"""``orchestrate outdated``'s pure parts and its archive reader: apt sources read as apt
reads them, Debian's version ordering, an archive served over real HTTP on loopback (its
Release hashes deciding what is fetched again), the comparison and the report."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import lzma
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import SourceError
from orchestrator.inspection.outdated import (
    DebInstalled,
    Inventory,
    as_json,
    compare,
    read_image,
    render,
)
from orchestrator.loading.archive import (
    AptSource,
    Archive,
    Offer,
    best_offer,
    newer,
    newest_versions,
    parse_sources,
)
from orchestrator.loading.sources import Network
from orchestrator.workflows.outdated import python_version_of, upper_pins

BOOKWORM = AptSource(uri="http://m/debian", suite="bookworm", components=("main",))


def test_sources_lines_and_deb822_stanzas_read_as_apt_reads_them() -> None:
    text = """\
# the suite, its updates and security
deb http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian/ bookworm-updates main contrib
deb-src http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian-security bookworm-security main  # security
"""
    assert parse_sources(text) == [
        AptSource("http://deb.debian.org/debian", "bookworm", ("main",)),
        AptSource(
            "http://deb.debian.org/debian", "bookworm-updates", ("main", "contrib"), ("amd64",)
        ),
        AptSource("http://deb.debian.org/debian-security", "bookworm-security", ("main",)),
    ]
    stanzas = """\
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Enabled: no
"""
    assert parse_sources(stanzas, name="debian.sources") == [
        AptSource("http://deb.debian.org/debian", "trixie", ("main",)),
        AptSource("http://deb.debian.org/debian", "trixie-updates", ("main",)),
    ]
    assert [s.security for s in parse_sources(text)] == [False, False, True]
    with pytest.raises(SourceError, match=r"sources.list: line 1: 'deb http://x' names no"):
        parse_sources("deb http://x\n")


def test_versions_sort_as_debian_sorts_them() -> None:
    assert newer("3.0.17-1~deb12u3", "3.0.17-1~deb12u2")
    assert newer("3.0.17-1", "3.0.17-1~deb12u9")  # a tilde sorts before anything
    assert newer("1:1.0-1", "9.9-1")  # the epoch first
    assert not newer("2.36-9+deb12u10", "2.36-9+deb12u10")
    equal = [Offer("1.1", "bookworm-updates", False), Offer("1.1", "bookworm-security", True)]
    assert best_offer([Offer("1.0", "bookworm", False), *equal]) == equal[1]
    assert best_offer([]) is None


PACKAGES = """\
Package: libssl3
Version: 3.0.17-1~deb12u2
Architecture: amd64
Description: old

Package: libssl3
Version: 3.0.17-1~deb12u3
Architecture: amd64
Description: newer, listed second

Package: tzdata
Version: 2025b-0+deb12u2
Architecture: all
"""


def test_the_newest_version_of_each_package_in_an_index() -> None:
    assert newest_versions(PACKAGES.encode()) == {
        "libssl3": "3.0.17-1~deb12u3",
        "tzdata": "2025b-0+deb12u2",
    }


# --- an archive on loopback --------------------------------------------------------------


class Served:
    """A folder served over HTTP on 127.0.0.1, every requested path recorded."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        served = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self) -> None:
                served.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/debian"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def publish(root: Path, suite: str, packages: str, *, compress: str = "xz") -> None:
    """A suite whose Release lists its main/binary-amd64 Packages index by sha256."""
    folder = root / "debian" / "dists" / suite
    index = folder / "main" / "binary-amd64"
    index.mkdir(parents=True, exist_ok=True)
    data = packages.encode()
    name, blob = {
        "xz": ("Packages.xz", lzma.compress(data)),
        "gz": ("Packages.gz", gzip.compress(data)),
        "plain": ("Packages", data),
    }[compress]
    for old in index.iterdir():
        old.unlink()
    (index / name).write_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest()
    (folder / "Release").write_text(
        f"Suite: {suite}\nSHA256:\n {digest} {len(blob)} main/binary-amd64/{name}\n"
    )


def security_index(version: str) -> str:
    return f"Package: libssl3\nVersion: {version}\n"


@pytest.fixture
def archive_site(tmp_path: Path) -> Iterator[Served]:
    site = Served(tmp_path / "site")
    yield site
    site.close()


def source_of(site: Served, suite: str) -> AptSource:
    return AptSource(uri=site.url, suite=suite, components=("main",))


def test_an_archive_is_read_once_per_index_hash(archive_site: Served, tmp_path: Path) -> None:
    root = archive_site.root
    publish(root, "bookworm", PACKAGES)
    publish(
        root, "bookworm-security", "Package: libssl3\nVersion: 3.0.17-1~deb12u4\n", compress="gz"
    )
    sources = [source_of(archive_site, "bookworm"), source_of(archive_site, "bookworm-security")]
    cache = tmp_path / "cache"
    offers = Archive(Network(), cache).offers(sources, "amd64")
    assert offers["libssl3"] == [
        Offer("3.0.17-1~deb12u3", "bookworm", False),
        Offer("3.0.17-1~deb12u4", "bookworm-security", True),
    ]
    fetched = [p for p in archive_site.requests if "/binary-amd64/" in p]
    assert len(fetched) == 2
    # Unchanged: a new reader fetches the two Release files only.
    archive_site.requests.clear()
    Archive(Network(), cache).offers(sources, "amd64")
    assert archive_site.requests == [
        "/debian/dists/bookworm/Release",
        "/debian/dists/bookworm-security/Release",
    ]
    # A security update published: that suite's index is fetched again, and seen.
    publish(
        root, "bookworm-security", "Package: libssl3\nVersion: 3.0.17-1~deb12u5\n", compress="gz"
    )
    archive_site.requests.clear()
    again = Archive(Network(), cache).offers(sources, "amd64")
    assert again["libssl3"][-1].version == "3.0.17-1~deb12u5"
    assert [p for p in archive_site.requests if "/binary-amd64/" in p] == [
        "/debian/dists/bookworm-security/main/binary-amd64/Packages.gz"
    ]


def test_an_index_that_is_not_what_its_release_says_is_refused(
    archive_site: Served, tmp_path: Path
) -> None:
    publish(archive_site.root, "bookworm", PACKAGES, compress="plain")
    index = archive_site.root / "debian/dists/bookworm/main/binary-amd64/Packages"
    index.write_text(PACKAGES.replace("deb12u3", "deb12u9"))
    with pytest.raises(SourceError, match=r"Packages: sha256 differs from the suite's Release"):
        Archive(Network(), tmp_path / "cache").offers(
            [source_of(archive_site, "bookworm")], "amd64"
        )
    assert not list((tmp_path / "cache").glob("*.json"))  # no index kept (the Release is)


def test_a_missing_suite_is_a_source_error(archive_site: Served, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"dists/trixie/Release: HTTP Error 404"):
        Archive(Network(), tmp_path).offers([source_of(archive_site, "trixie")], "amd64")


# --- the comparison ------------------------------------------------------------------------

INVENTORY = Inventory(
    debs=(
        DebInstalled("libssl3", "3.0.17-1~deb12u2", "amd64"),
        DebInstalled("python3", "3.11.2-1+b1", "amd64"),
        DebInstalled("tzdata", "2025b-0+deb12u2", "all"),
    ),
    distributions={"keystone": "29.1.0", "oslo-db": "17.4.0", "pip": "25.3", "six": "1.17.0"},
    sources=(BOOKWORM, AptSource("http://m/debian-security", "bookworm-security", ("main",))),
    arch="amd64",
)
OFFERS = {
    "libssl3": [
        Offer("3.0.17-1~deb12u2", "bookworm", False),
        Offer("3.0.17-1~deb12u3", "bookworm-security", True),
    ],
    "tzdata": [Offer("2025b-0+deb12u2", "bookworm", False)],
    "python3": [Offer("3.11.2-1+b1", "bookworm", False)],
}


def test_outdated_packages_and_moved_pins_are_named_with_their_suite() -> None:
    pins = upper_pins("oslo.db===17.5.0\nsix===1.17.0\npip==25.3\n", "3.11")
    found = compare("keystone", "r/keystone:k", INVENTORY, OFFERS, pins)
    assert found.outdated
    assert [(p.name, p.installed, p.available, p.suite, p.security) for p in found.packages] == [
        ("libssl3", "3.0.17-1~deb12u2", "3.0.17-1~deb12u3", "bookworm-security", True)
    ]
    # keystone is the project (no pin), six and pip match: only oslo.db moved.
    assert [(d.name, d.installed, d.pinned) for d in found.distributions] == [
        ("oslo-db", "17.4.0", "17.5.0")
    ]
    text = render([found, compare("base", "r/base:k", INVENTORY, {}, None)])
    assert text.splitlines() == [
        "IMAGE     KIND    NAME     INSTALLED         AVAILABLE         FROM",
        "keystone  deb     libssl3  3.0.17-1~deb12u2  3.0.17-1~deb12u3  "
        "bookworm-security (security)",
        "keystone  python  oslo-db  17.4.0            17.5.0            upper-constraints",
        "",
        "keystone: 1 packages outdated (1 security), 1 distributions differ from the pins",
        "base: up to date (bookworm, bookworm-security)",
    ]
    document = as_json([found])
    assert document["outdated"] is True
    assert json.loads(json.dumps(document))["images"][0]["packages"][0]["security"] is True


def test_pins_follow_the_images_python() -> None:
    text = 'numpy===2.2.6;python_version=="3.10"\nnumpy===2.3.4;python_version>="3.11"\n'
    assert upper_pins(text, "3.11") == {"numpy": "2.3.4"}
    assert upper_pins(text, "3.10") == {"numpy": "2.2.6"}
    assert python_version_of(INVENTORY) == "3.11"


def test_an_image_without_an_sbom_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"has no /etc/image_info/sbom.cdx.json"):
        read_image(tmp_path, "r/other:1")


def site(purl: str, folder: str) -> dict[str, object]:
    return {"purl": purl, "properties": [{"name": "orchestrate:site", "value": folder}]}


def test_an_image_reads_from_its_sbom_and_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "etc/image_info").mkdir(parents=True)
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp_path / "etc/apt/sources.list").write_text("deb http://m/debian bookworm main\n")
    (tmp_path / "etc/apt/sources.list.d/site.sources").write_text(
        "Types: deb\nURIs: http://site/debian\nSuites: site\nComponents: main\n"
    )
    sbom = {
        "components": [
            {"purl": "pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=amd64&distro=debian-12"},
            {"purl": "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12"},
            {"purl": "pkg:pypi/oslo.db@17.4.0"},
            site("pkg:pypi/prettytable@3.17.0", "/var/lib/openstack/lib/python3.11/site-packages"),
            # Debian's python3-prettytable: the archive decides its version, not the pins
            site("pkg:pypi/prettytable@3.6.0", "/usr/lib/python3/dist-packages"),
            {"name": "no purl"},
        ]
    }
    (tmp_path / "etc/image_info/sbom.cdx.json").write_text(json.dumps(sbom))
    found = read_image(tmp_path, "r/x:1")
    assert found.debs == (
        DebInstalled("libssl3", "3.0.17-1~deb12u2", "amd64"),
        DebInstalled("tzdata", "2025b-0+deb12u2", "all"),
    )
    assert found.distributions == {"oslo-db": "17.4.0", "prettytable": "3.17.0"}
    assert found.arch == "amd64"
    assert [s.suite for s in found.sources] == ["bookworm", "site"]


def test_a_flat_repository_and_a_component_without_an_index(
    archive_site: Served, tmp_path: Path
) -> None:
    """``deb URI ./``: the Release and Packages files beside each other; a component the
    Release lists nothing for (for this architecture) offers nothing, as apt only warns."""
    flat = archive_site.root / "debian" / "flat"
    flat.mkdir(parents=True)
    data = lzma.compress(PACKAGES.encode())
    (flat / "Packages.xz").write_bytes(data)
    (flat / "Release").write_text(
        f"SHA256:\n {hashlib.sha256(data).hexdigest()} {len(data)} Packages.xz\n"
    )
    source = AptSource(uri=f"{archive_site.url}/flat", suite="./", components=())
    assert parse_sources(f"deb [trusted=yes] {archive_site.url}/flat ./\n") == [source]
    offers = Archive(Network(), tmp_path).offers([source], "amd64")
    assert offers["libssl3"] == [Offer("3.0.17-1~deb12u3", "./", False)]
    publish(archive_site.root, "bookworm", PACKAGES)
    other = AptSource(uri=archive_site.url, suite="bookworm", components=("contrib",))
    assert Archive(Network(), tmp_path).offers([other], "amd64") == {}


def test_disabled_stanzas_and_equal_versions_written_differently() -> None:
    text = "Types: deb\nURIs: http://x/debian\nSuites: bookworm\nComponents: main\nEnabled: No\n"
    assert parse_sources(text, name="x.sources") == []
    inventory = Inventory(debs=(), distributions={"pbr": "6.1"}, sources=(BOOKWORM,), arch="amd64")
    assert compare("k", "k", inventory, {}, {"pbr": "6.1.0"}).distributions == ()
