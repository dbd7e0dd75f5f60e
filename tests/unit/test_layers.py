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
    "inspection",
    "provenance",
    "execution",
    "workflows",
    "cli",
)
# Small leaf modules any layer may use.
LEAVES = {"errors", "redaction", "files", "logsetup"}
ARGV_MODULE = PACKAGE / "engine" / "buildah.py"
STORAGE_MODULE = PACKAGE / "engine" / "storage.py"


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


def test_only_engine_runner_imports_sh() -> None:
    importers = [p for p in _modules() if "sh" in _imports(p)]
    assert importers == [PACKAGE / "engine" / "runner.py"]


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


def _runner_calls(path: Path) -> list[ast.Call]:
    """Calls of a ``run`` or ``capture`` method: commands handed to a runner."""
    return [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("run", "capture")
    ]


def test_the_argv_module_runs_nothing() -> None:
    """engine/buildah.py only writes argv: it hands none to a runner and imports nothing of
    the engine (a runner, storage, a process) nor anything that starts a process."""
    assert _runner_calls(ARGV_MODULE) == []
    imported = set(_imports(ARGV_MODULE))
    assert not {m for m in imported if m.startswith("orchestrator.engine")}
    assert not imported & {"sh", "subprocess", "os", "multiprocessing"}


def _argv_builders(tree: ast.Module) -> set[str]:
    """Names a module gives engine/buildah.py's builders: imported ones, and the module's
    own name when it imports the module (``buildah.rmi``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "orchestrator.engine.buildah":
            names.update(alias.asname or alias.name for alias in node.names)
        if isinstance(node, ast.ImportFrom) and node.module == "orchestrator.engine":
            names.update(
                alias.asname or alias.name for alias in node.names if alias.name == "buildah"
            )
    return names


def _runs_buildah_argv(path: Path) -> bool:
    """Whether ``path`` hands a runner an argv made by an engine/buildah.py builder."""
    builders = _argv_builders(ast.parse(path.read_text()))
    for call in _runner_calls(path):
        argv = call.args[0] if call.args else None
        if isinstance(argv, ast.Call):
            made_by = argv.func
            if isinstance(made_by, ast.Attribute) and isinstance(made_by.value, ast.Name):
                made_by = made_by.value
            if isinstance(made_by, ast.Name) and made_by.id in builders:
                return True
    return False


def test_in_the_engine_storage_runs_buildah_argv() -> None:
    """Within the engine, the storage module is where buildah and podman queries are handed to
    a runner; the executor (execution layer) runs its steps' own."""
    engine = sorted((PACKAGE / "engine").glob("*.py"))
    assert [p for p in engine if _runs_buildah_argv(p)] == [STORAGE_MODULE]


def environ_writes(source: str) -> list[int]:
    """Lines that change the process's environment: ``os.environ[k] = v`` (``+=`` too),
    ``del os.environ[k]``, ``os.environ |= ...``, ``os.environ.update/pop/popitem/setdefault/
    clear`` and ``os.putenv``/``os.unsetenv`` (or those names imported from os)."""
    tree = ast.parse(source)
    from_os = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "os"
        for alias in node.names
    }

    def is_os(node: ast.expr, name: str) -> bool:
        if isinstance(node, ast.Attribute):
            return node.attr == name and isinstance(node.value, ast.Name) and node.value.id == "os"
        return isinstance(node, ast.Name) and from_os.get(node.id) == name

    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        if any(is_os(t.value if isinstance(t, ast.Subscript) else t, "environ") for t in targets):
            lines.append(node.lineno)
        if isinstance(node, ast.Call):
            func = node.func
            changes = {"update", "pop", "popitem", "setdefault", "clear", "__setitem__"}
            if (
                isinstance(func, ast.Attribute)
                and func.attr in changes
                and is_os(func.value, "environ")
            ):
                lines.append(node.lineno)
            if is_os(func, "putenv") or is_os(func, "unsetenv"):
                lines.append(node.lineno)
    return sorted(lines)


def test_environ_writes_are_found() -> None:
    source = """
import os
from os import environ, putenv
os.environ["A"] = "1"
os.environ["A"] += "2"
del os.environ["A"]
environ.update(A="1")
os.environ.pop("A", None)
os.environ.setdefault("A", "1")
os.putenv("A", "1")
putenv("A", "1")
os.environ |= {"A": "1"}
x = os.environ.get("A")
env = dict(os.environ, A="1")
"""
    assert environ_writes(source) == [4, 5, 6, 7, 8, 9, 10, 11, 12]  # not the reads


def test_no_module_changes_the_process_environment() -> None:
    """What a command needs in its environment (a storage.conf, proxies) is given to that
    command by its runner: orchestrate's own environment, which every thread and every later
    command shares, is never written."""
    writers = {
        str(p.relative_to(ROOT)): lines
        for p in _modules()
        if (lines := environ_writes(p.read_text()))
    }
    assert writers == {}


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
