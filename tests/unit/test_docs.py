"""The documentation stays true: its generated reference pages match the code, and every page
is in the site's navigation."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DOCS = ROOT / "docs"


def _generator() -> ModuleType:
    """``docs/generate.py``, imported from its file (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


GENERATE = _generator()


@pytest.mark.parametrize("page", sorted(GENERATE.PAGES))
def test_generated_page_is_current(page: str) -> None:
    """The committed page is what ``python docs/generate.py`` writes from today's code."""
    expected = GENERATE.PAGES[page]()
    path = ROOT / page
    committed = path.read_text(encoding="utf-8") if path.is_file() else ""
    assert committed == expected, f"{page} is out of date: run python docs/generate.py"


def test_generated_pages_hold_nothing_of_this_host() -> None:
    """No checkout path or home folder of the machine that generated them, and defaults
    that depend on the host described, never evaluated."""
    pages = GENERATE.pages()
    for page, content in pages.items():
        assert str(ROOT) not in content, page
        assert str(Path.home()) == "/" or str(Path.home()) not in content, page
    assert "the host's cores + 1" in pages[GENERATE.SETTINGS_PAGE]


def _nav_pages(entries: Any) -> Iterator[str]:
    """The page paths of an mkdocs ``nav`` (nested lists of {title: page or list})."""
    if isinstance(entries, str):
        yield entries
    elif isinstance(entries, list):
        for entry in entries:
            yield from _nav_pages(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            yield from _nav_pages(value)


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = set(_nav_pages(config["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert sorted(pages - nav) == [], "pages missing from mkdocs.yml's nav"
    assert sorted(nav - pages) == [], "nav entries without a page under docs/"
