"""Pipeline, profile and catalog validation: every bad file names its file, key path and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, GraphError
from orchestrator.loading.load import load
from orchestrator.model.catalog import load_catalog
from orchestrator.model.pipeline_file import load_pipeline
from orchestrator.model.profiles import load_profile
from orchestrator.planning.graph import graph_for
from tests.conftest import HEADER, WritePipeline

PROJECTS = frozenset(load_catalog().projects)


def test_shipped_pipelines_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "pipelines").glob("*.yaml")):
        resolved = load(path)
        assert graph_for(resolved).number_of_nodes() >= 3, path


def test_shipped_profiles_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    names = {p.stem for p in (root / "profiles").glob("*.yaml")}
    expected = {
        "fluent",
        "apache",
        "ldap",
        "ceph",
        "lvm",
        "qemu",
        "openvswitch",
        "linuxbridge",
        "configdrive",
        "ipxe",
        "ipmi",
        "tftp",
        "migration",
    }
    assert expected <= names
    for name in names:
        load_profile(root / "profiles" / f"{name}.yaml", PROJECTS)


def test_full_stack_has_the_nine_2026_1_releases() -> None:
    root = Path(__file__).resolve().parents[2]
    pipeline = load_pipeline(root / "pipelines" / "full-stack.yaml")
    versions = {n: (i.source.name, i.source.version) for n, i in pipeline.images.items()}
    assert versions == {
        "cinder": ("cinder", "28.0.0"),
        "glance": ("glance", "32.0.0"),
        "heat": ("openstack-heat", "26.0.2"),
        "horizon": ("horizon", "25.7.3"),
        "ironic": ("ironic", "35.1.0"),
        "keystone": ("keystone", "29.1.0"),
        "neutron": ("neutron", "28.0.2"),
        "nova": ("nova", "33.0.2"),
        "octavia": ("octavia", "18.0.1"),
    }
    assert all(len(i.source.sha256) == 64 for i in pipeline.images.values())


BAD_PIPELINES = [
    pytest.param(
        "images:\n  keystone: {source: {pypi: keystone==29.1.0}}\n"
        "  keystone: {source: {pypi: keystone==29.0.0}}\n",
        r"invalid YAML at line 7, column 3: duplicate key 'keystone' \(first at line 6\)",
        id="duplicate-image",
    ),
    pytest.param(
        "images:\n  keystone: {source: {pypi: keystone==29.1.0}}\nimages: {}\n",
        r"invalid YAML at line 7, column 1: duplicate key 'images' \(first at line 5\)",
        id="duplicate-section",
    ),
    pytest.param(
        "images: " + "[" * 3000 + "]" * 3000 + "\n",
        r"invalid YAML(: nested too deeply| at line)",
        id="nested-3000-deep",
    ),
    pytest.param(
        "images: [unclosed\n",
        r"invalid YAML at line 6, column 1: (did not find )?expected ',' or ']'",
        id="malformed-yaml",
    ),
    pytest.param(
        "imagse: {}\nimages: {}\n",
        r"imagse: unknown key 'imagse' \(allowed: ",
        id="unknown-top-key",
    ),
    pytest.param("images: {}\n", r"images: declare at least one image", id="no-images"),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n    profils: [ldap]\n",
        r"images\.keystone\.profils: unknown key 'profils'",
        id="typo-in-image-key",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n    profiles: [ldap, ldpa]\n",
        r"images\.keystone\.profiles\[1\]: unknown profile 'ldpa' \(known: ",
        id="unknown-profile",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n    profiles: [lvm]\n",
        r"images\.keystone\.profiles\[0\]: profile 'lvm' does not apply to project 'keystone' "
        r"\(it applies to: cinder\)",
        id="profile-not-for-project",
    ),
    pytest.param(
        "images:\n  zun:\n    project: zun_x\n    source: {pypi: zun==2.0.0}\n",
        r"images\.zun\.project: 'zun_x' is not in the catalog and cannot name a service user",
        id="project-outside-the-catalog-not-a-user-name",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone}\n",
        r"images\.keystone\.source\.pypi: 'keystone' is not of the form 'name==version'",
        id="pypi-without-version",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone==1, sha256: abc}\n",
        r"images\.keystone\.source\.sha256: expected 64 hexadecimal digits",
        id="bad-sha256",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone==1, git: http://x}\n",
        r"images\.keystone\.source: set exactly one of 'pypi', 'git', 'url' or 'local'",
        id="two-source-kinds",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {url: https://x/k.tar.gz}\n",
        r"images\.keystone\.source: a url source needs 'sha256'",
        id="url-without-sha",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {local: ./nowhere}\n",
        r"images\.keystone\.source\.local: path not found: ",
        id="local-missing",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone==1}\n    uid: seven\n",
        r"images\.keystone\.uid: expected an integer, got string",
        id="uid-not-int",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: keystone==1}\n    uid: 0\n",
        r"images\.keystone\.uid: must be >= 1, got 0",
        id="uid-root",
    ),
    pytest.param(
        "settings: {parallel: 0}\nimages:\n  keystone:\n    source: {pypi: k==1}\n",
        r"settings\.parallel: must be >= 1, got 0",
        id="parallel-zero",
    ),
    pytest.param(
        "settings: {paralel: 2}\nimages:\n  keystone:\n    source: {pypi: k==1}\n",
        r"settings\.paralel: unknown key 'paralel'",
        id="unknown-setting",
    ),
    pytest.param(
        "network: {http_proxy: 3128}\nimages:\n  keystone:\n    source: {pypi: k==1}\n",
        r"network\.http_proxy: expected a string, got integer",
        id="proxy-not-string",
    ),
    pytest.param(
        "base: {bootstrap: debootstrap}\nimages:\n  keystone:\n    source: {pypi: k==1}\n",
        r"base\.bootstrap: 'debootstrap' is not one of: mmdebstrap",
        id="bad-bootstrap",
    ),
    pytest.param(
        "base: {bootstrap: mmdebstrap, from: debian:12}\n"
        "images:\n  keystone:\n    source: {pypi: k==1}\n",
        r"base: set exactly one of 'bootstrap: mmdebstrap' or 'from: <image ref>'",
        id="base-both-kinds",
    ),
    pytest.param(
        "images:\n  base:\n    source: {pypi: k==1}\n",
        r"images\.base: 'base' is reserved",
        id="reserved-name",
    ),
    pytest.param(
        "images:\n  Keystone:\n    source: {pypi: k==1}\n",
        r"images\.Keystone: invalid name 'Keystone'",
        id="bad-node-name",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: k==1}\n    plugin: true\n",
        r"images\.keystone: a plugin image needs 'parent'",
        id="plugin-without-parent",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: k==1}\n    steps: [{name: x}]\n",
        r"images\.keystone\.steps\[0\]: set exactly one of 'run' \(a command\) or "
        r"'script' \(a file\)",
        id="step-without-command",
    ),
    pytest.param(
        "images:\n  keystone:\n    source: {pypi: k==1}\n    pip_packages: [a, a]\n",
        r"images\.keystone\.pip_packages\[1\]: duplicate entry 'a'",
        id="duplicate-package",
    ),
    pytest.param(
        "tags: latest\nimages:\n  keystone:\n    source: {pypi: k==1}\n",
        r"tags: expected a list, got string",
        id="tags-not-list",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_PIPELINES)
def test_bad_pipeline_is_rejected_with_its_location(
    write_pipeline: WritePipeline, body: str, message: str
) -> None:
    path = write_pipeline(body)
    with pytest.raises(ConfigError, match=message) as info:
        load(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_toolchain_is_rejected(write_pipeline: WritePipeline) -> None:
    path = write_pipeline("images:\n  keystone:\n    source: {pypi: k==1}\n", raw=True)
    with pytest.raises(ConfigError, match=r"\(top level\): missing required key 'toolchain'"):
        load(path)


def test_missing_constraints_file_is_rejected(write_pipeline: WritePipeline) -> None:
    body = (
        HEADER.replace("upper-constraints.txt", "nope.txt")
        + "images: {keystone: {source: {pypi: k==1}}}\n"
    )
    path = write_pipeline(body, raw=True)
    with pytest.raises(ConfigError, match=r"constraints\.upper: file not found: .*nope\.txt"):
        load(path)


def test_empty_file_is_rejected(write_pipeline: WritePipeline) -> None:
    path = write_pipeline("", raw=True)
    with pytest.raises(ConfigError, match=r": file is empty$"):
        load(path)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load(tmp_path / "nope.yaml")


def test_child_with_unknown_parent_is_a_graph_error(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    (tmp_path / "Containerfile").write_text("FROM scratch\n")
    path = write_pipeline(
        textwrap.dedent("""\
        images:
          keystone:
            source: {pypi: keystone==29.1.0}
        children:
          site-keystone:
            from: keystne
            containerfile: Containerfile
        """)
    )
    with pytest.raises(
        GraphError, match=r"children\.site-keystone: parent 'keystne' is not a node"
    ):
        graph_for(load(path))


def test_child_cycle_is_named(write_pipeline: WritePipeline, tmp_path: Path) -> None:
    (tmp_path / "Containerfile").write_text("FROM scratch\n")
    path = write_pipeline(
        textwrap.dedent("""\
        images:
          keystone:
            source: {pypi: keystone==29.1.0}
        children:
          a: {from: b, containerfile: Containerfile}
          b: {from: a, containerfile: Containerfile}
        """)
    )
    with pytest.raises(GraphError, match=r"the image graph has a cycle: (a -> b -> a|b -> a -> b)"):
        graph_for(load(path))


BAD_PROFILES = [
    pytest.param(
        "description: x\n", r"\(top level\): a profile needs 'default'", id="empty-profile"
    ),
    pytest.param(
        "projects:\n  zunx: {dist_packages: [x]}\n",
        r"projects\.zunx: unknown project 'zunx'",
        id="profile-unknown-project",
    ),
    pytest.param(
        "projects:\n  nova: {dist_pkgs: [x]}\n",
        r"projects\.nova\.dist_pkgs: unknown key 'dist_pkgs' \(allowed: dist_packages, "
        r"pip_packages\)",
        id="profile-typo",
    ),
    pytest.param(
        "default: {pip_packages: fluent-logger}\n",
        r"default\.pip_packages: expected a list, got string",
        id="profile-not-list",
    ),
    pytest.param(
        "build_packages: [gcc, 3]\ndefault: {}\n",
        r"build_packages\[1\]: expected a string, got integer",
        id="profile-bad-item",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_PROFILES)
def test_bad_profile_is_rejected(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_profile(path, PROJECTS)


def test_image_overrides_catalog_and_merges_profiles(write_pipeline: WritePipeline) -> None:
    path = write_pipeline(
        textwrap.dedent("""\
        images:
          keystone:
            source: {pypi: keystone==29.1.0}
            profiles: [ldap]
            dist_packages: [vim-tiny]
            pip_packages: [python-ldap, extra-thing]
            uid: 5000
        """)
    )
    service = load(path).services["keystone"]
    assert service.uid == 5000 and service.gid == 5000
    assert service.profiles == ("ldap",)
    assert "libldap-2.5-0" in service.dist_packages and service.dist_packages[-1] == "vim-tiny"
    assert service.pip_packages.count("python-ldap") == 1
    assert service.pip_packages[-1] == "extra-thing"
    assert service.build_packages == ("libldap2-dev", "libsasl2-dev")


def test_bytes_that_are_not_utf8_are_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(HEADER.encode() + b"images: {keystone: \xff}\n")
    with pytest.raises(ConfigError, match=r"p.yaml: not UTF-8 text \(byte \d+\)$"):
        load(path)


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + "# padding\n" * 600_000)
    with pytest.raises(ConfigError, match=r"p.yaml: file is larger than 4 MiB"):
        load(path)


def test_a_folder_is_not_a_pipeline(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r": not a file$"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("config: /etc/nova", r"'/etc/nova' must be a folder inside the source"),
        ("config: ../etc", r"'../etc' must be a folder inside the source"),
        ("config: '.'", r"'.' must be a folder inside the source"),
        ("config: 'etc/*'", r"'etc/\*' must be a folder inside the source"),
        ("acceptance: ../check.sh", r"is not the name of a script in scripts/"),
        ("acceptance: check.py", r"is not the name of a script in scripts/"),
    ],
)
def test_catalog_config_and_acceptance_are_checked(
    tmp_path: Path, field: str, message: str
) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(
        "projects:\n  nova:\n    pypi: nova\n    user: nova\n    uid: 42436\n"
        f"    smoke: [nova-manage, --version]\n    {field}\n"
    )
    with pytest.raises(ConfigError, match=message):
        load_catalog(path)


def test_the_shipped_catalog_names_acceptance_and_config_folders() -> None:
    projects = load_catalog().projects
    assert projects["horizon"].acceptance == "check-horizon.sh"
    assert projects["nova"].config == "etc/nova"
    assert projects["glance"].config == "etc"
    assert "pymemcache" in projects["horizon"].pip_packages
