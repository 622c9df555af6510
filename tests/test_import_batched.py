"""A batched import is the one write path: the same synthetic content written in batches of many records per
transaction (as `generate` and the importer write) and written one record per transaction (as an editor
writes) leaves the same store behind: records, link rows, revisions, the change log, facets, the read model's
bodies, the search index. And every derived table of the batched store equals what a rebuild from the
records gives (facets recomputed, documents rendered again, the search index rewritten)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, select

from app.content import facets, readmodel
from app.content.resources import FACETED, RESOURCES
from app.content.store import writing
from app.core.db import Database
from app.models import Change, Revision
from app.search import index as search_index
from app.synthetic import ACTOR, Generator, generate
from tests.conftest import _database

TIMES = frozenset({"created_at", "updated_at", "at"})  # when each store was written: all that differs


def _timeless(value: Any) -> Any:
    """A value with the write times taken out, at any depth (documents embed records with theirs)."""
    if isinstance(value, (bytes, memoryview)):
        return _timeless(orjson.loads(bytes(value)))
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _rows(conn, table: Table, *skip: str) -> list[tuple]:
    columns = [c for c in table.c if c.name not in {*skip, *TIMES}]
    return sorted((tuple(_timeless(v) for v in row) for row in conn.execute(select(*columns))), key=repr)


def _search_rows(conn) -> list[tuple]:
    query = f"SELECT {search_index.id_column(conn)}, resource, record_pk, key, status, label, title, body FROM "
    return sorted(conn.exec_driver_sql(query + search_index.TABLE).all(), key=repr)


def _state(db: Database) -> dict[str, Any]:
    """Everything the write path keeps, table by table (the change log without its numbers, which count
    transactions, and the invalidations, which are per transaction by design)."""
    with db.read() as conn:
        state: dict[str, Any] = {}
        for spec in RESOURCES.values():
            state[spec.name] = _rows(conn, spec.table)
            for name, link in spec.links.items():
                state[f"{spec.name}.{name}"] = _rows(conn, link.table, "pk")
        state["revisions"] = _rows(conn, Revision.__table__, "pk")
        state["changes"] = _rows(conn, Change.__table__, "seq")
        state["facets"] = _rows(conn, facets.FACETS)
        state["read_documents"] = _rows(conn, readmodel.READ)
        state["search"] = _search_rows(conn)
    return state


def _one_by_one(db: Database, claims: int, seed: int) -> None:
    """Each record in a transaction of its own; the conditions, whose parents a batch inserts first (so
    their numbers follow the hierarchy), in one, so that both stores number every record alike."""
    for resource, items in Generator(claims, seed).batches():
        if resource == "condition":
            with writing(db, ACTOR) as writer:
                writer.put_many(resource, items)
            continue
        for key, doc in items:
            with writing(db, ACTOR) as writer:
                writer.put(resource, key, doc)


def _stores(templates, count: int) -> Iterator[list[Database]]:
    opened = [_database(templates, "empty", seeded=False) for _ in range(count)]
    dbs = [next(made)[1] for made in opened]
    try:
        yield dbs
    finally:
        for made in opened:
            next(made, None)


@settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(claims=st.integers(1, 40), seed=st.integers(1, 50), batch=st.sampled_from([1, 7, 60, 5_000]))
def test_a_batched_import_leaves_the_store_a_record_by_record_import_leaves(templates, claims, seed, batch):
    for batched, single in _stores(templates, 2):
        generate(batched, claims, seed, batch=batch)
        _one_by_one(single, claims, seed)
        assert _state(batched) == _state(single)


def test_a_generated_store_s_derived_tables_equal_a_rebuild(templates):
    for (db,) in _stores(templates, 1):
        generate(db, 400, seed=7, batch=150)
        before = _state(db)
        with db.read() as conn:
            assert readmodel.stale(conn) == []
        with db.write() as conn:
            everything = {name: set(conn.execute(select(RESOURCES[name].table.c.pk)).scalars()) for name in FACETED}
            conn.execute(facets.FACETS.delete())
            facets.refresh(conn, everything, {}, {})
            readmodel.rebuild(conn)
            search_index.rebuild(conn)
        assert _state(db) == before


def test_documents_made_in_a_second_process_leave_the_store_made_in_one(templates):
    for forked, inline in _stores(templates, 2):
        generate(forked, 90, seed=4, batch=40, parallel=True)
        generate(inline, 90, seed=4, batch=40, parallel=False)
        assert _state(forked) == _state(inline)
