"""What the app's routing knows, for the middleware: which methods a path takes, across every router (the
framework's own 405 names only the first route that matched the path, so its `Allow` can leave out the
write methods another router adds to the same path)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_CACHE_ATTR = "_ops_route_table"


def iter_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, route) for every endpoint, descending into included routers; mounts are skipped."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            context = getattr(route, "include_context", None)
            yield from iter_routes(original.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif getattr(route, "methods", None) and getattr(route, "path", None) is not None:
            yield prefix + route.path, set(route.methods), route


def _table(app: Any) -> list[tuple[re.Pattern[str], set[str]]]:
    table = getattr(app.state, _CACHE_ATTR, None)
    if table is None:
        table = []
        for path, methods, _ in iter_routes(app.router.routes):
            pattern = re.sub(r"\{[^}:]+(?::path)?\}", lambda m: ".*" if ":path" in m.group() else "[^/]+", path)
            table.append((re.compile(f"^{pattern}$"), methods))
        setattr(app.state, _CACHE_ATTR, table)
    return table


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route takes at `path` (HEAD wherever GET is), sorted."""
    methods: set[str] = set()
    for pattern, route_methods in _table(app):
        if pattern.match(path):
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
