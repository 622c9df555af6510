"""The read side: every query the content endpoints make, in one layer.

A list page is: one keyset query for the page's pks (a range scan of the facets index when filtered),
then, for the public, one query for their kept bodies (`readmodel.bodies`, joined as bytes); for editors,
who see drafts too, `load_documents` and `expand` for those pks: a fixed number of queries whatever the
page length. A public detail is its kept body plus the extras of a detail (`detail_bytes`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, exists, func, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter

from app.content import readmodel
from app.content.documents import expand, load_documents
from app.content.resources import FACETED, RESOURCES, ClaimCount, ResourceSpec
from app.content.selection import driven, membership, page_pks
from app.content.vocab import THERAPY_TYPE_DESCRIPTIONS, CodeSystem, Status, TherapyType
from app.core.errors import BadParameter, NotFoundError
from app.core.pagination import paged, split_page
from app.models import Facet, table_of

FACETS = table_of(Facet)
PUBLIC = (Status.published.value,)
# Values a request may give one filter (documented as maxItems; a 422 naming the filter past it): with
# seven filters, what one request can make the facet index check stays bounded.
MAX_FILTER_VALUES = 20


@dataclass
class Filters:
    """Query filters as given: values of one name combine with OR, different names with AND."""

    condition: list[str] = field(default_factory=list)
    therapy: list[str] = field(default_factory=list)
    therapy_type: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    expert: list[str] = field(default_factory=list)
    lang: list[str] = field(default_factory=list)
    review: str | None = None  # sources and topics: "overdue" (see _review_clause); not a facet
    max_grade: float | None = None  # topics and claims: Flesch-Kincaid grade at most this; not a facet

    def given(self) -> dict[str, list[str]]:
        return {name: values for name, values in vars(self).items() if values and name not in ("review", "max_grade")}

    def salt(self) -> str:
        """What a list with these filters depends on beyond its URL and the content version, for the
        response cache: "overdue" changes at midnight (UTC), not only on writes."""
        return datetime.now(UTC).date().isoformat() if self.review else ""


@dataclass
class Page:
    items: list[Any]  # documents, or (rendered) their kept bodies as `orjson.Fragment`s
    last_position: int | None  # where the next page starts, None at the end
    pks: Sequence[int] = ()  # the records shown


def resolve_conditions(conn: Connection, values: Sequence[str], *, public: bool = True) -> list[str]:
    """Slugs for condition filter values: a slug, or `system:code` (icd10cm:M06.9, mesh:D001172). For the
    public, an unpublished condition is unknown (the same 422), whichever way it is named."""
    table = RESOURCES["condition"].table
    code_tables = RESOURCES["condition"].codes
    assert code_tables is not None, "conditions have codes"
    codes = code_tables[0]
    slugs: list[str] = []
    for value in values:
        system, _, code = value.partition(":")
        if code and system in CodeSystem.__members__:
            query = (
                select(table.c.key)
                .join(codes, codes.c.condition_pk == table.c.pk)
                .where(codes.c.system == system, func.upper(codes.c.code) == code.upper())
            )
        else:
            query = select(table.c.key).where(table.c.key == value)
        if public:
            query = query.where(table.c.status == Status.published.value)
        found = conn.execute(query).scalars().all()
        if not found:
            raise BadParameter("condition", f"names no known condition: {value!r}")
        slugs.extend(found)
    return list(dict.fromkeys(slugs))


def _require_keys(
    conn: Connection, parameter: str, resource: str, values: Sequence[str], *, public: bool = True
) -> list[str]:
    """The values, each checked to name a record (a published one, for the public: an unpublished one is
    refused exactly as an unknown one is)."""
    table = RESOURCES[resource].table
    query = select(table.c.key).where(table.c.key.in_(values))
    if public:
        query = query.where(table.c.status == Status.published.value)
    known = set(conn.execute(query).scalars())
    for value in values:
        if value not in known:
            raise BadParameter(parameter, f"names no known {resource}: {value!r}")
    return list(values)


def facet_groups(conn: Connection, filters: Filters, *, public: bool = True) -> list[list[str]]:
    """The filters as facet names, one OR-group per filter, checked against what exists (what is
    published, for the public)."""
    groups = []
    for name, values in filters.given().items():
        if len(values) > MAX_FILTER_VALUES:
            raise BadParameter(name, f"has {len(values)} values; at most {MAX_FILTER_VALUES} are allowed")
        if name == "condition":
            keys = resolve_conditions(conn, values, public=public)
        elif name in RESOURCES:  # a related record by its key
            keys = _require_keys(conn, name, name, values, public=public)
        elif name == "therapy_type":
            keys = [TherapyType(v).value for v in values]
        else:
            keys = list(values)
        groups.append([f"{name}:{key}" for key in keys])
    return groups


def _faceted_pks(resource: str, groups: list[list[str]], statuses: Sequence[str]) -> Select:
    """Records of `resource` in every group (AND) having any facet of the group (OR)."""
    return driven(resource, groups, statuses)


def reached(
    spec: ResourceSpec, groups: Sequence[Sequence[str] | BindParameter[Any]], pk: ColumnElement | None = None
) -> ColumnElement | None:
    """For resources without facets of their own (`spec.derived`): whether a record (`pk`, the table's own
    by default) is reached by a published `through` record in every group (its values, or an expanding
    parameter that will hold them), whatever statuses of the record itself are listed. Checked through
    the record's own links, up to the first match, so a list walked in pk order stops at its page's last
    record and a search checks its hits only."""
    if spec.derived is None or not groups:
        return None
    own = spec.table.c.pk if pk is None else pk
    through = RESOURCES[spec.derived.through]
    if spec.derived.via in through.links:
        link = through.links[spec.derived.via]
        found = link.table.c[link.own]
        return exists().where(link.table.c[link.other] == own, *membership(through.name, groups, found, PUBLIC[0]))
    column = through.table.c[through.refs[spec.derived.via].column]
    return exists().where(column == own, *membership(through.name, groups, through.table.c.pk, PUBLIC[0]))


def list_page(
    conn: Connection,
    spec: ResourceSpec,
    filters: Filters,
    *,
    after: int,
    limit: int,
    statuses: Sequence[str] = PUBLIC,
    rendered: bool = False,
) -> Page:
    """One page of records in the read shape; `rendered` (public lists only): as the read model keeps
    them, JSON bytes ready to be joined into the response."""
    table = spec.table
    groups = facet_groups(conn, filters, public=tuple(statuses) == PUBLIC)
    narrowing = [_review_clause(spec, filters.review)] if filters.review else []
    if filters.max_grade is not None:
        narrowing.append(_grade_clause(spec, filters.max_grade))
    review = _narrowed(spec, narrowing) if narrowing else None
    if spec.name in FACETED and groups:
        found = page_pks(conn, spec.name, groups, statuses, after=after, wanted=limit + 1, extra=review)
    else:
        query = select(table.c.pk).where(table.c.status.in_(statuses), table.c.pk > after).order_by(table.c.pk)
        given = filters.given()
        for name, column in spec.column_filters.items():  # matched on the record's own column
            if given.get(name):
                query = query.where(table.c[column].in_(given[name]))
        matched = tuple(f"{name}:" for name in spec.column_filters)
        through = reached(spec, [g for g in groups if not g[0].startswith(matched)])
        if through is not None:
            query = query.where(through)
        if review is not None:
            query = query.where(review(table.c.pk))
        found = list(conn.execute(paged(query, limit)).scalars().all())
    pks, more = split_page(found, limit)
    if rendered and statuses == PUBLIC:
        items: list[Any] = [orjson.Fragment(body) for body in readmodel.bodies(conn, spec, pks)]
    else:
        docs = load_documents(conn, spec, pks)
        items = expand(conn, spec, [docs[pk] for pk in pks], public=statuses == PUBLIC)
    return Page(items=items, last_position=pks[-1] if more else None, pks=pks)


FILTERED_BY = {
    "condition": ("condition",),
    "therapy": ("therapy",),
    "therapy_type": ("therapy",),
    "topic": ("topic",),
    "source": ("source",),
    "expert": ("expert",),
    "lang": ("source", "topic"),
}


def page_depends(spec: ResourceSpec, filters: Filters) -> frozenset[str] | None:
    """The resources any change of which may change a public page of `spec` with `filters` besides its
    own records: what its documents embed and what its filters name. None where a page depends on more
    than that (filters reaching through claims or quotes, a date): such a page is current only at the
    content version it was made at."""
    given = filters.given()
    if filters.review or (given and spec.name not in FACETED):
        return None
    depends = {ref.target for ref in spec.refs.values()} | {link.target for link in spec.links.values()}
    if "topic" in spec.refs:
        depends.add("source")
    for name in given:
        depends.update(FILTERED_BY[name])
    return frozenset(depends)


def _narrowed(spec: ResourceSpec, clauses: list[Callable[[Any], ColumnElement]]) -> Callable[[Any], ColumnElement]:
    """A condition on a pk: the record it names meets every clause. One primary-key seek per record
    checked, so it costs the same in each arm of a merged page and wherever the page stops."""

    def check(pk: Any) -> ColumnElement:
        record = spec.table.alias("narrowed")
        return exists().where(record.c.pk == pk, *(clause(record) for clause in clauses))

    return check


def _grade_clause(spec: ResourceSpec, max_grade: float) -> Callable[[Any], ColumnElement]:
    """Records whose text reads at most at this Flesch-Kincaid grade (one never measured: no)."""
    if "reading_grade" not in spec.nested:
        raise BadParameter("max_grade", "is for topics and claims only")
    return lambda table: and_(table.c.grade_fk.is_not(None), table.c.grade_fk <= max_grade)


def _review_clause(spec: ResourceSpec, review: str) -> Callable[[Any], ColumnElement]:
    """Records overdue for review: `next_review_due` before today (UTC). ISO dates compare as text, and a
    due time later today (`2026-05-01T09:00Z` against `2026-05-01`) is not yet overdue."""
    if review != "overdue" or "next_review_due" not in spec.columns:
        raise BadParameter("review", f"must be 'overdue' and is for sources and topics only: {review!r}")
    today = datetime.now(UTC).date().isoformat()
    return lambda table: and_(table.c.next_review_due.is_not(None), table.c.next_review_due < today)


def _visible_pk(conn: Connection, spec: ResourceSpec, key: str, statuses: Sequence[str]) -> int:
    table = spec.table
    pk = conn.execute(select(table.c.pk).where(table.c.key == key, table.c.status.in_(statuses))).scalar()
    if pk is None:
        raise NotFoundError(f"No {spec.name} has the {spec.key_field} {key!r}.")
    return pk


def detail_bytes(conn: Connection, spec: ResourceSpec, key: str) -> bytes:
    """The public detail of one record as JSON: its kept body with the detail's extras added, the same
    bytes as `orjson.dumps(get_one(...))`; 404 if it is not published."""
    pk = _visible_pk(conn, spec, key, PUBLIC)
    body = readmodel.bodies(conn, spec, [pk])[0]
    extras = _detail_extras(conn, spec, pk, key, PUBLIC)
    return body[:-1] + b"," + orjson.dumps(extras)[1:] if extras else body


def get_one(conn: Connection, spec: ResourceSpec, key: str, *, statuses: Sequence[str] = PUBLIC) -> dict[str, Any]:
    """One record in the read shape with its related items embedded; 404 if it is not visible."""
    pk = _visible_pk(conn, spec, key, statuses)
    public = statuses == PUBLIC
    doc = load_documents(conn, spec, [pk])[pk]
    item = expand(conn, spec, [doc], public=public)[0]
    item.update(_detail_extras(conn, spec, pk, key, statuses))
    return item


def _refs_of(conn: Connection, resource: str, query: Select, public: bool) -> list[dict[str, Any]]:
    spec = RESOURCES[resource]
    pks = conn.execute(query).scalars().all()
    docs = load_documents(conn, spec, pks)
    label = "title" if spec.label in ("title", "text") else "name"
    return [
        {spec.key_field: docs[pk][spec.key_field], label: docs[pk][spec.label]}
        for pk in pks
        if pk in docs and (not public or docs[pk]["status"] == Status.published)
    ]


def _claim_count(conn: Connection, facet: str, statuses: Sequence[str]) -> int:
    query = select(func.count(func.distinct(FACETS.c.record_pk))).where(
        FACETS.c.resource == "claim", FACETS.c.facet == facet, FACETS.c.status.in_(statuses)
    )
    return conn.execute(query).scalar_one()


def _detail_extras(conn: Connection, spec: ResourceSpec, pk: int, key: str, statuses: Sequence[str]) -> dict:
    """What a detail adds to the list's shape (`spec.details`): related records, a claim count."""
    extras: dict[str, Any] = {}
    for name, extra in spec.details.items():
        if isinstance(extra, ClaimCount):
            extras[name] = _claim_count(conn, f"{spec.name}:{key}", statuses)
            continue
        target = RESOURCES[extra.target]
        if extra.via in target.links:
            link = target.links[extra.via]
            owner = link.table.c[link.own]
            query = select(owner).where(link.table.c[link.other] == pk).order_by(owner)
        else:
            table = target.table
            column = table.c[target.refs[extra.via].column]
            query = select(table.c.pk).where(column == pk).order_by(table.c[extra.order])
        extras[name] = _refs_of(conn, extra.target, query, statuses == PUBLIC)
    return extras


def therapy_types(conn: Connection) -> list[dict[str, Any]]:
    """Each therapy type of the vocabulary with how many published therapies and claims it has."""
    table = RESOURCES["therapy"].table
    therapies: dict[str, int] = dict(
        conn.execute(
            select(table.c.type, func.count()).where(table.c.status == Status.published).group_by(table.c.type)
        ).all()
    )
    claims: dict[str, int] = dict(
        conn.execute(
            select(FACETS.c.facet, func.count())
            .where(
                FACETS.c.resource == "claim",
                FACETS.c.status == Status.published,
                FACETS.c.facet.like("therapy\\_type:%", escape="\\"),
            )
            .group_by(FACETS.c.facet)
        ).all()
    )
    return [
        {
            "type": kind.value,
            "description": THERAPY_TYPE_DESCRIPTIONS[kind],
            "therapy_count": therapies.get(kind.value, 0),
            "claim_count": claims.get(f"therapy_type:{kind.value}", 0),
        }
        for kind in TherapyType
    ]
