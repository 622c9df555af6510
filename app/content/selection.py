"""Selecting records by facets at a bounded cost, whatever combination of filters a request names.

Filters arrive as OR-groups of facet names (`facet_groups`), combined with AND. Every check reads the
`(resource, facet, status, record_pk)` index: a record's membership of a group is one index seek per value
of the group, never a range scan. A page of records is found by one of two plans, chosen from the sizes of
the groups' index ranges (counted in that index, before the page is read):

- **driver**: the smallest group's ranges, in record order, each record checked against the other groups.
  Cheap when one group is small: its cost is the size of that group.
- **walk**: the resource's records in pk order, each checked against every group, stopping at the page's
  end. Cheap when the groups are large (most records match): about `page / selectivity` records are
  checked. The walk is bounded: past `WALK_ROWS` records without a full page, the driver plan finishes
  the page from where the walk stopped, so a wrong estimate costs at most that bounded walk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod

from sqlalchemy import ColumnElement, Connection, exists, func, literal, select
from sqlalchemy.sql import Select

from app.content.resources import RESOURCES
from app.models import Facet, table_of

FACETS = table_of(Facet)
WALK_ROWS = 2_000  # records a walk reads before the driver plan takes over
COUNT_CAP = 10_000  # index entries counted per group, at most


def membership(
    resource: str, groups: Sequence[Sequence[str]], record_pk: ColumnElement, status: ColumnElement | str
) -> list[ColumnElement]:
    """One EXISTS per group: the record `record_pk` (of `resource`, with `status`) has a facet of it."""
    checks: list[ColumnElement] = []
    for n, group in enumerate(groups):
        facet = FACETS.alias(f"m{n}")
        checks.append(
            exists().where(
                facet.c.resource == resource,
                facet.c.facet.in_(list(group)),
                facet.c.status == (literal(status) if isinstance(status, str) else status),
                facet.c.record_pk == record_pk,
            )
        )
    return checks


def group_sizes(conn: Connection, resource: str, groups: Sequence[Sequence[str]], statuses: Sequence[str]) -> list[int]:
    """Index entries per group (an upper bound on its records), counted in the index up to COUNT_CAP:
    past it a group is simply large, and counting further would cost what the plan is meant to save."""
    sizes = []
    for group in groups:
        entries = (
            select(literal(1))
            .where(FACETS.c.resource == resource, FACETS.c.facet.in_(list(group)), FACETS.c.status.in_(statuses))
            .limit(COUNT_CAP)
            .subquery()
        )
        sizes.append(conn.execute(select(func.count()).select_from(entries)).scalar_one())
    return sizes


def by_size(groups: Sequence[Sequence[str]], sizes: Sequence[int]) -> list[list[str]]:
    return [list(group) for _, group in sorted(zip(sizes, groups, strict=True), key=lambda pair: pair[0])]


def driven(resource: str, groups: Sequence[Sequence[str]], statuses: Sequence[str]) -> Select:
    """The records in every group, driven by the first group's ranges (put the smallest first)."""
    driver = FACETS.alias("f0")
    query = select(driver.c.record_pk.label("pk")).where(
        driver.c.resource == resource, driver.c.facet.in_(list(groups[0])), driver.c.status.in_(statuses)
    )
    query = query.where(*membership(resource, groups[1:], driver.c.record_pk, driver.c.status))
    if len(groups[0]) > 1 or len(statuses) > 1:
        query = query.distinct()
    return query


def _walk(resource: str, groups: Sequence[Sequence[str]], statuses: Sequence[str], after: int, upto: int | None):
    """The records after `after` (up to `upto`, included), in pk order, checked against every group: a
    range of the primary key read in order, so the page's LIMIT stops it at its last match."""
    table = RESOURCES[resource].table
    query = select(table.c.pk).where(table.c.pk > after, table.c.status.in_(statuses))
    if upto is not None:
        query = query.where(table.c.pk <= upto)
    return query.where(*membership(resource, groups, table.c.pk, table.c.status)).order_by(table.c.pk)


def page_pks(
    conn: Connection,
    resource: str,
    groups: Sequence[Sequence[str]],
    statuses: Sequence[str],
    *,
    after: int,
    wanted: int,
    extra: Callable[[ColumnElement], ColumnElement] | None = None,
) -> list[int]:
    """Up to `wanted` pks of `resource` after `after`, in pk order, in every group; `extra`, a condition
    on the pk, narrows further (applied to the records found, whichever plan ran)."""
    table = RESOURCES[resource].table
    found: list[int] = []
    if len(groups) == 1 and len(groups[0]) == 1 and len(statuses) == 1:  # one range, already in pk order
        return _driven_page(resource, groups, statuses, conn, after, wanted, extra, found)
    sizes = group_sizes(conn, resource, groups, statuses)
    if min(sizes) == 0:
        return []
    total = conn.execute(select(func.max(table.c.pk))).scalar() or 0  # the records, at most: one seek
    selectivity = prod(min(1.0, size / max(total, 1)) for size in sizes)
    seeks = sum(len(group) for group in groups)
    walk_cost = min(total, wanted / selectivity) * seeks
    drive_cost = min(sizes) * (1 + seeks - len(groups[sizes.index(min(sizes))]))
    if walk_cost < drive_cost or min(sizes) >= COUNT_CAP:  # every group large: most records match
        window = conn.execute(
            select(table.c.pk)
            .where(table.c.pk > after, table.c.status.in_(statuses))
            .order_by(table.c.pk)
            .offset(WALK_ROWS - 1)
            .limit(1)
        ).scalar()
        query = _walk(resource, groups, statuses, after, window)
        if extra is not None:
            query = query.where(extra(query.selected_columns[0]))
        found = list(conn.execute(query.limit(wanted)).scalars())
        if len(found) >= wanted or window is None:
            return found
        after = window  # the walk read every record up to here: the driver finishes the page
    return _driven_page(resource, by_size(groups, sizes), statuses, conn, after, wanted, extra, found)


def _driven_page(resource, groups, statuses, conn, after, wanted, extra, found: list[int]) -> list[int]:
    ordered = driven(resource, groups, statuses).subquery()
    query = select(ordered.c.pk).where(ordered.c.pk > after)
    if extra is not None:
        query = query.where(extra(ordered.c.pk))
    found += conn.execute(query.order_by(ordered.c.pk).limit(wanted - len(found))).scalars()
    return found
