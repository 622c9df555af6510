"""The layering of `app/` is a contract: every import points down, and no two packages import each other,
even through others. The imports are read from the source with `ast` (those inside functions included),
so an import made late to dodge a cycle is still one.

    models        the tables (and the package root: its version)
    core          settings, database and content version, the error family, paging and links, clock, servable text
    HTTP layer    middleware, rate limits, response cache and compression, the caller, error handlers,
                  dependencies, docs, operations routes, request plumbing (api, ops)
    domains       content, auth, editing, partners, search, importer, synthetic, webhooks, infobutton, pages
    wiring        main.py and cli.py: the only places that wire things together

A package may import from its own layer or any below it; within a layer, the package graph has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.core.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app"

LAYERS: list[set[str]] = [
    {"app", "models"},
    {"core"},
    {"api", "ops"},
    {"content", "auth", "editing", "partners", "search", "importer", "synthetic", "webhooks", "infobutton", "pages"},
    {"main", "cli", "__main__"},
]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """`app.content.store` -> `content`; `app.main` -> `main`; `app` -> `app`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def is_module(name: str) -> bool:
    path = APP.parent / name.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def imports_of(path: Path, module: str) -> set[str]:
    """The `app` modules `module` imports, relative imports resolved."""
    found: set[str] = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names if is_module(f"{target}.{alias.name}"))
    return {name for name in found if name == "app" or name.startswith("app.")}


def import_graph() -> list[tuple[str, str]]:
    """(importer, imported) for every import of one `app` module by another."""
    edges = []
    for path in sorted(APP.rglob("*.py")):
        module = module_name(path)
        edges.extend((module, target) for target in sorted(imports_of(path, module)))
    return edges


def upward_imports(edges: list[tuple[str, str]]) -> list[str]:
    return [
        f"{source} imports {target}" for source, target in edges if RANK[package_of(target)] > RANK[package_of(source)]
    ]


def package_cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected groups of two or more packages (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        a, b = package_of(source), package_of(target)
        graph.setdefault(a, set())
        graph.setdefault(b, set())
        if a != b:
            graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


EDGES = import_graph()


def test_the_graph_is_read():
    assert ("app.main", "app.core.config") in EDGES
    assert len(EDGES) > 100


def test_every_package_has_a_layer():
    packages = {package_of(module_name(path)) for path in APP.rglob("*.py")}
    assert packages - RANK.keys() == set(), "add the new package to LAYERS in this test and to docs/ARCHITECTURE.md"


def test_imports_point_down():
    assert upward_imports(EDGES) == []


# The foundation: what every layer above may use. Anything that speaks ASGI or wires into the framework
# (middleware, caching, rate limits, handlers) is the HTTP layer's.
CORE_MODULES = {"config", "db", "errors", "pagination", "clock", "migrate", "text"}
FRAMEWORK_WIRING = ("fastapi", "starlette.middleware", "starlette.types", "starlette.applications")


def test_core_is_the_foundation_only():
    modules = {path.stem for path in (APP / "core").glob("*.py")} - {"__init__"}
    assert modules == CORE_MODULES, "core holds the foundation; put HTTP machinery in app/api"


def test_core_wires_nothing_into_the_framework():
    found = []
    for path in sorted((APP / "core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            found += [f"{path.stem} imports {n}" for n in names if n.startswith(FRAMEWORK_WIRING)]
    assert found == []


def test_no_package_cycles():
    assert package_cycles(EDGES) == []


@pytest.mark.parametrize(
    ("edges", "upward", "cycles"),
    [
        ([("app.core.db", "app.search")], 1, []),
        ([("app.core.errors", "app.api.caching"), ("app.api.caching", "app.core.db")], 1, [["api", "core"]]),
        ([("app.api.caching", "app.content.queries")], 1, []),
        ([("app.content.store", "app.core.db"), ("app.models", "app")], 0, []),
        ([("app.api.docs", "app.main"), ("app.main", "app.api.docs")], 1, [["api", "main"]]),
        ([("app.search.x", "app.content.y"), ("app.content.y", "app.search.z")], 0, [["content", "search"]]),
    ],
)
def test_the_checks_catch_violations(edges, upward, cycles):
    assert len(upward_imports(edges)) == upward
    assert package_cycles(edges) == cycles
