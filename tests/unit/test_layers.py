"""The package's shape holds: imports point down the layers, and one module writes buildah."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "orchestrator"
# Lowest first: a layer imports from itself and the layers before it, never after.
LAYERS = (
    "model",
    "engine",
    "planning",
    "exporting",
    "loading",
    "records",
    "reporting",
    "execution",
    "cli",
)
# Small leaf modules any layer may use.
LEAVES = {"errors", "redaction", "files", "logsetup"}
ARGV_MODULE = PACKAGE / "engine" / "buildah.py"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if parts[0] == "orchestrator" and len(parts) > 1 else None


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "orchestrator":
                out += [f"orchestrator.{alias.name}" for alias in node.names]
            else:
                out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path: Path) -> None:
    mine = _layer(".".join(path.relative_to(ROOT).with_suffix("").parts))
    if mine not in LAYERS:
        return
    for module in _imports(path):
        theirs = _layer(module)
        if theirs is None or theirs in LEAVES or theirs == mine:
            continue
        assert theirs in LAYERS, f"{module} is in no layer"
        assert LAYERS.index(theirs) < LAYERS.index(mine), f"{path.name} imports {module}"


def test_exporting_uses_only_the_model_and_the_graph() -> None:
    """Exports are pure functions of the graph: never of the engine, a run or the disk."""
    for path in sorted((PACKAGE / "exporting").glob("*.py")):
        for module in _imports(path):
            layer = _layer(module)
            if layer in (None, "exporting", "model", "errors"):
                continue
            assert module == "orchestrator.planning.graph", f"{path.name} imports {module}"


def test_only_engine_process_imports_sh() -> None:
    importers = [p for p in _modules() if "sh" in _imports(p)]
    assert importers == [PACKAGE / "engine" / "process.py"]


def test_only_engine_buildah_writes_buildah_or_podman_argv() -> None:
    """No other module starts a tuple or list with "buildah" or "podman"."""
    writers = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.List) and node.elts:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and first.value in ("buildah", "podman"):
                    writers.add(path)
    assert writers == {ARGV_MODULE}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports: ``from a.b import c`` counts ``a.b.c`` where
    that is a module, else ``a.b``."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                out.add(child if child in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out & known


def test_no_import_circle() -> None:
    """No module reaches itself through the package's imports (type-only imports included;
    package ``__init__`` modules, which only name their package, left out)."""
    import networkx as nx

    paths = [p for p in _modules() if p.name != "__init__.py"]
    known = {_module_name(p) for p in paths}
    graph = nx.DiGraph()
    for path in paths:
        name = _module_name(path)
        graph.add_node(name)
        graph.add_edges_from((name, m) for m in _imported_modules(path, known) if m != name)
    assert list(nx.simple_cycles(graph)) == []
