"""The shared node (``openstack-base``): what two services or more install, once; the
services on it add only their own (``layering: shared``, the default), or start from the base
(``layering: flat``, or a pipeline of one service)."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loading.load import load
from orchestrator.planning.graph import build_graph
from orchestrator.planning.shared import common_distributions, common_packages
from tests.conftest import WritePipeline
from tests.unit.test_plan import TWO, plans_of


def step(plan, name):  # type: ignore[no-untyped-def]
    return next(s for s in plan.steps if s.name == name)


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


def test_layering_is_checked_and_the_node_name_reserved(write_pipeline: WritePipeline) -> None:
    with pytest.raises(ConfigError, match=r"layering: 'layered' is not one of: shared, flat"):
        load(write_pipeline(TWO + "layering: layered\n"))
    reserved = TWO + "  openstack-base:\n    source: {pypi: glance==32.0.0}\n"
    with pytest.raises(ConfigError, match=r"'openstack-base' is reserved"):
        load(write_pipeline(reserved, name="reserved.yaml"))
