"""Cloud fixtures: the images (built or reused as the acceptance suite does) and the marker."""

from __future__ import annotations

import pytest

from tests.acceptance.conftest import images, workdir

__all__ = ["images", "workdir"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cloud" in str(item.fspath):
            item.add_marker(pytest.mark.cloud)
