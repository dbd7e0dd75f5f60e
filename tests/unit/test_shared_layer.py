"""The shared node (``openstack-base``): what two services or more install, once; the
services on it add only their own (``layering: shared``, the default), or start from the base
(``layering: flat``, or a pipeline of one service)."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loading.load import load
from orchestrator.model.request import Selection
from orchestrator.planning.graph import build_graph
from orchestrator.planning.shared import common_distributions, common_packages, group_packages
from tests.conftest import WritePipeline
from tests.unit.test_plan import SOURCES, TWO, fetched, plans_of


def step(plan, name):  # type: ignore[no-untyped-def]
    """The step ``name``, or the one that runs it with others (``install-packages+...``)."""
    return next(s for s in plan.steps if name in (s.name, *s.name.split("+")))


def env_of(argv: tuple[str, ...], name: str) -> str:
    return next(a.split("=", 1)[1] for a in argv if a.startswith(f"{name}="))


def test_distributions_two_services_require_outright_are_shared() -> None:
    assert common_distributions(
        [
            ("oslo.db>=6", "Flask>=1.0", "pywin32; sys_platform == 'win32'", "pbr"),
            ("oslo_db", "flask", "pywin32; sys_platform == 'win32'", "requests[socks]"),
            ("requests[socks]", "PBR>=2"),
        ]
    ) == ("flask", "oslo-db", "pbr")  # markers and extras stay with each service


def test_distro_packages_need_half_the_services() -> None:
    class S:
        def __init__(self, *packages: str) -> None:
            self.dist_packages = packages

    two = [S("sudo", "ceph-common"), S("sudo", "ceph-common", "ceph-common")]
    assert common_packages(two) == ("ceph-common", "sudo")  # type: ignore[arg-type]
    five = [S("sudo", "ceph-common"), S("sudo", "ceph-common"), S("sudo"), S(), S()]
    assert common_packages(five) == ("sudo",)  # type: ignore[arg-type]  # 3 of 5, not 2


def test_two_services_share_a_node_and_keep_their_own(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO))
    shared = plans["openstack-base"]
    assert shared.parents == ("base", "requirements")
    install = step(shared, "install-shared").argv
    shared_names = env_of(install, "PIP_PACKAGES").split()
    assert "oslo-db" in shared_names  # both require it
    assert "flask" not in shared_names  # keystone only
    assert "openstack-base" in plans["keystone"].parents
    assert "parent:openstack-base" in plans["glance"].inputs
    keystone = plans["keystone"]
    assert shared.image in step(keystone, "from").argv
    # The venv is the shared node's: no second one.
    assert not any(s.name == "setup-venv" for s in keystone.steps)
    assert any(s.name == "setup-venv" for s in shared.steps)


def test_flat_layering_and_single_services_have_no_shared_node(
    write_pipeline: WritePipeline,
) -> None:
    flat = plans_of(write_pipeline(TWO + "layering: flat\n"))
    assert "openstack-base" not in flat
    assert flat["keystone"].parents == ("base", "requirements")
    assert any(s.name == "setup-venv" for s in flat["keystone"].steps)
    one = TWO.split("  glance:")[0]
    graph = build_graph(load(write_pipeline(one, name="one.yaml")))
    assert "openstack-base" not in graph


def test_a_shared_node_for_one_selected_service_installs_no_distributions(
    write_pipeline: WritePipeline,
) -> None:
    """Wheels for the selection alone (``scope: selected``) and one service selected: the
    shared node shares nothing, so it makes the venv and installs nothing into it (an
    install step with nothing to install fails)."""
    path = write_pipeline(TWO + "requirements: {scope: selected}\n")
    plans = plans_of(path, selection=Selection(only=("keystone",)))
    shared = plans["openstack-base"]
    assert [s.name for s in shared.steps if s.name in ("setup-venv", "install-shared")] == [
        "setup-venv"
    ]
    assert shared.inputs["distributions"] == ""
    # With both services the shared node installs what they share, as before.
    both = plans_of(path)["openstack-base"]
    assert "oslo-db" in env_of(step(both, "install-shared").argv, "PIP_PACKAGES").split()


def test_layering_is_checked_and_the_node_name_reserved(write_pipeline: WritePipeline) -> None:
    with pytest.raises(ConfigError, match=r"layering: 'layered' is not one of: shared, flat"):
        load(write_pipeline(TWO + "layering: layered\n"))
    reserved = TWO + "  openstack-base:\n    source: {pypi: glance==32.0.0}\n"
    with pytest.raises(ConfigError, match=r"'openstack-base' is reserved"):
        load(write_pipeline(reserved, name="reserved.yaml"))


FIVE = """\
images:
  keystone:
    source: {pypi: keystone==29.1.0}
    profiles: []
  glance:
    source: {pypi: glance==32.0.0}
    profiles: []
    dist_packages: [ceph-common, qemu-utils]
  nova:
    source: {pypi: nova==33.0.2}
    profiles: []
    dist_packages: [ceph-common, qemu-utils, libvirt0]
  heat:
    source: {pypi: openstack-heat==26.0.2}
    profiles: []
  octavia:
    source: {pypi: octavia==18.0.1}
    profiles: []
"""
STORAGE = "shared_nodes:\n  storage-base: [glance, nova]\n"
FIVE_SOURCES = {
    **SOURCES,
    "nova": fetched("nova", "33.0.2", "c", ("oslo.db>=6",)),
    "heat": fetched("openstack-heat", "26.0.2", "d", ()),
    "octavia": fetched("octavia", "18.0.1", "e", ()),
}


def test_group_packages_are_those_two_members_install_beyond_the_shared_node() -> None:
    class S:
        def __init__(self, *packages: str) -> None:
            self.dist_packages = packages

    members = [S("ceph-common", "sudo", "lvm2"), S("ceph-common", "sudo"), S("qemu-utils")]
    assert group_packages(members, shared=("sudo",)) == ("ceph-common",)  # type: ignore[arg-type]


def test_a_shared_node_holds_what_its_members_share_and_only_they_start_from_it(
    write_pipeline: WritePipeline,
) -> None:
    plans = plans_of(write_pipeline(FIVE + STORAGE), sources=FIVE_SOURCES)
    storage = plans["storage-base"]
    assert storage.parents == ("openstack-base",)
    assert plans["openstack-base"].image in step(storage, "from").argv
    packages = env_of(step(storage, "install-packages").argv, "PACKAGES").split()
    # Two of five services install them: not half, so not in openstack-base.
    assert packages == ["ceph-common", "qemu-utils"]
    assert "ceph-common" not in plans["openstack-base"].inputs["dist_packages"]
    # Its venv is openstack-base's: so are the wheels its provenance names.
    assert storage.wheels_image == plans["requirements"].image
    # No Python of its own: openstack-base has every distribution two services require.
    assert not any(s.name in ("setup-venv", "install-shared") for s in storage.steps)
    nova = plans["nova"]
    assert nova.parents == ("requirements", "storage-base")
    assert storage.image in step(nova, "from").argv
    own = env_of(step(nova, "install-packages").argv, "PACKAGES").split()
    assert "libvirt0" in own and "ceph-common" not in own and "qemu-utils" not in own
    assert plans["keystone"].parents == ("openstack-base", "requirements")
    # Without it, nova installs its storage packages itself and the other keys hold.
    without = plans_of(write_pipeline(FIVE, name="five.yaml"), sources=FIVE_SOURCES)
    assert "ceph-common" in env_of(step(without["nova"], "install-packages").argv, "PACKAGES")
    assert without["keystone"].key == plans["keystone"].key
    assert without["nova"].key != nova.key


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (STORAGE + "layering: flat\n", r"shared_nodes: shared nodes need 'layering: shared'"),
        ("shared_nodes:\n  storage: [glance]\n", r"shared_nodes\.storage: .*two member"),
        ("shared_nodes:\n  storage: [glance, cinder]\n", r"storage\[1\]: 'cinder' is not an"),
        ("shared_nodes:\n  nova: [glance, keystone]\n", r"same name as an image"),
        ("shared_nodes:\n  openstack-base: [glance, nova]\n", r"'openstack-base' is reserved"),
        (
            "shared_nodes:\n  a: [glance, nova]\n  b: [nova, heat]\n",
            r"shared_nodes\.b\[0\]: 'nova' is already a member of 'a'",
        ),
    ],
)
def test_shared_nodes_are_checked(write_pipeline: WritePipeline, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(write_pipeline(FIVE + extra))


def test_plans_name_what_each_image_is_made_from(write_pipeline: WritePipeline) -> None:
    """The provenance's materials: every parent by image, the source and the constraints by
    digest, and the wheels image a venv's wheels come from (the shared node's and each
    service's own)."""
    plans = plans_of(write_pipeline(TWO))
    wheels = plans["requirements"].image
    for node in ("openstack-base", "keystone", "glance"):
        plan = plans[node]
        assert plan.wheels_image == wheels, node
        materials = {m.name: m for m in plan.materials}
        assert {f"parent:{p}" for p in plan.parents} <= set(materials), node
        assert materials["constraints"].digest[0][0] == "sha256", node
    source = {m.name: m for m in plans["keystone"].materials}["source"]
    assert source.digest[0][0] == "sha256" and len(source.digest[0][1]) == 64
    assert plans["base"].materials == () and plans["base"].wheels_image == ""
