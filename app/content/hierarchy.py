"""Records that point at others of their kind (a condition's parent): the order a subtree is deleted in."""

from __future__ import annotations

from sqlalchemy import Connection, select

from app.content.documents import chunks
from app.content.resources import ResourceSpec


def children_first(conn: Connection, spec: ResourceSpec, pks: list[int]) -> list[list[int]]:
    """`pks` in levels, deepest first: the reference to a record of the same kind refuses a delete at once
    (ON DELETE RESTRICT, row by row), so a subtree is deleted from its leaves up, one level at a time."""
    columns = [spec.table.c[ref.column] for ref in spec.refs.values() if ref.target == spec.name]
    if not columns or len(pks) < 2:
        return [pks]
    parents: dict[int, int | None] = {}
    for part in chunks(pks):
        for pk, parent in conn.execute(select(spec.table.c.pk, columns[0]).where(spec.table.c.pk.in_(part))):
            parents[pk] = parent
    levels: dict[int, list[int]] = {}
    for pk in pks:
        seen: list[int] = []
        current: int | None = pk
        while current in parents and current not in seen:  # its ancestors among those deleted
            seen.append(current)
            current = parents[current]
        levels.setdefault(len(seen), []).append(pk)
    return [levels[depth] for depth in sorted(levels, reverse=True)]
