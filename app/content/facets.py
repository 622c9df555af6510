"""Facets: what each claim, topic and quote can be filtered by, kept in one indexed table.

A claim about rheumatoid arthritis has the facets `condition:rheumatoid-arthritis` and
`condition:autoimmune-disorders` (every ancestor), `therapy:...`, `therapy_type:...`, `topic:...`,
`source:...`, `expert:...` and `lang:...`. A quote has its own plus those of its claims and its topic.
The write path recomputes the facets of every record a transaction touched, and of the records whose
facets that change moves (a condition given a new parent moves the claims below it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Select, delete, select
from sqlalchemy.sql import FromClause

from app.content.documents import chunks
from app.content.resources import FACETED, RESOURCES, ResourceSpec
from app.content.visibility import HIDDEN, PUBLISHED, facet_status, is_public
from app.core.db import insert_many
from app.models import Facet, table_of

FACETS = table_of(Facet)

# Fields whose change moves the facets of other records (a status too: see app.content.visibility).
SHAPING_FIELDS = {
    "condition": ("parent", "status"),
    "therapy": ("type", "status"),
    "source": ("language", "status"),
    "topic": ("source", "language", "status"),
    "expert": ("status",),
    "claim": ("status",),
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


def _condition_tree(conn: Connection) -> tuple[dict[int, str], dict[int, int | None], dict[int, str]]:
    table = RESOURCES["condition"].table
    rows = conn.execute(select(table.c.pk, table.c.key, table.c.parent_pk, table.c.status)).all()
    return {pk: key for pk, key, _, _ in rows}, {pk: parent for pk, _, parent, _ in rows}, {r[0]: r[3] for r in rows}


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
        _, parents, _ = _condition_tree(conn)
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
    if reshaped.get("expert"):
        for owner in ("claim", "quote"):
            out[owner] |= _pks(
                conn, lambda p, tb=t[owner]: select(tb.c.pk).where(tb.c.expert_pk.in_(p)), reshaped["expert"]
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


class _Found(dict[str, bool]):
    """A record's facets, each with whether it is reached through public records only (any public path
    makes it public)."""

    def add(self, facet: str, public: bool) -> None:
        self[facet] = self.get(facet, False) or public


def _shared_facets(conn, owner, pks, condition_keys, parents, condition_status, therapies) -> dict[int, _Found]:
    """condition/therapy/therapy_type facets of claims or topics, from their link tables. A condition's
    ancestors are public up to the first one that is not (the public hierarchy is cut there)."""
    facets: dict[int, _Found] = defaultdict(_Found)
    of_condition: dict[int, list[tuple[str, bool]]] = {}  # a condition's facets, made once per call
    for pk, conditions in _linked(conn, owner, "conditions", pks).items():
        for condition in conditions:
            if condition not in of_condition:
                made, public = [], True
                for node in _lineage(condition, parents):
                    public = public and is_public(condition_status[node])
                    made.append((f"condition:{condition_keys[node]}", public))
                of_condition[condition] = made
            for facet, public in of_condition[condition]:
                facets[pk].add(facet, public)
    for pk, linked in _linked(conn, owner, "therapies", pks).items():
        for therapy in linked:
            key, kind, status = therapies[therapy]
            facets[pk].add(f"therapy:{key}", is_public(status))
            facets[pk].add(f"therapy_type:{kind}", is_public(status))
    return facets


def _own(spec: ResourceSpec, part: Sequence[int]) -> tuple[Select, list[str]]:
    """The query for the records' status, their own facets' values (`Faceted.own`) with the status of every
    record on each value's path (`kind@0`, `kind@1`...), and the columns of the relations they inherit
    from; and the names of those values."""
    assert spec.facets is not None
    t = spec.table
    joined: FromClause = t
    aliases: dict[str, Any] = {}  # a relation path -> its table, joined once
    columns: list[Any] = []
    names: list[str] = []
    for kind, path in spec.facets.own.items():
        *relations, column = path.split(".")
        table, current, prefix = t, spec, ""
        for step, relation in enumerate(relations):
            ref = current.refs[relation]
            prefix = f"{prefix}_{relation}" if prefix else relation
            if prefix not in aliases:
                aliases[prefix] = RESOURCES[ref.target].table.alias(f"facet_{prefix}")
                joined = joined.outerjoin(aliases[prefix], aliases[prefix].c.pk == table.c[ref.column])
            table, current = aliases[prefix], RESOURCES[ref.target]
            columns.append(table.c.status)
            names.append(f"{kind}@{step}")
        columns.append(table.c[column])
        names.append(kind)
    for relation in spec.facets.inherits:
        if relation in spec.refs:
            columns.append(t.c[spec.refs[relation].column])
            names.append(f"from:{relation}")  # the related record's pk, apart from the facet values
    return select(t.c.pk, t.c.status, *columns).select_from(joined).where(t.c.pk.in_(part)), names


def _inherited(conn: Connection, spec: ResourceSpec, rows: list[dict[str, Any]], part: Sequence[int]) -> dict:
    """Each record's facets taken from the records its `Faceted.inherits` relations and links name."""
    assert spec.facets is not None
    owned = tuple(f"{kind}:" for kind in spec.facets.own)
    found: dict[int, _Found] = defaultdict(_Found)
    for relation in spec.facets.inherits:
        if relation in spec.refs:
            target = spec.refs[relation].target
            sources = {row["pk"]: [row[f"from:{relation}"]] for row in rows if row[f"from:{relation}"] is not None}
        else:
            target = spec.links[relation].target
            sources = dict(_linked(conn, spec.name, relation, part))
        facets_of: dict[int, _Found] = defaultdict(_Found)
        for sub in chunks(sorted({pk for pks in sources.values() for pk in pks})):
            query = select(FACETS.c.facet, FACETS.c.record_pk, FACETS.c.status).where(
                _of_resource(target), FACETS.c.record_pk.in_(sub)
            )
            for facet, owner, status in conn.execute(query):  # public only if public on a published record
                if not facet.startswith(owned):
                    facets_of[owner].add(facet, is_public(status))
        for pk, owners in sources.items():
            for owner in owners:
                for facet, public in facets_of[owner].items():
                    found[pk].add(facet, public)
    return found


def compute(conn: Connection, resource: str, pks: list[int]) -> list[dict]:
    """The facet rows of the given records, from the current state of the tables, as the resource's
    `Faceted` entry says. A facet reached through an unpublished record carries the status `HIDDEN` on a
    published record (app.content.visibility)."""
    spec = RESOURCES[resource]
    assert spec.facets is not None, f"{resource} has no facets"
    subjects: tuple[Any, ...] = ()
    if spec.facets.subjects:
        therapy = RESOURCES["therapy"].table
        therapies = {
            pk: (key, kind, status)
            for pk, key, kind, status in conn.execute(
                select(therapy.c.pk, therapy.c.key, therapy.c.type, therapy.c.status)
            )
        }
        subjects = (*_condition_tree(conn), therapies)
    rows: list[dict] = []
    empty = _Found()
    for part in chunks(pks):
        query, names = _own(spec, part)
        # Each own kind with where its value and the statuses on its path sit in a record.
        kinds = [
            (kind, names.index(kind), [i for i, name in enumerate(names) if name.startswith(f"{kind}@")])
            for kind in spec.facets.own
        ]
        found = conn.execute(query).all()
        shared = _shared_facets(conn, resource, part, *subjects) if subjects else {}
        inherited = {}
        if spec.facets.inherits:
            named = [{"pk": pk, **dict(zip(names, values, strict=True))} for pk, _, *values in found]
            inherited = _inherited(conn, spec, named, part)
        for pk, record_status, *values in found:
            facets = _Found()
            for kind, at, path in kinds:
                if values[at] is not None:
                    facets.add(f"{kind}:{values[at]}", all(is_public(values[i]) for i in path))
            for more in (shared.get(pk, empty), inherited.get(pk, empty)):
                for facet, public in more.items():
                    facets.add(facet, public)
            for facet, public in facets.items():
                status = facet_status(record_status, public)
                rows.append({"resource": resource, "facet": facet, "status": status, "record_pk": pk})
    return rows


def _public_facets(conn: Connection, resource: str, pks: Sequence[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    query = select(FACETS.c.record_pk, FACETS.c.facet).where(
        _of_resource(resource), FACETS.c.record_pk.in_(pks), FACETS.c.status == PUBLISHED
    )
    for pk, facet in conn.execute(query):
        found[pk].add(facet)
    return found


def refresh(
    conn: Connection,
    touched: dict[str, set[int]],
    removed: dict[str, set[int]],
    reshaped: dict[str, set[int]],
    created: dict[str, set[int]] | None = None,
) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """Recompute the facets of the records a write touched and of those it moves (`created`: those of them
    the write made, which have no facet rows yet to read or drop). Returns the records recomputed, and the
    published ones among them whose public facets changed (what a public filter finds them by), by resource."""
    for resource in FACETED:
        for part in chunks(sorted(removed.get(resource, ()))):
            conn.execute(delete(FACETS).where(_of_resource(resource), FACETS.c.record_pk.in_(part)))
    affected = _affected(conn, touched, reshaped)
    moved: dict[str, set[int]] = {}
    for resource in FACETED:  # claims and topics before quotes, which inherit theirs
        pks = sorted(affected[resource])
        if not pks:
            continue
        new = (created or {}).get(resource, set())
        before: dict[int, set[str]] = defaultdict(set)
        for part in chunks([pk for pk in pks if pk not in new]):
            before.update(_public_facets(conn, resource, part))
            conn.execute(delete(FACETS).where(_of_resource(resource), FACETS.c.record_pk.in_(part)))
        rows = compute(conn, resource, pks)
        after: dict[int, set[str]] = defaultdict(set)
        public_records = set()
        for row in rows:
            if row["status"] in (PUBLISHED, HIDDEN):
                public_records.add(row["record_pk"])
            if row["status"] == PUBLISHED:
                after[row["record_pk"]].add(row["facet"])
        moved[resource] = {pk for pk in public_records if before.get(pk, set()) != after.get(pk, set())}
        if rows:
            # In index order: a bulk load then appends to each facet's range instead of jumping between them.
            rows.sort(key=itemgetter("facet", "status", "record_pk"))
            insert_many(conn, FACETS, rows)
    return affected, moved
