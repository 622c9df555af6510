"""Selecting records by facets at a bounded cost, whatever combination of filters a request names.

Filters arrive as OR-groups of facet names (`facet_groups`), combined with AND. Every check reads the
`(resource, facet, status, record_pk)` index: a record's membership of a group is one index seek per value
of the group, never a range scan.

A page of records is read from one group, the **driver**, in record order: each of its values (with each
status asked for) is one range of the index, already in `record_pk` order, and the ranges are merged in
that order (SQLite merges a `UNION` of ordered streams; PostgreSQL reads each range up to the page's
length and merges those), each record checked
against the other groups; the page's `LIMIT` stops the merge at its last record. So a page reads about
`page / (the share of the driver's records the other groups keep)` records of the driver, and never more
than the driver holds: the driver is the group with the fewest index entries (counted in the index up to
`COUNT_CAP` before the page is read, and up to `RECOUNT_CAP` when every group has more), ties going to
the group of fewer ranges. No plan reads a whole range to sort it, and none walks records outside every
group.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    select,
    union,
    union_all,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter

from app.models import Facet, table_of

FACETS = table_of(Facet)
COUNT_CAP = 1_000  # index entries counted per group, at most
RECOUNT_CAP = 10_000  # ... and counted again up to this when every group has over COUNT_CAP


def membership(
    resource: str | BindParameter[str],
    groups: Sequence[Sequence[str] | BindParameter[Any]],
    record_pk: ColumnElement,
    status: ColumnElement | str,
) -> list[ColumnElement]:
    """One EXISTS per group: the record `record_pk` (of `resource`, with `status`) has a facet of it. A
    group is its values, or an expanding parameter that will hold them (a statement built once)."""
    checks: list[ColumnElement] = []
    for n, group in enumerate(groups):
        facet = FACETS.alias(f"m{n}")
        checks.append(
            exists().where(
                facet.c.resource == resource,
                facet.c.facet.in_(group if isinstance(group, BindParameter) else list(group)),
                facet.c.status == (literal(status) if isinstance(status, str) else status),
                facet.c.record_pk == record_pk,
            )
        )
    return checks


def group_sizes(
    conn: Connection, resource: str, groups: Sequence[Sequence[str]], statuses: Sequence[str], cap: int
) -> list[int]:
    """Index entries per group (an upper bound on its records), counted in the index up to `cap`: past
    it a group is simply large, and counting further would cost what the plan is meant to save. One
    statement for every group, built once per number of groups."""
    params: dict[str, Any] = {"resource": resource, "statuses": list(statuses), "cap": cap}
    params.update({f"g{n}": list(group) for n, group in enumerate(groups)})
    return list(conn.execute(_counts(len(groups)), params).one())


@functools.cache
def _counts(groups: int) -> Select:
    counts = []
    for n in range(groups):
        entries = (
            select(literal_column("1"))
            .where(
                FACETS.c.resource == bindparam("resource"),
                FACETS.c.facet.in_(bindparam(f"g{n}", expanding=True)),
                FACETS.c.status.in_(bindparam("statuses", expanding=True)),
            )
            .limit(bindparam("cap", type_=Integer))
            .subquery()
        )
        counts.append(select(func.count()).select_from(entries).scalar_subquery())
    return select(*counts)


def driven(resource: str, groups: Sequence[Sequence[str]], statuses: Sequence[str]) -> Select:
    """The records in every group, driven by the first group's ranges (unordered: a set to select from)."""
    driver = FACETS.alias("f0")
    query = select(driver.c.record_pk.label("pk")).where(
        driver.c.resource == resource, driver.c.facet.in_(list(groups[0])), driver.c.status.in_(statuses)
    )
    query = query.where(*membership(resource, groups[1:], driver.c.record_pk, driver.c.status))
    if len(groups[0]) > 1 or len(statuses) > 1:
        query = query.distinct()
    return query


def ordered(
    conn: Connection,
    resource: str,
    groups: Sequence[Sequence[str]],
    statuses: Sequence[str],
    *,
    after: int,
    wanted: int,
    extra: Callable[[ColumnElement], ColumnElement] | None = None,
) -> list[int]:
    """Up to `wanted` pks after `after`, in pk order, in every group, driven by the first group: one
    ordered range per (value, status) of it, each checked against the other groups (and `extra`), merged
    in pk order without duplicates, stopped by the LIMIT. The statement depends only on the shape of the
    request (how many ranges and groups), so it is built once per shape unless `extra` narrows it."""
    arms = [(value, status) for value in groups[0] for status in statuses]
    shape = (conn.dialect.name, resource, len(arms), len(groups) - 1, wanted)
    statement = _ordered(*shape) if extra is None else _ordered.__wrapped__(*shape, extra=extra)
    params: dict[str, Any] = {"resource": resource, "after": after}
    for n, (value, status) in enumerate(arms):
        params[f"value{n}"], params[f"status{n}"] = value, status
    params.update({f"g{n}": list(group) for n, group in enumerate(groups[1:])})
    return list(conn.execute(statement, params).scalars())


@functools.lru_cache(maxsize=512)
def _ordered(
    dialect: str,
    resource: str,
    arms: int,
    others: int,
    wanted: int,
    extra: Callable[[ColumnElement], ColumnElement] | None = None,
) -> Select | CompoundSelect:
    selects = []
    for n in range(arms):
        driver = FACETS.alias("d")
        status: BindParameter[str] = bindparam(f"status{n}")
        others_in: list[BindParameter[Any]] = [bindparam(f"g{m}", expanding=True) for m in range(others)]
        checks = membership(bindparam("resource"), others_in, driver.c.record_pk, status)
        arm = select(driver.c.record_pk.label("pk")).where(
            driver.c.resource == bindparam("resource"),
            driver.c.facet == bindparam(f"value{n}"),
            driver.c.status == status,
            driver.c.record_pk > bindparam("after"),
            *checks,
        )
        if extra is not None:
            arm = arm.where(extra(driver.c.record_pk))
        selects.append(arm)
    if arms == 1:
        return selects[0].order_by(selects[0].selected_columns[0]).limit(wanted)
    if dialect == "sqlite":  # a compound ORDER BY: SQLite merges the ordered arms (MERGE (UNION))
        return union(*selects).order_by(literal_column("pk")).limit(wanted)
    # PostgreSQL plans a union of ranges as hash joins that read every range whole; each range is read in
    # order up to the page's length instead (a record has one status, and one row per value: the page's
    # first `wanted` records are among the first `wanted` of their own ranges), then merged.
    firsts = [arm.order_by(arm.selected_columns[0]).limit(wanted).subquery(f"r{n}") for n, arm in enumerate(selects)]
    merged = union_all(*(select(first.c.pk) for first in firsts)).subquery()
    return select(merged.c.pk).distinct().order_by(merged.c.pk).limit(wanted)


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
    on the pk, narrows further."""
    if len(groups) > 1:
        sizes = group_sizes(conn, resource, groups, statuses, COUNT_CAP)
        if min(sizes) == 0:
            return []
        if min(sizes) >= COUNT_CAP:  # every group is large: which is smallest matters when they rarely meet
            sizes = group_sizes(conn, resource, groups, statuses, RECOUNT_CAP)
        order = sorted(range(len(groups)), key=lambda n: (sizes[n], len(groups[n])))
        groups = [list(groups[n]) for n in order]
    return ordered(conn, resource, groups, statuses, after=after, wanted=wanted, extra=extra)
