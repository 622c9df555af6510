"""The read model: every published record's public read shape, rendered once as JSON bytes when it is
written, in a table of its own (`read_documents`). A public list page is then the facet index's range scan
for its keys plus one query for their bodies, joined as bytes; a public detail starts from one lookup.

The bodies are made by `render`, which is the public read shape itself (`documents.expand` with
`public=True`, through which every public list and detail is made), so the rule for what a public
document shows lives in one place. The write path (`ContentWriter.finish`) calls `refresh` in the same
transaction as the write, with the records it touched and removed and the ones it updated: the documents
of the touched records are rendered again, and so are those of every record embedding an updated one (a
renamed condition re-renders the claims and topics naming it, a topic's new source its claims and
quotes, an unpublished expert the quotes that embedded them). A record created in the transaction needs
no dependents: whatever points at it was written after it, in the same transaction, and is touched too.
`rebuild` renders everything again (the migration that made the table, and `db rebuild-documents`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, select

from app.content.documents import IN_LIST, chunks, expand, in_stored_order, load_documents
from app.content.resources import RESOURCES, ResourceSpec
from app.content.vocab import Status
from app.core.db import insert_many
from app.models import ReadDocument, ReadInvalidation, table_of

READ = table_of(ReadDocument)
INVALIDATIONS = table_of(ReadInvalidation)
RENDER_BATCH = 2_000
BULK = 1_000  # records a write changes past which its invalidation is "everything"
INVALIDATIONS_KEPT = 10_000  # content versions of invalidations kept


Written = dict[str, dict[int, dict[str, Any]]]  # resource -> pk -> the document a write left, as it holds it


def render(
    conn: Connection, spec: ResourceSpec, pks: Sequence[int], written: Written | None = None
) -> dict[int, bytes]:
    """The public read shape of each published record among `pks`, as the JSON bytes a page shows; the
    documents in `written` (what this transaction wrote of them) are not read back."""
    out: dict[int, bytes] = {}
    held = (written or {}).get(spec.name, {})
    for part in chunks(list(pks), RENDER_BATCH):
        docs = load_documents(conn, spec, [pk for pk in part if pk not in held])
        docs.update((pk, in_stored_order(spec, held[pk])) for pk in part if pk in held)
        shown = [pk for pk in part if pk in docs and docs[pk]["status"] == Status.published]
        items = expand(conn, spec, [docs[pk] for pk in shown], public=True)
        for pk, item in zip(shown, items, strict=True):
            out[pk] = orjson.dumps(item)
    return out


@cache
def _bodies_statement():
    return select(READ.c.record_pk, READ.c.body).where(
        READ.c.resource == bindparam("resource"), READ.c.record_pk.in_(IN_LIST)
    )


def bodies(conn: Connection, spec: ResourceSpec, pks: Sequence[int]) -> list[bytes]:
    """The kept bodies of `pks` (published records), in the order given. A body not kept (a store filled
    before the read model, not yet rebuilt) is rendered here, so an answer is never short."""
    found: dict[int, bytes] = {}
    for part in chunks(list(pks)):
        found.update(conn.execute(_bodies_statement(), {"resource": spec.name, "values": list(part)}).all())
    missing = [pk for pk in pks if pk not in found]
    if missing:
        found.update(render(conn, spec, missing))
    return [bytes(found[pk]) for pk in pks if pk in found]


def _pks_where(conn: Connection, column, targets: Iterable[int], selected) -> set[int]:
    found: set[int] = set()
    for part in chunks(sorted(targets)):
        found.update(conn.execute(select(selected).where(column.in_(part))).scalars())
    return found


def moves_lists(spec: ResourceSpec, old: dict, new: dict) -> bool:
    """Whether an update may move a record in or out of a list or a filter: a new status, relation,
    language or type (what facets and visibility are made of), not a new text."""
    fields = ("status", "language", "type", *spec.refs, *spec.links)
    return any(old.get(name) != new.get(name) for name in fields)


def dependents(conn: Connection, changed: dict[str, set[int]]) -> dict[str, set[int]]:
    """Records whose public read shape embeds one of the `changed` records: through a reference, a link,
    or (for what names a topic) the source its topic names."""
    out: dict[str, set[int]] = defaultdict(set)
    changed = {resource: pks for resource, pks in changed.items() if pks}
    if not changed:
        return out
    topics_of_sources: set[int] = set()
    if changed.get("source"):
        topic = RESOURCES["topic"].table
        topics_of_sources = _pks_where(conn, topic.c.source_pk, changed["source"], topic.c.pk)
    for spec in RESOURCES.values():
        table = spec.table
        for ref in spec.refs.values():
            targets = set(changed.get(ref.target, ()))
            if ref.target == "topic":
                targets |= topics_of_sources
            if targets:
                out[spec.name] |= _pks_where(conn, table.c[ref.column], targets, table.c.pk)
        for link in spec.links.values():
            if changed.get(link.target):
                column = link.table.c[link.other]
                out[spec.name] |= _pks_where(conn, column, changed[link.target], link.table.c[link.own])
    return out


def _forget(conn: Connection, resource: str, pks: Iterable[int]) -> None:
    for part in chunks(sorted(pks)):
        conn.execute(delete(READ).where(READ.c.resource == resource, READ.c.record_pk.in_(part)))


def _store(
    conn: Connection, spec: ResourceSpec, pks: Sequence[int], *, replace: bool = True, written: Written | None = None
) -> None:
    """Render `pks` and keep their bodies (`replace`: dropping what was kept for them first)."""
    for part in chunks(list(pks), RENDER_BATCH):
        if replace:
            _forget(conn, spec.name, part)
        rendered = render(conn, spec, part, written)
        insert_many(
            conn, READ, [{"resource": spec.name, "record_pk": pk, "body": body} for pk, body in rendered.items()]
        )


def refresh(
    conn: Connection,
    touched: dict[str, set[int]],
    removed: dict[str, set[int]],
    updated: dict[str, set[int]],
    created: dict[str, set[int]] | None = None,
    written: Written | None = None,
) -> dict[str, set[int]]:
    """Bring the kept documents in step with a write transaction's changes (see the module's text; the
    records it `created` have no kept document yet to drop, the documents it `written` need no reading
    back); returns the dependents rendered again (records whose embedded parts changed)."""
    for resource, pks in removed.items():
        _forget(conn, resource, pks)
    wanted: dict[str, set[int]] = {resource: set(pks) for resource, pks in touched.items()}
    embedding = dependents(conn, updated)
    for resource, pks in embedding.items():
        wanted.setdefault(resource, set()).update(pks)
    for resource, pks in wanted.items():
        new = (created or {}).get(resource, set())
        # A pk both removed and created is a new record in a deleted one's place (SQLite reuses the highest).
        pks = pks - (removed.get(resource, set()) - new)
        if pks - new:
            _store(conn, RESOURCES[resource], sorted(pks - new), written=written)
        if pks & new:
            _store(conn, RESOURCES[resource], sorted(pks & new), replace=False, written=written)
    return embedding


def invalidate(
    conn: Connection,
    seq: int,
    moved: dict[str, set[int]],
    refaceted: dict[str, set[int]],
    touched: dict[str, set[int]],
    embedding: dict[str, set[int]],
) -> None:
    """Note, under content version `seq`, the records whose place in lists may have changed (`moved`:
    created, deleted, a new status or relation; and those whose facets were recomputed because another
    record moved them) and those whose document alone changed (touched or embedding one that was), for
    the response cache's per-response validity (`api/validity.py`). A large write is one row meaning
    everything. Rows older than `INVALIDATIONS_KEPT` versions are dropped."""
    places = {r: set(moved.get(r, ())) | (refaceted.get(r, set()) - touched.get(r, set())) for r in RESOURCES}
    rows = [(seq, r, pk, "m") for r, pks in places.items() for pk in pks]
    for r in RESOURCES:
        rows += [(seq, r, pk, "b") for pk in (touched.get(r, set()) | embedding.get(r, set())) - places[r]]
    if len(rows) > BULK:
        rows = [(seq, "*", 0, "m")]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = "(seq, resource, record_pk, kind)"
    if rows:
        conn.exec_driver_sql(f"INSERT INTO {INVALIDATIONS.name} {columns} VALUES ({', '.join([mark] * 4)})", rows)
    conn.execute(delete(INVALIDATIONS).where(INVALIDATIONS.c.seq < seq - INVALIDATIONS_KEPT))


def rebuild(conn: Connection) -> dict[str, int]:
    """Render every published record's document again; returns how many each resource has."""
    conn.execute(delete(READ))
    counts = {}
    for spec in RESOURCES.values():
        pks = conn.execute(select(spec.table.c.pk).order_by(spec.table.c.pk)).scalars().all()
        _store(conn, spec, pks, replace=False)
        counts[spec.name] = conn.execute(
            select(func.count()).select_from(READ).where(READ.c.resource == spec.name)
        ).scalar_one()
    return counts


def stale(conn: Connection) -> list[tuple[str, int]]:
    """(resource, pk) of every kept document that differs from a fresh render, or is missing or extra:
    empty when the read model is in step (what the equivalence test and an operator's check ask)."""
    wrong: list[tuple[str, int]] = []
    for spec in RESOURCES.values():
        kept = dict(conn.execute(select(READ.c.record_pk, READ.c.body).where(READ.c.resource == spec.name)).all())
        pks = conn.execute(select(spec.table.c.pk).order_by(spec.table.c.pk)).scalars().all()
        fresh = render(conn, spec, pks)
        for pk in sorted(set(kept) | set(fresh)):
            if pk not in kept or pk not in fresh or bytes(kept[pk]) != fresh[pk]:
                wrong.append((spec.name, pk))
    return wrong
