"""The search index: one row per searchable record, kept by the write path.

SQLite holds it in an FTS5 table (porter stemming over unicode61), PostgreSQL in a table with a weighted
`tsvector` column under a GIN index (the `english` configuration); migration 0002 makes either. A row's id
is derived from the record (`pk * 8 + resource code`), so updating or removing a record's row is a
primary-key operation on both databases, however large the index grows."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.sql import FromClause

from app.content.documents import chunks
from app.content.resources import RESOURCES, Searched
from app.content.visibility import is_public

TABLE = "search_index"
# Searchable resources and the code each contributes to a row id.
CODES = dict(
    sorted(((name, spec.search.code) for name, spec in RESOURCES.items() if spec.search), key=lambda item: item[1])
)
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


_FIELD = re.compile(r"\{([a-z_.]+)\}")


def _fields(searched: Searched) -> list[str]:
    """Every column the index row reads, `relation.column` for a related record's."""
    return list(dict.fromkeys([*_FIELD.findall(searched.label), *searched.title, *searched.body]))


def _value(row: dict[str, Any], match: re.Match[str]) -> str:
    return str(row[match.group(1)] or "")


def _joined(values: Iterable[Any], separator: str) -> list[str | None]:
    return [separator.join(v) if isinstance(v, list) else v for v in values]


def _rows(conn: Connection, resource: str, pks: list[int]) -> list[dict]:
    """Index rows of the given records, as `ResourceSpec.search` says: `title` is weighted above `body`;
    `label` is what a hit shows."""
    spec = RESOURCES[resource]
    searched = spec.search
    assert searched is not None, f"{resource} is not searched"
    t = spec.table
    columns: dict[str, Any] = {}
    related: dict[str, Any] = {}  # relation -> its table, joined once
    joined: FromClause = t
    for name in _fields(searched):
        if "." not in name:
            columns[name] = t.c[name]
            continue
        relation, column = name.split(".", 1)
        if relation not in related:
            ref = spec.refs[relation]
            related[relation] = RESOURCES[ref.target].table.alias(relation)
            joined = joined.outerjoin(related[relation], related[relation].c.pk == t.c[ref.column])
            columns[f"{relation}:status"] = related[relation].c.status
        columns[name] = related[relation].c[column]
    query = select(t.c.pk, t.c.key, t.c.status, *columns.values()).select_from(joined).where(t.c.pk.in_(pks))
    out: list[dict] = []
    for pk, key, status, *values in conn.execute(query):
        row = dict(zip(columns, values, strict=True))
        template = searched.label
        for relation in related:  # an unpublished related record is neither indexed nor named in a label
            if not is_public(row[f"{relation}:status"]):
                row.update({name: None for name in row if name.startswith(f"{relation}.")})
                template = re.sub(r"\{" + relation + r"\.[a-z_]+\}[:;,\s]*", "", template)
        label = _FIELD.sub(functools.partial(_value, row), template)
        out.append(
            {
                "id": row_id(resource, pk),
                "resource": resource,
                "record_pk": pk,
                "key": key,
                "status": status,
                "label": shorten(label) if searched.shorten else label,
                "title": _clean(*_joined((row[c] for c in searched.title), "; ")),
                "body": _clean(*_joined((row[c] for c in searched.body), ", ")),
            }
        )
    return out


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
    """The write path's hook: also rewrites the rows that read a touched record (a quote's row holds its
    expert's name while the expert is published)."""
    wanted = {resource: set(touched.get(resource, ())) for resource in CODES}
    for resource in CODES:
        spec = RESOURCES[resource]
        assert spec.search is not None
        for relation in dict.fromkeys(name.split(".")[0] for name in _fields(spec.search) if "." in name):
            ref, table = spec.refs[relation], spec.table
            for part in chunks(sorted(touched.get(ref.target, ()))):
                query = select(table.c.pk).where(table.c[ref.column].in_(part))
                wanted[resource].update(conn.execute(query).scalars())
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
