"""Facets: what each claim, topic and quote can be filtered by, kept in one indexed table.

A claim about rheumatoid arthritis has the facets `condition:rheumatoid-arthritis` and
`condition:autoimmune-disorders` (every ancestor), `therapy:...`, `therapy_type:...`, `topic:...`,
`source:...`, `expert:...` and `lang:...`. A quote has its own plus those of its claims and its topic.
The write path recomputes the facets of every record a transaction touched, and of the records whose
facets that change moves (a condition given a new parent moves the claims below it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, delete, select
from sqlalchemy.sql import FromClause

from app.content.documents import chunks
from app.content.resources import FACETED, RESOURCES, ResourceSpec
from app.models import Facet, table_of

FACETS = table_of(Facet)

# Fields whose change moves the facets of other records.
SHAPING_FIELDS = {
    "condition": ("parent",),
    "therapy": ("type",),
    "source": ("language",),
    "topic": ("source", "language"),
}


def _of_resource(resource: str):
    """`resource = ?`, written so that no index is used for it: looking records up by pk must take the
    record_pk index, not a range scan of every facet of the resource (which made a bulk load quadratic)."""
    return (FACETS.c.resource + "") == resource


def _pks(conn: Connection, query_for, pks: Iterable[int]) -> set[int]:
    found: set[int] = set()
    for part in chunks(sorted(pks)):
        found.update(conn.execute(query_for(part)).scalars())
    return found


def _condition_tree(conn: Connection) -> tuple[dict[int, str], dict[int, int | None]]:
    table = RESOURCES["condition"].table
    rows = conn.execute(select(table.c.pk, table.c.key, table.c.parent_pk)).all()
    return {pk: key for pk, key, _ in rows}, {pk: parent for pk, _, parent in rows}


def _lineage(pk: int, parents: dict[int, int | None]) -> list[int]:
    seen = [pk]
    while (parent := parents.get(seen[-1])) is not None and parent not in seen:
        seen.append(parent)
    return seen


def _descendants(roots: set[int], parents: dict[int, int | None]) -> set[int]:
    return {pk for pk in parents if set(_lineage(pk, parents)) & roots}


def _linking(conn: Connection, owner: str, field: str, targets: Iterable[int]) -> set[int]:
    """The `owner` records whose `field` links to any of `targets`."""
    link = RESOURCES[owner].links[field]
    return _pks(conn, lambda part: select(link.table.c[link.own]).where(link.table.c[link.other].in_(part)), targets)


def _affected(conn: Connection, touched: dict[str, set[int]], reshaped: dict[str, set[int]]) -> dict[str, set[int]]:
    t = {name: RESOURCES[name].table for name in RESOURCES}
    out = {name: set(touched.get(name, ())) for name in FACETED}
    if reshaped.get("condition"):
        _, parents = _condition_tree(conn)
        subtree = _descendants(reshaped["condition"], parents)
        for owner in ("claim", "topic"):
            out[owner] |= _linking(conn, owner, "conditions", subtree)
    if reshaped.get("therapy"):
        for owner in ("claim", "topic"):
            out[owner] |= _linking(conn, owner, "therapies", reshaped["therapy"])
    if reshaped.get("source"):
        out["topic"] |= _pks(
            conn, lambda p: select(t["topic"].c.pk).where(t["topic"].c.source_pk.in_(p)), reshaped["source"]
        )
    topics = out["topic"] & (reshaped.get("topic", set()) | out["topic"] - touched.get("topic", set()))
    if topics:
        out["claim"] |= _pks(conn, lambda p: select(t["claim"].c.pk).where(t["claim"].c.topic_pk.in_(p)), topics)
    if out["topic"]:
        out["quote"] |= _pks(conn, lambda p: select(t["quote"].c.pk).where(t["quote"].c.topic_pk.in_(p)), out["topic"])
    if out["claim"]:
        out["quote"] |= _linking(conn, "quote", "claims", out["claim"])
    return out


def _linked(conn: Connection, owner: str, field: str, pks: Sequence[int]) -> dict[int, list[int]]:
    link = RESOURCES[owner].links[field]
    found: dict[int, list[int]] = defaultdict(list)
    query = select(link.table.c[link.own], link.table.c[link.other]).where(link.table.c[link.own].in_(pks))
    for own, other in conn.execute(query):
        found[own].append(other)
    return found


def _shared_facets(conn, owner, pks, condition_keys, parents, therapies) -> dict[int, set[str]]:
    """condition/therapy/therapy_type facets of claims or topics, from their link tables."""
    facets: dict[int, set[str]] = defaultdict(set)
    for pk, conditions in _linked(conn, owner, "conditions", pks).items():
        for condition in conditions:
            facets[pk].update(f"condition:{condition_keys[c]}" for c in _lineage(condition, parents))
    for pk, linked in _linked(conn, owner, "therapies", pks).items():
        for therapy in linked:
            key, kind = therapies[therapy]
            facets[pk].update((f"therapy:{key}", f"therapy_type:{kind}"))
    return facets


def _own(spec: ResourceSpec, part: Sequence[int]) -> tuple[Select, list[str]]:
    """The query for the records' status, their own facets' values (`Faceted.own`) and the columns of the
    relations they inherit from; and the names of those values."""
    assert spec.facets is not None
    t = spec.table
    joined: FromClause = t
    aliases: dict[str, Any] = {}  # a relation path -> its table, joined once
    columns: list[Any] = []
    for path in spec.facets.own.values():
        *relations, column = path.split(".")
        table, current, prefix = t, spec, ""
        for relation in relations:
            ref = current.refs[relation]
            prefix = f"{prefix}_{relation}" if prefix else relation
            if prefix not in aliases:
                aliases[prefix] = RESOURCES[ref.target].table.alias(f"facet_{prefix}")
                joined = joined.outerjoin(aliases[prefix], aliases[prefix].c.pk == table.c[ref.column])
            table, current = aliases[prefix], RESOURCES[ref.target]
        columns.append(table.c[column])
    names = list(spec.facets.own)
    for relation in spec.facets.inherits:
        if relation in spec.refs:
            columns.append(t.c[spec.refs[relation].column])
            names.append(f"from:{relation}")  # the related record's pk, apart from the facet values
    return select(t.c.pk, t.c.status, *columns).select_from(joined).where(t.c.pk.in_(part)), names


def _inherited(conn: Connection, spec: ResourceSpec, rows: list[dict[str, Any]], part: Sequence[int]) -> dict:
    """Each record's facets taken from the records its `Faceted.inherits` relations and links name."""
    assert spec.facets is not None
    owned = tuple(f"{kind}:" for kind in spec.facets.own)
    found: dict[int, set[str]] = defaultdict(set)
    for relation in spec.facets.inherits:
        if relation in spec.refs:
            target = spec.refs[relation].target
            sources = {row["pk"]: [row[f"from:{relation}"]] for row in rows if row[f"from:{relation}"] is not None}
        else:
            target = spec.links[relation].target
            sources = dict(_linked(conn, spec.name, relation, part))
        facets_of: dict[int, set[str]] = defaultdict(set)
        for sub in chunks(sorted({pk for pks in sources.values() for pk in pks})):
            query = select(FACETS.c.facet, FACETS.c.record_pk).where(_of_resource(target), FACETS.c.record_pk.in_(sub))
            for facet, owner in conn.execute(query):
                if not facet.startswith(owned):
                    facets_of[owner].add(facet)
        for pk, owners in sources.items():
            for owner in owners:
                found[pk] |= facets_of[owner]
    return found


def compute(conn: Connection, resource: str, pks: list[int]) -> list[dict]:
    """The facet rows of the given records, from the current state of the tables, as the resource's
    `Faceted` entry says."""
    spec = RESOURCES[resource]
    assert spec.facets is not None, f"{resource} has no facets"
    subjects: tuple[Any, ...] = ()
    if spec.facets.subjects:
        condition_keys, parents = _condition_tree(conn)
        therapy_table = RESOURCES["therapy"].table
        therapies = {
            pk: (key, kind)
            for pk, key, kind in conn.execute(select(therapy_table.c.pk, therapy_table.c.key, therapy_table.c.type))
        }
        subjects = (condition_keys, parents, therapies)
    rows: list[dict] = []
    for part in chunks(pks):
        query, names = _own(spec, part)
        found = [
            {"pk": pk, "status": status, **dict(zip(names, values, strict=True))}
            for pk, status, *values in conn.execute(query)
        ]
        shared = _shared_facets(conn, resource, part, *subjects) if subjects else defaultdict(set)
        inherited = _inherited(conn, spec, found, part) if spec.facets.inherits else defaultdict(set)
        for record in found:
            own = {f"{kind}:{record[kind]}" for kind in spec.facets.own if record[kind] is not None}
            for facet in own | shared[record["pk"]] | inherited[record["pk"]]:
                rows.append(
                    {"resource": resource, "facet": facet, "status": record["status"], "record_pk": record["pk"]}
                )
    return rows


def refresh(
    conn: Connection,
    touched: dict[str, set[int]],
    removed: dict[str, set[int]],
    reshaped: dict[str, set[int]],
) -> dict[str, set[int]]:
    """Recompute the facets of what was touched and of what it moves; returns the records recomputed."""
    for resource in FACETED:
        for part in chunks(sorted(removed.get(resource, ()))):
            conn.execute(delete(FACETS).where(_of_resource(resource), FACETS.c.record_pk.in_(part)))
    affected = _affected(conn, touched, reshaped)
    for resource in FACETED:  # claims and topics before quotes, which inherit theirs
        pks = sorted(affected[resource])
        if not pks:
            continue
        for part in chunks(pks):
            conn.execute(delete(FACETS).where(_of_resource(resource), FACETS.c.record_pk.in_(part)))
        rows = compute(conn, resource, pks)
        if rows:
            # In index order: a bulk load then appends to each facet's range instead of jumping between them.
            rows.sort(key=lambda row: (row["facet"], row["status"], row["record_pk"]))
            _insert_rows(conn, rows)
    return affected


def _insert_rows(conn: Connection, rows: list[dict]) -> None:
    """One driver-level executemany: a bulk load writes about ten facets per claim, and building each
    row's parameters through the SQL layer cost more than the insert itself."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO {FACETS.name} (resource, facet, status, record_pk) VALUES ({', '.join([mark] * 4)})",
        [(row["resource"], row["facet"], row["status"], row["record_pk"]) for row in rows],
    )
