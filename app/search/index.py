"""The search index: one row per searchable record, kept by the write path.

SQLite holds it in an FTS5 table (porter stemming over unicode61), PostgreSQL in a table with a weighted
`tsvector` column under a GIN index (the `english` configuration); migration 0002 makes either. A row's id
is derived from the record (`pk * 8 + resource code`), so updating or removing a record's row is a
primary-key operation on both databases, however large the index grows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, text

from app.content.documents import chunks
from app.content.resources import RESOURCES

TABLE = "search_index"
# Searchable resources and the code each contributes to a row id.
CODES = {"topic": 1, "claim": 2, "quote": 3, "expert": 4, "condition": 5}
LABEL_LENGTH = 140
# Characters the snippet functions use as highlight markers; stripped from indexed text so a marker in
# a snippet can only be ours.
MARK_START, MARK_END = "\x02", "\x03"
_STRIP = str.maketrans({"\x00": " ", MARK_START: " ", MARK_END: " "})


def row_id(resource: str, pk: int) -> int:
    return pk * 8 + CODES[resource]


def id_column(conn: Connection) -> str:
    return "rowid" if conn.dialect.name == "sqlite" else "id"


def _clean(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p).translate(_STRIP)


def shorten(value: str, length: int = LABEL_LENGTH) -> str:
    value = " ".join(value.split())
    if len(value) <= length:
        return value
    cut = value[: length - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def _rows(conn: Connection, resource: str, pks: list[int]) -> list[dict]:
    """Index rows of the given records: `title` is weighted above `body`; `label` is what a hit shows."""
    t = RESOURCES[resource].table
    out: list[tuple[Any, ...]] = []
    query: Select[*tuple[Any, ...]]  # one shape per resource
    if resource == "topic":
        query = select(t.c.pk, t.c.key, t.c.status, t.c.title, t.c.summary, t.c.body)
        for pk, key, status, title, summary, body in conn.execute(query.where(t.c.pk.in_(pks))):
            out.append((pk, key, status, title, _clean(title), _clean(summary, body)))
    elif resource == "claim":
        query = select(t.c.pk, t.c.key, t.c.status, t.c.text, t.c.source_excerpt)
        for pk, key, status, claim, excerpt in conn.execute(query.where(t.c.pk.in_(pks))):
            out.append((pk, key, status, shorten(claim), _clean(claim), _clean(excerpt)))
    elif resource == "quote":
        experts = RESOURCES["expert"].table
        query = select(t.c.pk, t.c.key, t.c.status, t.c.text, experts.c.name).join(
            experts, experts.c.pk == t.c.expert_pk
        )
        for pk, key, status, quote, name in conn.execute(query.where(t.c.pk.in_(pks))):
            out.append((pk, key, status, shorten(f"{name}: “{quote}”"), _clean(quote), _clean(name)))
    elif resource == "expert":
        query = select(
            t.c.pk,
            t.c.key,
            t.c.status,
            t.c.name,
            t.c.honorific,
            t.c.credentials,
            t.c.job_title,
            t.c.affiliation,
            t.c.described_as,
        )
        for pk, key, status, name, honorific, credentials, job, affiliation, described in conn.execute(
            query.where(t.c.pk.in_(pks))
        ):
            body = _clean(honorific, ", ".join(credentials or []), job, affiliation, described)
            out.append((pk, key, status, name, _clean(name), body))
    else:  # condition: its synonyms are weighted with the name, so an abbreviation finds it first
        query = select(t.c.pk, t.c.key, t.c.status, t.c.name, t.c.synonyms, t.c.description)
        for pk, key, status, name, synonyms, description in conn.execute(query.where(t.c.pk.in_(pks))):
            out.append((pk, key, status, name, _clean(name, "; ".join(synonyms or [])), _clean(description)))
    return [
        {
            "id": row_id(resource, pk),
            "resource": resource,
            "record_pk": pk,
            "key": key,
            "status": status,
            "label": label,
            "title": title,
            "body": body,
        }
        for pk, key, status, label, title, body in out
    ]


def _delete(conn: Connection, ids: list[int]) -> None:
    statement = text(f"DELETE FROM {TABLE} WHERE {id_column(conn)} IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    for part in chunks(ids):
        conn.execute(statement, {"ids": list(part)})


def _insert(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(
            text(
                f"INSERT INTO {TABLE} ({id_column(conn)}, resource, record_pk, key, status, label, title, "
                "body) "
                "VALUES (:id, :resource, :record_pk, :key, :status, :label, :title, :body)"
            ),
            rows,
        )


def refresh(conn: Connection, touched: Mapping[str, Iterable[int]], removed: Mapping[str, Iterable[int]]) -> None:
    """Bring the rows of these records in step with their tables: removed ones go, touched ones are
    rewritten (whatever changed, status included)."""
    for resource in CODES:
        current = sorted(set(touched.get(resource, ())))
        gone = set(removed.get(resource, ()))
        _delete(conn, sorted(row_id(resource, pk) for pk in gone | set(current)))
        for part in chunks(current):
            _insert(conn, _rows(conn, resource, list(part)))


def on_write(conn: Connection, touched: dict[str, set[int]], removed: dict[str, set[int]]) -> None:
    """The write path's hook: also rewrites the quotes of a renamed expert (their rows hold the name)."""
    wanted = {resource: set(touched.get(resource, ())) for resource in CODES}
    if wanted["expert"]:
        quotes = RESOURCES["quote"].table
        for part in chunks(sorted(wanted["expert"])):
            wanted["quote"].update(conn.execute(select(quotes.c.pk).where(quotes.c.expert_pk.in_(part))).scalars())
    refresh(conn, wanted, removed)


def rebuild(conn: Connection) -> int:
    """Rewrite the whole index from the tables (after a migration, or if it is ever in doubt)."""
    conn.execute(text(f"DELETE FROM {TABLE}"))
    count = 0
    for resource in CODES:
        table = RESOURCES[resource].table
        pks = conn.execute(select(table.c.pk).order_by(table.c.pk)).scalars().all()
        refresh(conn, {resource: pks}, {})
        count += len(pks)
    return count
