"""The house's rules, kept by a test: no import circle (lazy imports counted), no layer crossing, and the
symlinks mypy reads through matching pyproject's package map.

Every import of the package's modules is read from their source (top-level and inside functions; not those
under ``if TYPE_CHECKING:``, which never run). The layers (docs/architecture.md):

* the torch-free core (config, quantize, audio, ...) imports neither `live`, `gui`, `export` nor the commands;
* `live` imports neither torch nor Qt, nor the torch side, `gui`, `export` or the commands;
* nothing below the commands imports them.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rt_samplernn"
CORE = {
    "atomic",
    "audio",
    "block_features",
    "config",
    "errors",
    "measure",
    "progress",
    "quantize",
    "sampling",
    "schedule",
    "structured",
    "two_sample",
}
TORCH_SIDE = {"model", "data", "train", "checkpoint", "generate", "previews"}


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (rt_samplernn/export and /gui through their symlinks)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        if "__pycache__" in rel.parts or rel.parts[0] == "models":
            continue
        parts = ["rt_samplernn", *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports(path: Path) -> set[str]:
    """The dotted names a module imports when it runs (lazy imports too)."""
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and not _type_checking_only(node, parents):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not _type_checking_only(node, parents):
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for imported in _imports(path):
            if imported in modules and imported != name:
                edges.add(imported)
            elif imported.startswith("rt_samplernn.") and imported.rsplit(".", 1)[0] in modules:
                edges.add(imported.rsplit(".", 1)[0])  # `from pkg.mod import name`
        edges.discard(name)
        graph[name] = edges
    return graph


def _circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    head = parts[1]
    if head in CORE and len(parts) == 2:
        return "core"
    if head in TORCH_SIDE and len(parts) == 2:
        return "torch side"
    return head  # live, gui, export, commands, cli, ...


def test_no_import_circle_lazy_imports_included():
    circles = [sorted(c) for c in _circles(_graph())]
    assert circles == [], f"modules that import each other: {circles}"


def test_no_layer_crossing():
    forbidden = {
        "core": {"live", "gui", "export", "commands", "torch side", "cli"},
        "live": {"gui", "export", "commands", "torch side", "cli"},
        "torch side": {"live", "gui", "export", "commands", "cli"},
        "gui": {"commands", "export", "cli"},
        "export": {"commands", "gui", "cli"},
    }
    crossings = []
    modules = _modules()
    for name, edges in _graph().items():
        for target in edges:
            if _layer(target) in forbidden.get(_layer(name), set()):
                crossings.append(f"{name} -> {target}")
    for name, path in modules.items():  # live: no torch, no Qt, lazy imports included
        if _layer(name) in ("live", "core"):
            for imported in _imports(path):
                top = imported.split(".")[0]
                if top == "torch" or (top == "PyQt6" and _layer(name) == "live"):
                    crossings.append(f"{name} -> {imported}")
    assert sorted(crossings) == [], "imports that cross a layer (docs/architecture.md)"


def test_the_symlinks_mypy_reads_match_the_package_map():
    """rt_samplernn/export and rt_samplernn/gui are the folders pyproject's package-dir maps them to."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir = project["tool"]["setuptools"]["package-dir"]
    mapped = {name: folder for name, folder in package_dir.items() if name != "rt_samplernn"}
    assert mapped, "the package map lists the folders outside rt_samplernn/"
    for name, folder in mapped.items():
        link = ROOT / Path(*name.split("."))
        assert link.is_symlink(), f"{link} should be a symlink to {folder}/ (mypy reads the package through it)"
        assert link.resolve() == (ROOT / folder).resolve(), f"{link} points at {link.resolve()}, not {folder}/"
    links = {p.name for p in PACKAGE.iterdir() if p.is_symlink()}
    assert links == {name.split(".")[-1] for name in mapped}, "a symlink under rt_samplernn/ that the map lacks"
