"""Cloud fixtures: the images (built or reused as the acceptance suite does), the marker, and
loopback kept away from any proxy."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.acceptance.conftest import images, workdir

__all__ = ["images", "workdir"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is ``cloud``; one that needs no image (no ``service`` marker) is
    ``cloud_fast`` too, which the default run takes."""
    for item in items:
        if "tests/cloud" in str(item.fspath):
            item.add_marker(pytest.mark.cloud)
            if item.get_closest_marker("service") is None:
                item.add_marker(pytest.mark.cloud_fast)


@pytest.fixture(scope="session", autouse=True)
def loopback_without_proxy() -> Iterator[None]:
    """Every service of the scenario is on 127.0.0.1: an ``HTTP(S)_PROXY`` of the environment
    must not reroute it, neither for the clients here nor in the containers (podman passes the
    proxy variables on to them)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("NO_PROXY", "no_proxy"):
            hosts = [h for h in os.environ.get(name, "").split(",") if h.strip()]
            patch.setenv(name, ",".join([*hosts, "127.0.0.1", "localhost"]))
        yield
