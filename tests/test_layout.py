"""The package's shape, computed from the source with ``ast`` so that it stays true.

No import cycle among the package's modules, no private name imported across modules, no module
over the size limit, shells over the services only, and the README's layout names real modules.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "assistant"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, str]]:
    """(module imported, name imported or '') for every import of the package, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("assistant"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub, "") if sub in modules else (node.module, alias.name))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names if alias.name.startswith("assistant"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _ in _imports(path, modules):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_the_package_modules() -> None:
    graph = _graph()
    # package __init__ files import nothing, so an edge to a package is an edge to its __init__ only
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_is_imported_across_modules() -> None:
    modules = _modules()
    offenders = [
        f"{_module_name(path)} imports {target}.{name}"
        for path in [*modules.values(), *(REPO / "tests").rglob("*.py")]
        for target, name in _imports(path, modules)
        if name.startswith("_") and not name.startswith("__")
    ]
    assert offenders == []


def test_no_module_is_over_the_size_limit() -> None:
    files = [*PACKAGE.rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "scripts").rglob("*.py")]
    too_long = {str(p.relative_to(REPO)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}


def test_stages_never_import_a_shell_or_a_tool() -> None:
    stages = ("text", "ingest", "index", "answer")
    shells = ("cli", "web", "api", "evaluation", "bench")
    graph = _graph()
    offenders = [
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.split(".")[1:2] and name.split(".")[1] in stages
        for target in targets
        if target.split(".")[1:2] and target.split(".")[1] in shells
    ]
    assert offenders == []


def test_package_init_files_do_no_work() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert all(isinstance(n, ast.ImportFrom | ast.Import) for n in body), init


def test_every_module_named_in_the_readme_layout_exists() -> None:
    readme = (REPO / "README.md").read_text()
    layout = readme.split("<!-- layout -->", 2)
    assert len(layout) == 3, "the README's layout block is marked with <!-- layout --> before and after"
    named = re.findall(r"^\s*(assistant/[\w/]+\.py)", layout[1], re.M)
    assert len(named) >= 20
    missing = [name for name in named if not (REPO / name).is_file()]
    assert missing == []
