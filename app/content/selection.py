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

Counting is most of the cost of a page of two common filters (a condition and a therapy type: up to 22,000
index entries counted for a page of 20). So where the first group is one value and one status is asked
for, the page is first looked for among that range's next `PROBE_ROWS` records (the pk of the last of
them, read in the index, bounds the walk): it is found there when the groups often meet, or when the
range holds no more, for the price of the records walked. Otherwise the counted plan follows: a page
costs at most `PROBE_ROWS` seeks more than that plan bounds it to.

`lean_page_pks` is the same plan as driver-level SQL text, for the lean reads (`content.lean`).
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
PROBE_ROWS = COUNT_CAP  # records of a one-value first group a page walks before the groups are counted


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
    upto: int | None = None,
) -> list[int]:
    """Up to `wanted` pks after `after` (and up to `upto`, if given), in pk order, in every group, driven by
    the first group: one ordered range per (value, status) of it, each checked against the other groups
    (and `extra`), merged in pk order without duplicates, stopped by the LIMIT. The statement depends only
    on the shape of the request (how many ranges and groups), so it is built once per shape unless `extra`
    narrows it."""
    arms = [(value, status) for value in groups[0] for status in statuses]
    shape = (conn.dialect.name, resource, len(arms), len(groups) - 1, wanted, upto is not None)
    statement = _ordered(*shape) if extra is None else _ordered.__wrapped__(*shape, extra=extra)
    params: dict[str, Any] = {"resource": resource, "after": after, "upto": upto}
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
    bounded: bool = False,
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
            *([driver.c.record_pk <= bindparam("upto")] if bounded else []),
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
    if len(groups) > 1 and len(set(groups[0])) == 1 and len(statuses) == 1:
        params = {"resource": resource, "facet": groups[0][0], "status": statuses[0], "after": after}
        upto = conn.execute(_probe_end(), {**params, "skip": PROBE_ROWS - 1}).scalar()
        found = ordered(conn, resource, groups, statuses, after=after, wanted=wanted, extra=extra, upto=upto)
        if upto is None or len(found) == wanted:
            return found
    if len(groups) > 1:
        sizes = group_sizes(conn, resource, groups, statuses, COUNT_CAP)
        if min(sizes) == 0:
            return []
        if min(sizes) >= COUNT_CAP:  # every group is large: which is smallest matters when they rarely meet
            sizes = group_sizes(conn, resource, groups, statuses, RECOUNT_CAP)
        order = sorted(range(len(groups)), key=lambda n: (sizes[n], len(groups[n])))
        groups = [list(groups[n]) for n in order]
    return ordered(conn, resource, groups, statuses, after=after, wanted=wanted, extra=extra)


@functools.cache
def _probe_end() -> Select:
    """The pk of the `skip`+1-th record of one range after `after` (the last one a probe walks)."""
    return (
        select(FACETS.c.record_pk)
        .where(
            FACETS.c.resource == bindparam("resource"),
            FACETS.c.facet == bindparam("facet"),
            FACETS.c.status == bindparam("status"),
            FACETS.c.record_pk > bindparam("after"),
        )
        .order_by(FACETS.c.record_pk)
        .limit(1)
        .offset(bindparam("skip", type_=Integer))
    )


# ---- the same plan on driver-level statements (`content.lean`) --------------------------------------------

Execute = Callable[[str, tuple], list[Any]]  # runs one statement (`?` marks) in the caller's snapshot


def lean_page_pks(
    execute: Execute,
    dialect: str,
    resource: str,
    groups: Sequence[Sequence[str]],
    status: str,
    *,
    after: int,
    wanted: int,
    probe_only: bool = False,
) -> list[int] | None:
    """`page_pks` for one status and no `extra`, on driver-level statements, their text built once per
    shape (the dialect, how many values each group has), so a request crosses no SQL layer: the same
    probe, counts and ordered ranges. `probe_only`: None where the probe does not settle the page (the
    caller has no time for the counted plan, which may walk the smaller group whole, and runs it
    elsewhere)."""
    distinct = [list(dict.fromkeys(group)) for group in groups]
    if len(distinct) > 1 and len(distinct[0]) == 1:
        last = execute(_LEAN_PROBE_END, (resource, distinct[0][0], status, after, PROBE_ROWS - 1))
        upto = last[0][0] if last else None
        found = _lean_walk(execute, dialect, resource, distinct, status, after, wanted, upto)
        if upto is None or len(found) == wanted:
            return found
    if len(distinct) > 1 and probe_only:
        return None
    if len(distinct) > 1:
        sizes = _lean_sizes(execute, resource, distinct, status, COUNT_CAP)
        if min(sizes) == 0:
            return []
        if min(sizes) >= COUNT_CAP:
            sizes = _lean_sizes(execute, resource, distinct, status, RECOUNT_CAP)
        distinct = [distinct[n] for n in sorted(range(len(distinct)), key=lambda n: (sizes[n], len(distinct[n])))]
    return _lean_walk(execute, dialect, resource, distinct, status, after, wanted, None)


def _lean_walk(
    execute: Execute,
    dialect: str,
    resource: str,
    groups: list[list[str]],
    status: str,
    after: int,
    wanted: int,
    upto: int | None,
) -> list[int]:
    """`_ordered`'s page, driven by the first group, up to the pk `upto` (None: to the end)."""
    bounds = [after] if upto is None else [after, upto]
    parameters: list[Any] = []
    for value in groups[0]:
        parameters += [resource, value, status, *bounds]
        for group in groups[1:]:
            parameters += [resource, *group, status]
        if dialect != "sqlite" and len(groups[0]) > 1:
            parameters.append(wanted)
    parameters.append(wanted)
    statement = _lean_ordered(dialect, len(groups[0]), tuple(len(group) for group in groups[1:]), upto is not None)
    return [row[0] for row in execute(statement, tuple(parameters))]


def _lean_sizes(execute: Execute, resource: str, groups: list[list[str]], status: str, cap: int) -> list[int]:
    parameters = [p for group in groups for p in (resource, *group, status, cap)]
    return list(execute(_lean_counts(tuple(len(group) for group in groups)), tuple(parameters))[0])


def _marks(count: int) -> str:
    return ", ".join("?" * count)


_LEAN_PROBE_END = (
    f"SELECT record_pk FROM {FACETS.name} WHERE resource = ? AND facet = ? AND status = ? AND record_pk > ? "
    "ORDER BY record_pk LIMIT 1 OFFSET ?"
)


@functools.cache
def _lean_counts(lengths: tuple[int, ...]) -> str:
    counts = (
        f"(SELECT count(*) FROM (SELECT 1 FROM {FACETS.name} WHERE resource = ? AND facet IN ({_marks(length)}) "
        f"AND status = ? LIMIT ?) AS c{n})"
        for n, length in enumerate(lengths)
    )
    return f"SELECT {', '.join(counts)}"


@functools.lru_cache(maxsize=512)
def _lean_ordered(dialect: str, arms: int, others: tuple[int, ...], bounded: bool) -> str:
    """The statement `_ordered` makes, as text: one ordered range per value of the driver (up to a pk when
    `bounded`), each record checked against the other groups (one `EXISTS` of index seeks each), merged as
    `_ordered` merges them."""
    checks = "".join(
        f" AND EXISTS (SELECT 1 FROM {FACETS.name} m{m} WHERE m{m}.resource = ? AND m{m}.facet IN ({_marks(length)})"
        f" AND m{m}.status = ? AND m{m}.record_pk = d.record_pk)"
        for m, length in enumerate(others)
    )
    arm = (
        f"SELECT d.record_pk AS pk FROM {FACETS.name} d WHERE d.resource = ? AND d.facet = ? AND d.status = ? "
        f"AND d.record_pk > ?{' AND d.record_pk <= ?' if bounded else ''}{checks}"
    )
    if arms == 1:
        return f"{arm} ORDER BY d.record_pk LIMIT ?"
    if dialect == "sqlite":
        return f"{' UNION '.join([arm] * arms)} ORDER BY pk LIMIT ?"
    firsts = " UNION ALL ".join([f"({arm} ORDER BY d.record_pk LIMIT ?)"] * arms)
    return f"SELECT DISTINCT merged.pk FROM ({firsts}) AS merged ORDER BY merged.pk LIMIT ?"
