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

from sqlalchemy import Connection, delete, select

from app.content.documents import chunks
from app.content.resources import FACETED, RESOURCES
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


def compute(conn: Connection, resource: str, pks: list[int]) -> list[dict]:
    """The facet rows of the given records, from the current state of the tables."""
    t = {name: RESOURCES[name].table for name in RESOURCES}
    condition_keys, parents = _condition_tree(conn)
    therapy_table = t["therapy"]
    therapies = {
        pk: (key, kind)
        for pk, key, kind in conn.execute(select(therapy_table.c.pk, therapy_table.c.key, therapy_table.c.type))
    }
    rows: list[dict] = []
    base: Sequence[Any]  # one row shape per resource
    for part in chunks(pks):
        if resource == "topic":
            base = conn.execute(
                select(t["topic"].c.pk, t["topic"].c.status, t["topic"].c.language, t["source"].c.key)
                .join(t["source"], t["source"].c.pk == t["topic"].c.source_pk)
                .where(t["topic"].c.pk.in_(part))
            ).all()
            shared = _shared_facets(conn, "topic", part, condition_keys, parents, therapies)
            for pk, status, language, source in base:
                for facet in {f"source:{source}", f"lang:{language}"} | shared[pk]:
                    rows.append({"resource": resource, "facet": facet, "status": status, "record_pk": pk})
        elif resource == "claim":
            claim, topic, source, expert = t["claim"], t["topic"], t["source"], t["expert"]
            base = conn.execute(
                select(claim.c.pk, claim.c.status, topic.c.key, topic.c.language, source.c.key, expert.c.key)
                .join(topic, topic.c.pk == claim.c.topic_pk)
                .join(source, source.c.pk == topic.c.source_pk)
                .outerjoin(expert, expert.c.pk == claim.c.expert_pk)
                .where(claim.c.pk.in_(part))
            ).all()
            shared = _shared_facets(conn, "claim", part, condition_keys, parents, therapies)
            for pk, status, topic_key, language, source_key, expert_key in base:
                own = {f"topic:{topic_key}", f"source:{source_key}", f"lang:{language}"}
                if expert_key:
                    own.add(f"expert:{expert_key}")
                for facet in own | shared[pk]:
                    rows.append({"resource": resource, "facet": facet, "status": status, "record_pk": pk})
        else:  # quote: its own, plus its topic's and its claims' subject facets
            quote, topic, expert = t["quote"], t["topic"], t["expert"]
            base = conn.execute(
                select(quote.c.pk, quote.c.status, quote.c.topic_pk, topic.c.key, expert.c.key)
                .join(topic, topic.c.pk == quote.c.topic_pk)
                .join(expert, expert.c.pk == quote.c.expert_pk)
                .where(quote.c.pk.in_(part))
            ).all()
            topic_pks = {row[2] for row in base}
            claim_links = _linked(conn, "quote", "claims", part)
            inherited: dict[tuple[str, int], set[str]] = defaultdict(set)
            for kind, owners in (("topic", topic_pks), ("claim", {c for cs in claim_links.values() for c in cs})):
                for sub in chunks(sorted(owners)):
                    for facet, owner in conn.execute(
                        select(FACETS.c.facet, FACETS.c.record_pk).where(
                            _of_resource(kind), FACETS.c.record_pk.in_(sub)
                        )
                    ):
                        if not facet.startswith(("topic:", "expert:")):
                            inherited[(kind, owner)].add(facet)
            for pk, status, topic_pk, topic_key, expert_key in base:
                facets = {f"topic:{topic_key}", f"expert:{expert_key}"} | inherited[("topic", topic_pk)]
                for claim_pk in claim_links.get(pk, []):
                    facets |= inherited[("claim", claim_pk)]
                for facet in facets:
                    rows.append({"resource": resource, "facet": facet, "status": status, "record_pk": pk})
    return rows


def refresh(
    conn: Connection,
    touched: dict[str, set[int]],
    removed: dict[str, set[int]],
    reshaped: dict[str, set[int]],
) -> None:
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


def _insert_rows(conn: Connection, rows: list[dict]) -> None:
    """One driver-level executemany: a bulk load writes about ten facets per claim, and building each
    row's parameters through the SQL layer cost more than the insert itself."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO {FACETS.name} (resource, facet, status, record_pk) VALUES ({', '.join([mark] * 4)})",
        [(row["resource"], row["facet"], row["status"], row["record_pk"]) for row in rows],
    )
