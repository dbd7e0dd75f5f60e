"""bindep files (LOCI's and a project's own) evaluated for the base's Debian release."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loading.load import load
from orchestrator.model import bindep
from orchestrator.model.inputs import FetchedSource
from tests.conftest import ROOT, WritePipeline
from tests.unit.test_plan import SOURCES, plans_of

LOCI = ROOT / "pipelines" / "loci"


def loci() -> bindep.BindepFile:
    return bindep.parse((LOCI / "bindep.txt").read_text(), "bindep.txt")


def names(selected: tuple[bindep.Selected, ...]) -> set[str]:
    return {item.package for item in selected}


def test_selectors_mean_what_they_mean_to_bindep_for_the_base_not_the_host() -> None:
    keystone = names(loci().select(("keystone", "apache", "ldap"), "bookworm"))
    # [platform:dpkg (keystone ldap !jammy !noble)]: bookworm is neither.
    assert {"apache2", "libapache2-mod-wsgi-py3", "libldap-2.4-2", "libxml2"} <= keystone
    assert "libldap-2.5-0" not in keystone  # [platform:dpkg (keystone ldap jammy)]
    assert "libpcre3" not in keystone  # [platform:ubuntu-noble]
    assert "build-essential" not in keystone  # the requirements profile only
    nova = names(loci().select(("nova", "qemu", "ceph"), "bookworm"))
    assert {"libvirt0", "ceph-common", "python3-rbd", "qemu-utils", "iproute2"} <= nova
    assert "apache2" not in nova
    # platform:debian selects the Debian name, platform:ubuntu the other.
    wheels = names(loci().select(("requirements",), "bookworm"))
    assert "libmariadbclient-dev" in wheels and "libmysqlclient-dev" not in wheels


def test_test_and_doc_profiles_are_never_selected() -> None:
    own = bindep.parse("mysql-server [test]\nlibffi8 [platform:dpkg]\nsphinx [doc]\n", "own")
    assert names(own.select(("keystone", "test", "doc"), "bookworm")) == {"libffi8"}


def test_each_package_says_which_file_and_selector_brought_it_in() -> None:
    (ldap,) = [i for i in loci().select(("keystone", "ldap"), "bookworm") if "ldap" in i.package]
    assert ldap.origin == "bindep.txt: [platform:dpkg (keystone ldap !jammy !noble)]"
    (renamed,) = bindep.renamed([ldap], {"libldap-2.4-2": "libldap-2.5-0"})
    assert renamed.package == "libldap-2.5-0"
    assert renamed.origin.endswith("(renamed from libldap-2.4-2)")
    assert bindep.renamed([ldap], {"libldap-2.4-2": None}) == ()


def test_loci_files_load_as_they_are_with_debian_names_for_bookworm() -> None:
    resolved = load(ROOT / "pipelines" / "loci-bindep.yaml")
    keystone = resolved.services["keystone"]
    assert "libldap-2.5-0" in keystone.dist_packages
    assert "libldap-2.4-2" not in keystone.dist_packages
    assert {"ldappool", "python-ldap", "fluent-logger"} <= set(keystone.pip_packages)
    assert "libvirt-python" in resolved.services["nova"].pip_packages
    assert resolved.bindep is not None
    build = names(resolved.bindep.packages(("requirements",)))
    assert "libmariadb-dev-compat" in build and "libmariadbclient-dev" not in build


def test_plan_shows_where_each_bindep_package_came_from(write_pipeline: WritePipeline) -> None:
    path = write_pipeline(
        f"""\
        bindep:
          files: [{LOCI / "bindep.txt"}]
          rename: {LOCI / "debian-names.yaml"}
        images:
          keystone:
            source: {{pypi: keystone==29.1.0}}
        """
    )
    plans = plans_of(path, sources=SOURCES)
    origins = dict(plans["keystone"].origins)
    assert origins["apache2"] == "bindep.txt: [platform:dpkg apache]"
    install = next(s for s in plans["keystone"].steps if "install-packages.sh" in s.argv)
    assert "libldap-2.5-0" in " ".join(install.argv)
    assert dict(plans["wheel-builder"].origins)["build-essential"] == (
        "bindep.txt: [platform:dpkg requirements]"
    )


def test_a_projects_own_bindep_file_adds_runtime_packages_when_asked(
    write_pipeline: WritePipeline,
) -> None:
    body = "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n"
    own = "libsasl2-2 [platform:dpkg]\nmariadb-server [platform:dpkg test]\nfoo [platform:rpm]\n"
    sources = {
        "keystone": dataclasses.replace(SOURCES["keystone"], bindep=own),
        "glance": SOURCES["glance"],
    }
    without = plans_of(write_pipeline(body), sources=sources)["keystone"]
    asked = plans_of(
        write_pipeline("bindep: {project: true}\n" + body, name="own.yaml"), sources=sources
    )["keystone"]
    install = next(s for s in asked.steps if "install-packages.sh" in s.argv)
    assert "libsasl2-2" in " ".join(install.argv)
    assert "mariadb-server" not in " ".join(install.argv) and "foo" not in " ".join(install.argv)
    assert asked.key != without.key
    assert dict(asked.origins)["libsasl2-2"] == "keystone's bindep.txt: [platform:dpkg]"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("bindep: {files: [nope.txt]}", r"bindep\.files\[0\]: file not found"),
        ("bindep: {rename: nope.yaml}", r"bindep\.rename: file not found"),
        ("bindep: {project: maybe}", r"bindep\.project: expected true or false"),
        ("bindep: {extra: 1}", r"bindep\.extra: unknown key 'extra'"),
    ],
)
def test_bad_bindep_sections_are_refused(
    write_pipeline: WritePipeline, section: str, message: str
) -> None:
    path = write_pipeline(
        section + "\nimages:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n"
    )
    with pytest.raises(ConfigError, match=message):
        load(path)


def test_a_file_that_is_not_bindep_is_refused_naming_it(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-bindep.txt"
    bad.write_text("apache2 [platform:dpkg (unclosed\n")
    body = "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n"
    path = write_pipeline(f"bindep: {{files: [{bad}]}}\n" + body)
    with pytest.raises(ConfigError, match=r"bindep\.files\[0\]: .*bad-bindep\.txt: not a valid"):
        load(path)


def test_every_release_has_its_platform_profiles() -> None:
    assert bindep.platform_profiles("trixie") == [
        "platform:base-py3",
        "platform:debian",
        "platform:debian-13",
        "platform:debian-trixie",
        "platform:dpkg",
    ]


def test_fetched_sources_carry_no_bindep_by_default() -> None:
    assert FetchedSource.__dataclass_fields__["bindep"].default == ""


def test_a_trixie_base_gets_its_own_package_names(write_pipeline: WritePipeline) -> None:
    body = (
        "base: {bootstrap: mmdebstrap, suite: trixie}\n"
        "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n"
    )
    trixie = load(write_pipeline(body))
    keystone = trixie.services["keystone"]
    assert "libldap2" in keystone.dist_packages and "libldap-2.5-0" not in keystone.dist_packages
    assert "libpcre2-8-0" in keystone.dist_packages and "libpcre3" not in keystone.dist_packages
    plans = plans_of(write_pipeline(body, name="t.yaml"), sources=SOURCES)
    build = " ".join(
        next(s for s in plans["wheel-builder"].steps if s.name.startswith("install")).argv
    )
    assert "libpcre2-dev" in build and "libpcre3-dev" not in build
    bookworm = load(write_pipeline(body.replace("trixie", "bookworm"), name="b.yaml"))
    assert "libldap-2.5-0" in bookworm.services["keystone"].dist_packages
