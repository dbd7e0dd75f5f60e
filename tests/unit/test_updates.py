"""``refresh: updates`` without buildah: the archive's records read from a Packages index, the
closure of what each image installs as apt chooses it, the ``archive`` key input that follows
exactly the packages a node installs, and the reason ``plan`` gives."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, FetchError
from orchestrator.loading.archive import AptSource, Archive, newest_records
from orchestrator.loading.load import load, plan_inputs, read_pins
from orchestrator.loading.sources import Network
from orchestrator.model.debs import Deb, DebIndex
from orchestrator.model.settings import resolve_settings
from orchestrator.planning.debs import archive_lines, base_request, closure
from orchestrator.planning.graph import graph_for
from orchestrator.planning.nodeplan import NodePlan, PlanContext
from orchestrator.planning.plan import plan_all
from orchestrator.planning.refresh import refresh_period, source_date_epoch
from orchestrator.planning.reuse import describe_archive, why_build
from tests.conftest import WritePipeline
from tests.unit.test_outdated import Served, publish
from tests.unit.test_plan import NOW, SOURCES


def deb(name: str, version: str = "1", *depends: str, **kw: object) -> Deb:
    """A record; each of ``depends`` an or-group written ``a|b``."""
    groups = tuple(tuple(group.split("|")) for group in depends)
    return Deb(name=name, version=version, suite=str(kw.pop("suite", "bookworm")),
               depends=groups, **kw)  # type: ignore[arg-type]  # fmt: skip


BASE_DEBS = [
    deb("base-files", essential=True, priority="required"),
    deb("bash", "5.2", "base-files|busybox", essential=True, priority="required"),
    deb("dpkg", "1.21", "libc6", essential=True, priority="required"),
    deb("libc6", "2.36-9+deb12u9", priority="optional"),
    deb("mawk", "1.3", "libc6", priority="required", provides=("awk",)),
    deb("gawk", "5.2", "libc6", priority="optional", provides=("awk",)),
    deb("apt", "2.6.1", "libc6", "libssl3", priority="important"),
    deb("libssl3", "3.0.17-1~deb12u2"),
    deb("python3", "3.11.2", "libpython3.11"),
    deb("libpython3.11", "3.11.2", "libssl3"),
    deb("busybox", "1.35"),
]


def index_of(debs: list[Deb], **versions: str) -> DebIndex:
    """The index with some packages at other versions (``libssl3="…u3"``)."""
    changed = [replace(d, version=versions.get(d.name.replace("-", "_"), d.version)) for d in debs]
    return DebIndex.of(changed)


def test_a_bootstrap_asks_for_the_essential_and_required_packages_and_apt() -> None:
    index = DebIndex.of(BASE_DEBS)
    assert base_request(index, "essential", ()) == ["base-files", "bash", "dpkg"]
    assert base_request(index, "apt", ()) == ["apt", "base-files", "bash", "dpkg"]
    minbase = base_request(index, "minbase", ("python3",))
    assert minbase == ["apt", "base-files", "bash", "dpkg", "mawk", "python3"]
    installed = closure(index, minbase)
    # busybox: bash's or-group is satisfied by base-files, asked for already; gawk: awk is
    # provided by mawk, of higher priority.
    assert sorted(installed) == [
        "apt", "base-files", "bash", "dpkg", "libc6", "libpython3.11", "libssl3", "mawk",
        "python3",
    ]  # fmt: skip


def test_an_or_group_takes_what_the_image_has_else_its_first_alternative() -> None:
    index = DebIndex.of(
        [
            deb("svc", "1", "default-mta|mail-transport-agent", "libfoo"),
            deb("default-mta", "1", "exim4"),
            deb("exim4"),
            deb("postfix", provides=("mail-transport-agent",)),
            deb("libfoo"),
        ]
    )
    assert sorted(closure(index, ["svc"])) == ["default-mta", "exim4", "libfoo", "svc"]
    # postfix in the parent image provides the or-group's second name: nothing more.
    assert sorted(closure(index, ["svc"], have=["postfix"])) == ["libfoo", "svc"]
    # What the parent holds is not installed again; a name the archive lacks is left out.
    assert sorted(closure(index, ["svc", "no-such=1.0"], have=["libfoo", "exim4"])) == [
        "default-mta",
        "svc",
    ]
    # apt follows each requested package's dependencies depth first: p's or-group takes its
    # first alternative before q's chain reaches the second.
    chain = [deb("p", "1", "a|b"), deb("q", "1", "r"), deb("r", "1", "b"), deb("a"), deb("b")]
    order = DebIndex.of(chain)
    assert sorted(closure(order, ["p", "q"])) == ["a", "b", "p", "q", "r"]
    assert sorted(closure(order, ["q", "p"])) == ["b", "p", "q", "r"]
    # A virtual package asked for by name: its provider of highest priority.
    awk = DebIndex.of(BASE_DEBS)
    assert list(closure(awk, ["awk"], have=["libc6"])) == ["mawk"]
    assert archive_lines(closure(index, ["libfoo:amd64"])) == ["libfoo=1"]


def test_records_come_from_the_newest_version_of_a_packages_index() -> None:
    text = """\
Package: libssl3
Version: 3.0.17-1~deb12u2
Priority: optional
Depends: libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0
Pre-Depends: multiarch-support

Package: libssl3
Version: 3.0.17-1~deb12u1
Depends: libc6

Package: bash
Version: 5.2.15-2+b8
Essential: yes
Priority: required
Provides: sh (= 5.2)
Depends: python3:any
"""
    records = newest_records(text.encode())
    assert records["libssl3"] == [
        "3.0.17-1~deb12u2",
        [["multiarch-support"], ["libc6"], ["debconf", "debconf-2.0"]],
        [],
        False,
        "optional",
    ]
    assert records["bash"] == ["5.2.15-2+b8", [["python3"]], ["sh"], True, "required"]


@pytest.fixture
def archive_site(tmp_path: Path) -> Iterator[Served]:
    site = Served(tmp_path / "site")
    yield site
    site.close()


def test_the_candidate_is_the_newest_over_the_suites_and_names_its_suite(
    archive_site: Served, tmp_path: Path
) -> None:
    publish(archive_site.root, "bookworm", "Package: libssl3\nVersion: 3.0.17-1~deb12u2\n")
    security = "Package: libssl3\nVersion: 3.0.17-1~deb12u3\nDepends: libc6\n"
    publish(archive_site.root, "bookworm-security", security)
    sources = [
        AptSource(uri=archive_site.url, suite=suite, components=("main",))
        for suite in ("bookworm", "bookworm-security")
    ]
    index = Archive(Network(), tmp_path / "cache").deb_index(sources, "amd64")
    assert index.packages["libssl3"] == Deb(
        name="libssl3", version="3.0.17-1~deb12u3", suite="bookworm-security",
        depends=(("libc6",),),
    )  # fmt: skip
    assert index.suites == ("bookworm", "bookworm-security")
    # The cache holds the records: a new reader fetches the Release files only.
    archive_site.requests.clear()
    again = Archive(Network(), tmp_path / "cache").deb_index(sources, "amd64")
    assert again == index
    assert archive_site.requests and all(p.endswith("/Release") for p in archive_site.requests)


def test_apt_ranks_backports_below_the_suite_and_reads_arch_all_indexes(
    archive_site: Served, tmp_path: Path
) -> None:
    """A NotAutomatic suite (backports) offers a candidate only where no other suite does; a
    site's Architecture: all packages in binary-all indexes are read unless its Release says
    they are in each architecture's; a source for another architecture offers nothing."""
    root = archive_site.root
    publish(root, "bookworm", "Package: libssl3\nVersion: 3.0.17-1~deb12u2\n")
    backports = "Package: libssl3\nVersion: 3.5.0-1~bpo12+1\n\nPackage: only-bpo\nVersion: 1\n"
    publish(root, "bookworm-backports", backports)
    release = root / "debian" / "dists" / "bookworm-backports" / "Release"
    release.write_text("NotAutomatic: yes\nButAutomaticUpgrades: yes\n" + release.read_text())
    site = root / "debian" / "dists" / "site"
    publish(root, "site", "Package: site-tool\nVersion: 2\nDepends: site-data\n")
    (site / "main" / "binary-all").mkdir()
    data = b"Package: site-data\nVersion: 7\nArchitecture: all\n"
    (site / "main" / "binary-all" / "Packages").write_bytes(data)
    with (site / "Release").open("a") as out:
        out.write(f" {hashlib.sha256(data).hexdigest()} {len(data)} main/binary-all/Packages\n")
    # Read because the suite names "all" among its architectures (Debian's do not), and
    # fetched by name when its by-hash copy is missing, as apt falls back.
    text = (site / "Release").read_text()
    (site / "Release").write_text("Architectures: amd64 all\nAcquire-By-Hash: yes\n" + text)
    sources = [
        AptSource(uri=archive_site.url, suite=suite, components=("main",))
        for suite in ("bookworm", "bookworm-backports", "site")
    ]
    index = Archive(Network(), tmp_path / "cache").deb_index(sources, "amd64")
    assert index.packages["libssl3"].version == "3.0.17-1~deb12u2"
    assert index.packages["only-bpo"].suite == "bookworm-backports"
    assert sorted(closure(index, ["site-tool"])) == ["site-data", "site-tool"]
    assert "/debian/dists/site/main/binary-all/Packages" in archive_site.requests
    assert any("/site/main/binary-all/by-hash/SHA256/" in r for r in archive_site.requests)
    arm = AptSource(uri=archive_site.url, suite="site", components=("main",), arches=("arm64",))
    assert not Archive(Network(), tmp_path / "cache").deb_index([arm], "amd64").packages


def test_an_unreachable_archive_plans_with_the_release_files_read_before(
    archive_site: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As apt plans with the lists it has: once read, a suite's Release file is kept, and
    used (said in ``stale``) when the archive cannot be reached; never read, it is an error."""
    publish(archive_site.root, "bookworm", "Package: libssl3\nVersion: 3.0.17-1~deb12u2\n")
    source = AptSource(uri=archive_site.url, suite="bookworm", components=("main",))
    first = Archive(Network(), tmp_path / "cache")
    assert first.deb_index([source], "amd64").packages["libssl3"].version == "3.0.17-1~deb12u2"
    assert first.stale == []
    archive_site.close()
    offline = Archive(Network(), tmp_path / "cache")
    assert offline.deb_index([source], "amd64").packages["libssl3"].version == "3.0.17-1~deb12u2"
    assert offline.stale == [f"{archive_site.url}/dists/bookworm/Release"]
    monkeypatch.setattr("orchestrator.loading.sources.FETCH_BACKOFF_SECONDS", 0.0)
    with pytest.raises(FetchError, match="dists/bookworm/Release"):
        Archive(Network(), tmp_path / "empty").deb_index([source], "amd64")


# --- planning --------------------------------------------------------------------------------

PIPELINE = """\
base: {bootstrap: mmdebstrap, refresh: updates, include: [python3]}
images:
  keystone:
    source: {pypi: keystone==29.1.0}
    profiles: []
    dist_packages: [libkeystone, libcommon]
  glance:
    source: {pypi: glance==32.0.0}
    profiles: []
    dist_packages: [libglance, libcommon]
"""

SERVICE_DEBS = [
    deb("libkeystone", "1.0", "libkeydep"),
    deb("libkeydep", "1.0"),
    deb("libglance", "2.0"),
    deb("libcommon", "3.0", "libssl3"),
]


def plans_with(
    path: Path,
    archive: Mapping[str, DebIndex],
    pinned: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, NodePlan]:
    resolved = load(path)
    settings = resolve_settings({}, {"state_dir": str(path.parent / "s")}, environ={})
    inputs = replace(plan_inputs(resolved, SOURCES), archive=archive, pinned=pinned or {})
    ctx = PlanContext(
        run_id="r", run_dir=path.parent / "s" / "runs" / "r", settings=settings, inputs=inputs,
        now=NOW,
    )  # fmt: skip
    return plan_all(resolved, graph_for(resolved), ctx)


def changed(before: dict[str, NodePlan], after: dict[str, NodePlan]) -> list[str]:
    return sorted(node for node in before if before[node].key != after[node].key)


def test_a_newer_version_rebuilds_exactly_the_images_that_install_it(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline(PIPELINE)
    debs = BASE_DEBS + SERVICE_DEBS
    today = plans_with(path, {"amd64": index_of(debs)})
    assert today["base"].inputs["refresh"] == "updates"
    assert today["base"].inputs["archive"].split("\n") == [
        "apt=2.6.1", "base-files=1", "bash=5.2", "dpkg=1.21", "libc6=2.36-9+deb12u9",
        "libpython3.11=3.11.2", "libssl3=3.0.17-1~deb12u2", "mawk=1.3", "python3=3.11.2",
    ]  # fmt: skip
    # Each node's own packages: the closure of what it asks for, less what its FROM image has.
    assert today["openstack-base"].inputs["archive"] == "libcommon=3.0"
    assert today["keystone"].inputs["archive"] == "libkeydep=1.0\nlibkeystone=1.0"
    assert today["glance"].inputs["archive"] == "libglance=2.0"
    assert today["keystone"].debs >= {"libc6", "libcommon", "libkeystone", "libkeydep"}
    # A fix to a dependency only keystone installs: keystone alone.
    fixed = plans_with(path, {"amd64": index_of(debs, libkeydep="1.0+deb12u1")})
    assert changed(today, fixed) == ["keystone"]
    # One both services install (openstack-base holds it): that node and what is built on it.
    common = plans_with(path, {"amd64": index_of(debs, libcommon="3.0+deb12u1")})
    assert changed(today, common) == ["glance", "keystone", "openstack-base"]
    # One in the base: everything.
    base = plans_with(path, {"amd64": index_of(debs, libssl3="3.0.17-1~deb12u3")})
    assert changed(today, base) == sorted(today)
    # A package nobody installs: nothing.
    other = plans_with(path, {"amd64": index_of([*debs, deb("unrelated")])})
    assert changed(today, other) == []
    # The run's time is no input: every image is dated 1980-01-01, whatever the day.
    assert source_date_epoch("updates", NOW) == 315532800
    assert refresh_period("updates", NOW) == "updates"


def test_a_rebuild_held_to_recorded_versions_plans_the_recorded_keys(
    write_pipeline: WritePipeline,
) -> None:
    """verify holds each node to the versions its image holds (apt_pins): its archive input
    names those, so a run is compared with its rebuild after the archive moved on."""
    path = write_pipeline(PIPELINE)
    debs = BASE_DEBS + SERVICE_DEBS
    then = plans_with(path, {"amd64": index_of(debs)})
    moved = {"amd64": index_of(debs, libkeydep="1.0+deb12u1", libssl3="3.0.17-1~deb12u3")}
    pins = {
        "base": {"libssl3": "3.0.17-1~deb12u2", "bash": "5.2"},
        "keystone": {"libkeydep": "1.0", "libssl3": "3.0.17-1~deb12u2"},
    }
    assert changed(then, plans_with(path, moved, pins)) == []
    assert changed(then, plans_with(path, moved)) == sorted(then)


def test_a_published_indexs_runtime_packages_are_in_the_wheels_key(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    """Wheels from an index: the packages its compiled wheels need, which the services
    install, are in the wheels node's key (and so in every service's)."""
    (tmp_path / "resolved.txt").write_text("oslo.config==9.0.0\n")
    (tmp_path / "runtime.txt").write_text("libvirt_python libvirt0 libyajl2\n")
    path = write_pipeline(
        PIPELINE
        + f"requirements:\n  index: file://{tmp_path}/simple\n  pins: {tmp_path}/resolved.txt\n"
        + f"  runtime_packages: {tmp_path}/runtime.txt\n"
    )
    debs = [*BASE_DEBS, *SERVICE_DEBS, deb("libvirt0", "9.0.0-4", "libyajl2"), deb("libyajl2")]
    before = plans_with(path, {"amd64": index_of(debs)})
    assert before["requirements"].inputs["archive"] == "libvirt0=9.0.0-4\nlibyajl2=1"
    after = plans_with(path, {"amd64": index_of(debs, libvirt0="9.0.0-4+deb12u2")})
    assert changed(before, after) == ["glance", "keystone", "openstack-base", "requirements"]


def test_without_the_archive_no_key_gets_the_input(write_pipeline: WritePipeline) -> None:
    path = write_pipeline(PIPELINE.replace("refresh: updates", "refresh: weekly"))
    plans = plans_with(path, {})
    assert not any("archive" in plan.inputs for plan in plans.values())
    assert all(plan.debs == frozenset() for plan in plans.values())


class History:
    def __init__(self, inputs: Mapping[str, str]) -> None:
        self.inputs = inputs
        self.key = "old"
        self.run_id = "20261205-0900-aaaa"

    def last_build(self, repository: str, like: Mapping[str, str] | None = None) -> History:
        return self


def test_plan_says_which_package_moved_and_from_which_suite(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline(PIPELINE)
    debs = BASE_DEBS + SERVICE_DEBS
    before = plans_with(path, {"amd64": index_of(debs)})
    security = [replace(d, suite="bookworm-security") if d.name == "libssl3" else d for d in debs]
    after = plans_with(path, {"amd64": index_of(security, libssl3="3.0.17-1~deb12u3")})
    why = why_build(after["base"], History(before["base"].inputs))
    assert why == (
        "changed since run 20261205-0900-aaaa: "
        "archive libssl3 3.0.17-1~deb12u2 -> 3.0.17-1~deb12u3 in bookworm-security"
    )
    many = describe_archive(
        "a=1\nb=1\nc=1\nd=1", "a=2\nb=2\nc=2\nd=2\ne=1", {"a": "bookworm-security"}
    )
    assert many == "archive a 1 -> 2 in bookworm-security, b 1 -> 2, c 1 -> 2 and 2 more"
    assert describe_archive("a=1\nb=1", "a=1", {}) == "archive -b"


@pytest.mark.parametrize(
    ("base", "message"),
    [
        (
            "{from: 'debian:bookworm', refresh: updates}",
            "base.refresh: 'updates' needs 'bootstrap: mmdebstrap'",
        ),
        (
            "{bootstrap: mmdebstrap, sources: ['http://127.0.0.1:8000 local main']}",
            "base.sources[0]: 'http://127.0.0.1:8000 local main' is not a sources.list line",
        ),
        (
            "{bootstrap: mmdebstrap, sources: ['deb http://127.0.0.1:8000 local']}",
            "base.sources[0]: 'deb http://127.0.0.1:8000 local' is not a sources.list line",
        ),
        ("{from: 'debian:bookworm', sources: []}", "base.sources: 'sources' applies to"),
    ],
)
def test_bad_base_fields_are_named(write_pipeline: WritePipeline, base: str, message: str) -> None:
    path = write_pipeline(f"base: {base}\n" + PIPELINE.split("\n", 1)[1])
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(path)


def test_a_sites_own_sources_reach_the_bootstrap_and_the_image(
    write_pipeline: WritePipeline,
) -> None:
    line = "deb [trusted=yes] http://127.0.0.1:8000 local main"
    path = write_pipeline(
        PIPELINE.replace("include: [python3]", f"include: [python3], sources: ['{line}']")
    )
    plans = plans_with(path, {})
    (bootstrap,) = [s for s in plans["base"].steps if s.name == "bootstrap"]
    assert bootstrap.argv[-1] == line  # a mirror argument of mmdebstrap
    assert any(line in arg and "sources.list" in arg for arg in bootstrap.argv)
    assert line in plans["base"].inputs["bootstrap"]


def test_the_apt_pins_folder_is_read_per_node_and_bad_bytes_are_named(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("bash=5.2\nlibssl3=3.0.17-1~deb12u2\n")
    (tmp_path / "keystone@arm64.txt").write_text("libc6=2.36\n")
    assert read_pins(tmp_path) == {
        "base": {"bash": "5.2", "libssl3": "3.0.17-1~deb12u2"},
        "keystone@arm64": {"libc6": "2.36"},
    }
    (tmp_path / "nova.txt").write_bytes(b"bash=\xff\n")
    with pytest.raises(ConfigError, match=r"a file is not UTF-8 text \(byte 5\)"):
        read_pins(tmp_path)
