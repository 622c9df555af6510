"""Rows to documents. A document is a record as the write shape has it (relations by key) plus its meta
fields: what the change log, revisions and export carry. `expand` turns documents into the read shape,
with related records embedded as small references. Every function here costs a fixed number of queries
per call, whatever the number of records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import BindParameter, Connection, RowMapping, bindparam, select
from sqlalchemy.sql import Select

from app.api.etags import record_etag
from app.content.resources import META_FIELDS, RESOURCES, ResourceSpec

CHUNK = 500
CODE_FIELDS = ("system", "code", "version", "name", "category", "checked_against")


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The statements below are built once and reused with an expanding parameter (`IN (...)` of any length):
# a page runs about a dozen of them, and building and cache-keying each anew cost more than running it.
IN_LIST: BindParameter[Any] = bindparam("values", expanding=True)


@cache
def _statement(resource: str, purpose: str, extra: str | None = None) -> Select:
    spec = RESOURCES[resource]
    table = spec.table
    if purpose == "keys":
        return select(table.c.pk, table.c.key).where(table.c.pk.in_(IN_LIST))
    if purpose == "pks":
        return select(table.c.key, table.c.pk).where(table.c.key.in_(IN_LIST))
    if purpose == "rows":
        return select(table).where(table.c.pk.in_(IN_LIST))
    if purpose == "link":
        assert extra is not None, "a link statement names its link"
        link = spec.links[extra]
        target = RESOURCES[link.target].table
        return (
            select(link.table.c[link.own], target.c.key)
            .join(target, target.c.pk == link.table.c[link.other])
            .where(link.table.c[link.own].in_(IN_LIST))
            .order_by(link.table.c.pk)
        )
    if purpose == "codes":
        assert spec.codes is not None, f"{resource} has no codes"
        code_table, owner_column = spec.codes
        owner = code_table.c[owner_column]
        return (
            select(owner, *(code_table.c[name] for name in CODE_FIELDS))
            .where(owner.in_(IN_LIST))
            .order_by(code_table.c.pk)
        )
    if purpose == "refs":
        wanted = [table.c.key, table.c.status, *(table.c[c] for c in spec.ref_shows + spec.ref_carries)]
        return select(*wanted).where(table.c.key.in_(IN_LIST))
    raise ValueError(purpose)


def keys_by_pk(conn: Connection, resource: str, pks: Iterable[int]) -> dict[int, str]:
    wanted = sorted({pk for pk in pks if pk is not None})
    found: dict[int, str] = {}
    for part in chunks(wanted):
        found.update(conn.execute(_statement(resource, "keys"), {"values": list(part)}).all())
    return found


def pks_by_key(conn: Connection, resource: str, keys: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(keys))
    found: dict[str, int] = {}
    for part in chunks(wanted):
        found.update(conn.execute(_statement(resource, "pks"), {"values": list(part)}).all())
    return found


def load_documents(conn: Connection, spec: ResourceSpec, pks: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The documents of the given records, by pk."""
    rows: list[RowMapping] = []
    for part in chunks(list(pks)):
        rows.extend(conn.execute(_statement(spec.name, "rows"), {"values": list(part)}).mappings().all())
    if not rows:
        return {}
    pk_list = [row["pk"] for row in rows]

    ref_keys = {
        name: keys_by_pk(conn, ref.target, (row[ref.column] for row in rows)) for name, ref in spec.refs.items()
    }
    link_keys: dict[str, dict[int, list[str]]] = {}
    for name in spec.links:
        per_record: dict[int, list[str]] = defaultdict(list)
        for part in chunks(pk_list):
            for owner, key in conn.execute(_statement(spec.name, "link", name), {"values": list(part)}):
                per_record[owner].append(key)
        link_keys[name] = per_record
    codes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if spec.codes:
        for part in chunks(pk_list):
            found = conn.execute(_statement(spec.name, "codes"), {"values": list(part)})
            for owner, *fields in found:
                codes[owner].append(dict(zip(CODE_FIELDS, fields, strict=True)))

    documents = {}
    for row in rows:
        doc: dict[str, Any] = {spec.key_field: row["key"]}
        for column in spec.columns:
            doc[column] = row[column]
        for name, parts in spec.nested.items():
            values = {part: row[column] for part, column in parts.items()}
            doc[name] = None if spec.nullable_nested(name) and all(v is None for v in values.values()) else values
        for name, ref in spec.refs.items():
            doc[name] = ref_keys[name].get(row[ref.column])
        for name in spec.links:
            doc[name] = link_keys[name].get(row["pk"], [])
        if spec.codes:
            doc["codes"] = codes.get(row["pk"], [])
        for meta in META_FIELDS:
            doc[meta] = row[meta]
        documents[row["pk"]] = doc
    return documents


def in_stored_order(spec: ResourceSpec, doc: dict[str, Any]) -> dict[str, Any]:
    """A document the write path holds (its content with the meta fields) in the order `load_documents`
    gives it, nested objects and codes included: the same document, so that it renders to the same bytes
    without being read back."""
    out: dict[str, Any] = {spec.key_field: doc[spec.key_field]}
    for column in spec.columns:
        out[column] = doc[column]
    for name, parts in spec.nested.items():
        value = doc[name]
        out[name] = None if value is None else {part: value[part] for part in parts}
    for name in spec.refs:
        out[name] = doc[name]
    for name in spec.links:
        out[name] = doc[name] or []
    if spec.codes:
        out["codes"] = [{name: code[name] for name in CODE_FIELDS} for code in doc["codes"] or []]
    for meta in META_FIELDS:
        out[meta] = doc[meta]
    return out


def as_stored(spec: ResourceSpec, content: dict[str, Any]) -> dict[str, Any]:
    """Written content as `load_documents` gives it back, so the logged document replays to the store: a
    relation named twice is one link; an optional nested object of nulls only (a text without words has
    no reading grade) is null."""
    for name in spec.links:
        if content.get(name):
            content[name] = list(dict.fromkeys(content[name]))
    for name in spec.nested:
        value = content.get(name)
        if value is not None and all(v is None for v in value.values()) and spec.nullable_nested(name):
            content[name] = None
    return content


def stored_content(spec: ResourceSpec, payload: BaseModel) -> dict[str, Any]:
    """A validated write shape as the store holds its content (`as_stored` of its JSON form)."""
    return as_stored(spec, payload.model_dump(mode="json"))


def content_of(spec: ResourceSpec, doc: dict[str, Any]) -> dict[str, Any]:
    """The client-owned part of a document: what a write sets and what an import compares."""
    return {k: v for k, v in doc.items() if k not in ("created_at", "updated_at", "revision", spec.key_field)}


# ---- read shape --------------------------------------------------------------------------------------

# What any reference carries for the referring shape's computed fields, taken off before it is shown.
CARRIED = frozenset(column for spec in RESOURCES.values() for column in spec.ref_carries)


def _load_refs(conn: Connection, resource: str, keys: set[str], public: bool) -> dict[str, dict[str, Any]]:
    spec = RESOURCES[resource]
    refs: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(keys)):
        for row in conn.execute(_statement(resource, "refs"), {"values": list(part)}).mappings():
            if public and row["status"] != "published":
                continue
            ref = {spec.key_field: row["key"]}
            for column in spec.ref_shows:
                ref["title" if column == "text" else column] = row[column]
            refs[row["key"]] = ref | {column: row[column] for column in spec.ref_carries}
    return refs


def _public_ref(ref: dict[str, Any] | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {k: v for k, v in ref.items() if k not in CARRIED}


def expand(conn: Connection, spec: ResourceSpec, docs: list[dict[str, Any]], *, public: bool) -> list[dict[str, Any]]:
    """Documents in the read shape: each related key replaced by a reference to that record."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        for name, ref in spec.refs.items():
            if doc.get(name):
                wanted[ref.target].add(doc[name])
        for name, link in spec.links.items():
            wanted[link.target].update(doc.get(name) or [])
    refs = {resource: _load_refs(conn, resource, keys, public) for resource, keys in wanted.items()}
    source_keys: dict[int, str] = {}
    if "topic" in refs:
        source_keys = keys_by_pk(conn, "source", (r["source_pk"] for r in refs["topic"].values()))
        source_refs = _load_refs(conn, "source", set(source_keys.values()), public)
    out = []
    for doc in docs:
        item = dict(doc)
        for name, ref in spec.refs.items():
            item[name] = refs.get(ref.target, {}).get(doc[name]) if doc.get(name) else None
        for name, link in spec.links.items():
            item[name] = [refs[link.target][k] for k in doc.get(name) or [] if k in refs.get(link.target, {})]
        if "topic" in spec.refs:
            topic = item["topic"]
            item["source"] = _public_ref(source_refs.get(source_keys.get(topic["source_pk"], ""))) if topic else None
        for name, compute in spec.computed.items():
            item[name] = compute(item)
        for name in list(spec.refs) + list(spec.links):
            value = item[name]
            item[name] = [_public_ref(v) for v in value] if isinstance(value, list) else _public_ref(value)
        out.append(item)
    return out


def record_etag_of(spec: ResourceSpec, doc: dict[str, Any], epoch: str) -> str:
    """The strong ETag of this state of a record (its document, in either shape) in the store's `epoch`:
    what an editor reads and sends back as `If-Match`."""
    return record_etag(spec.name, doc[spec.key_field], doc["revision"], doc["created_at"], epoch)
