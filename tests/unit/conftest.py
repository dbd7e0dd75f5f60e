"""Unit-test fixtures."""

from __future__ import annotations

import pytest

from orchestrator.model.platforms import SUPPORTED


@pytest.fixture(autouse=True)
def _an_amd64_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans are written as an amd64 host makes them (``--arch amd64``, arm64 emulated),
    whatever host runs the unit tests."""
    monkeypatch.setattr("orchestrator.loading.load.host_platform", lambda: SUPPORTED["linux/amd64"])
