"""Search: ranked hits with highlighted snippets and facet counts, on FTS5 (SQLite) or tsvector
(PostgreSQL). The match runs in the database's own index; filters reuse the facets the lists use."""

from __future__ import annotations

import functools
import html
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.sql.elements import BindParameter

from app.content.documents import chunks
from app.content.queries import PUBLIC, Filters, facet_groups, reached
from app.content.resources import FACETED, RESOURCES
from app.content.selection import membership
from app.core.db import content_state
from app.core.pagination import split_page
from app.models import Facet, table_of
from app.search.index import CODES, MARK_END, MARK_START, TABLE, id_column
from app.search.terms import Phrase, fts5_match, parse, vocabulary

FACETS = table_of(Facet)
FACET_KINDS = ("condition", "therapy_type")
SNIPPET_WORDS = 24
# Text matches a search considers: past SEARCH_HITS, the SEARCH_HITS most recent ones (the highest index
# ids) and every matching record of the vocabularies (conditions, therapies, experts: a few hundred
# names) are ranked, filtered, paged and counted, and `facets.complete` is false. Ranking (bm25, ts_rank),
# the filters' checks and the facet counts cost per match: this bounds what a query costs, however common
# its words, by the cap and the size of the vocabularies, never by the size of the store.
SEARCH_HITS = 1_000
VOCABULARIES = ("condition", "therapy", "expert")
TITLE_WEIGHT = 3.0  # a word in a title, a claim or a condition's name weighs more than one in a body
HEADLINE_OPTIONS = (
    f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords={SNIPPET_WORDS}, MinWords=12, '
    'MaxFragments=2, FragmentDelimiter=" … "'
)


def _index(conn: Connection):
    return _index_table(id_column(conn))


@functools.cache
def _index_table(ids: str):
    names = (ids, "resource", "record_pk", "key", "status", "label", "title", "body", "document")
    return table(TABLE, *(column(name) for name in names))


class _Fts5:
    """SQLite: MATCH on the FTS5 table, bm25 (lower is better) and snippet()."""

    def __init__(self, groups: list[list[Phrase]]) -> None:
        self.expression = fts5_match(groups)
        self.table: ColumnClause[Any] = literal_column(TABLE)

    def match(self, t) -> ColumnElement:
        return self.table.op("MATCH")(literal(self.expression))

    def score(self, t) -> ColumnElement:
        return -func.bm25(self.table, TITLE_WEIGHT, 1.0)

    def snippets(self, conn: Connection, t, ids: list[int]) -> dict[int, str]:
        snippet = func.snippet(self.table, -1, MARK_START, MARK_END, "…", SNIPPET_WORDS)
        rid = t.c.rowid
        return dict(conn.execute(select(rid, snippet).where(self.match(t), rid.in_(ids))).all())


class _Tsvector:
    """PostgreSQL: each phrase through phraseto_tsquery (bound, never parsed as syntax), ts_rank and
    ts_headline."""

    def __init__(self, groups: list[list[Phrase]]) -> None:
        config: ColumnClause[Any] = literal_column("'english'::regconfig")

        def phrase(words: Phrase) -> ColumnElement:
            return func.phraseto_tsquery(config, literal(" ".join(words)))

        alternatives = [reduce(lambda a, b: a.op("||")(b), [phrase(p) for p in group]) for group in groups]
        self.query = reduce(lambda a, b: a.op("&&")(b), alternatives)
        self.config = config

    def match(self, t) -> ColumnElement:
        return t.c.document.op("@@")(self.query)

    def score(self, t) -> ColumnElement:
        return func.ts_rank(t.c.document, self.query, 1)

    def snippets(self, conn: Connection, t, ids: list[int]) -> dict[int, str]:
        text = t.c.title.op("||")(literal("\n")).op("||")(t.c.body)
        headline = func.ts_headline(self.config, text, self.query, literal(HEADLINE_OPTIONS))
        return dict(conn.execute(select(t.c.id, headline).where(t.c.id.in_(ids))).all())


def highlight(snippet: str) -> str:
    """HTML-safe: the source text escaped, and only our markers turned into <mark>."""
    return html.escape(snippet, quote=False).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def _restriction(conn: Connection, t, filters: Filters) -> tuple[ColumnElement | None, dict[str, Any]]:
    """The filters as the lists apply them: facets for claims, topics and quotes; experts and conditions
    through the claims and quotes that reach them; therapies by their own key and type, and by condition
    through their claims. Checked per hit (index seeks for each), so the cost follows the hits the text
    matched, never the size of what the filters alone select. The clause, and its bound parameters."""
    groups = facet_groups(conn, filters)
    if not groups:
        return None, {}
    names = tuple(filters.given())
    params: dict[str, Any] = {f"g{n}": group for n, group in enumerate(groups)}
    params.update({"therapy_keys": filters.therapy, "therapy_types": filters.therapy_type})
    return _restriction_of(id_column(conn), names), params


@functools.lru_cache(maxsize=256)
def _restriction_of(ids: str, names: tuple[str, ...]) -> ColumnElement:
    """The restriction for filters named `names` (in `Filters.given()` order), each group an expanding
    parameter `g<n>`: built once per set of filters, since building and cache-keying a clause of some
    300 literal values cost more CPU than the database spent checking it."""
    t = _index_table(ids)
    groups: list[BindParameter[Any]] = [bindparam(f"g{n}", expanding=True) for n in range(len(names))]
    clauses = [
        and_(t.c.resource == name, *membership(name, groups, t.c.record_pk, PUBLIC[0]))
        for name in FACETED
        if name in CODES
    ]
    for name in ("expert", "condition"):
        through = reached(RESOURCES[name], groups, t.c.record_pk)
        if through is not None:
            clauses.append(and_(t.c.resource == name, through))
    therapies = RESOURCES["therapy"].table
    own = [t.c.resource == "therapy"]
    if "therapy" in names or "therapy_type" in names:
        chosen = select(therapies.c.pk)
        if "therapy" in names:
            chosen = chosen.where(therapies.c.key.in_(bindparam("therapy_keys", expanding=True)))
        if "therapy_type" in names:
            chosen = chosen.where(therapies.c.type.in_(bindparam("therapy_types", expanding=True)))
        own.append(t.c.record_pk.in_(chosen))
    others = [group for group, name in zip(groups, names, strict=True) if name not in ("therapy", "therapy_type")]
    through = reached(RESOURCES["therapy"], others, t.c.record_pk)
    if through is not None:
        own.append(through)
    clauses.append(and_(*own))
    return or_(*clauses)


def _empty_facets() -> dict[str, Any]:
    return {"resource": {}, **{kind: {} for kind in FACET_KINDS}, "complete": True}


def search(conn: Connection, q: str, filters: Filters, *, offset: int, limit: int) -> dict[str, Any]:
    """One page of hits, best first, and counts over every hit for drawing filters."""
    t = _index(conn)
    restrict, params = _restriction(conn, t, filters)  # checks the filters even when the text has no word
    groups = parse(q, vocabulary(conn, content_state(conn)))
    if not groups:
        return {"items": [], "more": False, "facets": _empty_facets()}
    engine = _Fts5(groups) if conn.dialect.name == "sqlite" else _Tsvector(groups)
    rid = t.c[id_column(conn)]
    where = [engine.match(t), t.c.status == PUBLIC[0]]
    if restrict is not None:
        where.append(restrict)
    score = engine.score(t).label("score")
    hits = select(rid.label("id"), t.c.resource, t.c.record_pk, score)
    floor = _floor(conn, t, rid, where[:2])
    complete = floor is None
    if floor is None:  # every hit once (the filters checked once per hit)
        everything = list(conn.execute(hits.where(*where), params))
    else:  # the most recent matches, and the vocabularies' below them: two ranges of the index's ids
        everything = list(conn.execute(hits.where(*where, rid >= floor), params))
        below = min(floor, _vocabulary_ids(conn))  # one bound: the index takes a single range of ids
        everything += conn.execute(hits.where(*where, rid < below, t.c.resource.in_(VOCABULARIES)), params)
    # Best first; the page, the counts and the facets are cut from this one list instead of matching the
    # text again for each of them.
    everything.sort(key=lambda hit: (-hit.score, hit.id))
    rows, more = split_page(everything[offset : offset + limit + 1], limit)
    ids = [row.id for row in rows]
    labels = {i: (key, label) for i, key, label in conn.execute(select(rid, t.c.key, t.c.label).where(rid.in_(ids)))}
    snippets = engine.snippets(conn, t, ids) if rows else {}
    items = [
        {
            "resource": row.resource,
            "key": labels[row.id][0],
            "title": labels[row.id][1],
            "snippet": highlight(snippets.get(row.id) or ""),
            "score": round(float(row.score), 6),
            "url": f"/v1/{RESOURCES[row.resource].plural}/{labels[row.id][0]}",
        }
        for row in rows
    ]
    return {"items": items, "more": more, "facets": _facets(conn, everything, complete)}


def _floor(conn: Connection, t, rid, where: list) -> int | None:
    """The id of the SEARCH_HITS-th match from the top of the index's order when another follows it,
    else None (every match is considered). Read in id order: no ranking, no filter, SEARCH_HITS + 1
    matches at most."""
    last = list(conn.execute(select(rid).where(*where).order_by(rid.desc()).offset(SEARCH_HITS - 1).limit(2)).scalars())
    return last[0] if len(last) == 2 else None


def _vocabulary_ids(conn: Connection) -> int:
    """An index id above every vocabulary record's (ids are `pk * 8 + code`)."""
    tops = [select(func.max(RESOURCES[name].table.c.pk)).scalar_subquery() for name in VOCABULARIES]
    highest = conn.execute(select(*tops)).one()
    return (max((top or 0) for top in highest) + 1) * 8


def _facets(conn: Connection, hits: list, complete: bool) -> dict[str, Any]:
    """Hits per resource, condition and therapy type, over every hit considered (all of them when
    `complete`; else those among the SEARCH_HITS matches considered)."""
    counts: dict[str, Any] = _empty_facets()
    for hit in hits:
        counts["resource"][hit.resource] = counts["resource"].get(hit.resource, 0) + 1
    counts["resource"] = dict(sorted(counts["resource"].items()))
    counts["complete"] = complete
    by_resource: dict[str, list[int]] = {}
    for hit in hits:
        if hit.resource in FACETED:
            by_resource.setdefault(hit.resource, []).append(hit.record_pk)
    kinds = or_(*(FACETS.c.facet.like(kind.replace("_", "\\_") + ":%", escape="\\") for kind in FACET_KINDS))
    found: dict[str, int] = {}
    for resource, pks in by_resource.items():
        for part in chunks(sorted(pks)):
            query = (
                select(FACETS.c.facet, func.count())
                # `|| ''` keeps the planner off the (resource, facet) index, which it would otherwise scan
                # for every hit: facets are looked up by record.
                .where(
                    FACETS.c.resource.concat("") == resource,
                    FACETS.c.record_pk.in_(part),
                    kinds,
                    FACETS.c.status == PUBLIC[0],  # a facet reached through an unpublished record is not counted
                )
                .group_by(FACETS.c.facet)
            )
            for facet, count in conn.execute(query):
                found[facet] = found.get(facet, 0) + count
    for facet in sorted(found):
        kind, _, value = facet.partition(":")
        counts[kind][value] = found[facet]
    return counts
