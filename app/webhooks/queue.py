"""The outbox as a work queue: claim due work in one transaction, record what the sends did in one more.

A worker claims by subscription. `claim` finds active subscriptions nobody holds whose oldest pending
delivery is due (one index seek per subscription: `ix_webhook_deliveries_queue`), leases them (on PostgreSQL
`SELECT ... FOR UPDATE SKIP LOCKED`, so workers never wait for each other; on SQLite in a `BEGIN IMMEDIATE`
transaction, the one writer) and reads each one's due deliveries, oldest first, up to the first that is not
due. So a subscription's events go out in seq order and by one worker at a time, and a subscription whose
head is waiting for its retry holds back its later events without holding back anybody else's.

`record` stores a batch of attempts (many subscriptions at once) with one statement per kind of outcome,
disables a subscription whose delivery was refused for good, and releases the leases, all in one
transaction. A worker that dies holding a lease only delays its subscriptions until the lease runs out; then
another sends again (at least once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, or_, select, true, update

from app.core.db import Database
from app.webhooks import outbox

SUBSCRIPTIONS = outbox.SUBSCRIPTIONS
DELIVERIES = outbox.DELIVERIES
PENDING, SUCCEEDED, FAILED = outbox.PENDING, outbox.SUCCEEDED, outbox.FAILED

# What an attempt changes on its delivery row (every outcome sets all of them, so one statement takes many).
OUTCOME_COLUMNS = (
    "status",
    "attempts",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "next_attempt_at",
    "delivered_at",
)

# The names the outcome columns are bound by (a bound name may not be a column's: SQLAlchemy keeps those).
_BOUND = tuple((f"v_{name}", name) for name in OUTCOME_COLUMNS)


# How much one worker does at once: a small one inside an app served without `serve` (beside its reads),
# and `python -m app deliver` (also what `serve` runs beside its HTTP workers).
@dataclass(frozen=True)
class Size:
    subscriptions: int  # held (leased) at once
    concurrency: int  # sends in flight at once, across them


SERVE_SIZE = Size(subscriptions=64, concurrency=16)
DELIVER_SIZE = Size(subscriptions=256, concurrency=64)


@contextmanager
def write_transaction(db: Database) -> Iterator[Connection]:
    """A short transaction on the webhook tables. Not `Database.write()`: on PostgreSQL that takes the
    content writers' lock, which the worker has no need of."""
    options = {"sqlite_begin": "IMMEDIATE"} if db.is_sqlite else {}
    with db.engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn


def _head_due_at():
    """The next attempt time of a subscription's oldest pending delivery (NULL when none is pending)."""
    return (
        select(DELIVERIES.c.next_attempt_at)
        .where(DELIVERIES.c.subscription_id == SUBSCRIPTIONS.c.id, DELIVERIES.c.status == PENDING)
        .order_by(DELIVERIES.c.id)
        .limit(1)
        .correlate(SUBSCRIPTIONS)
        .scalar_subquery()
    )


def _due_subscriptions(now: float, limit: int):
    head = _head_due_at()
    return (
        select(SUBSCRIPTIONS)
        .where(
            SUBSCRIPTIONS.c.active.is_(True),
            or_(SUBSCRIPTIONS.c.lease_until.is_(None), SUBSCRIPTIONS.c.lease_until < now),
            head <= now,
        )
        .order_by(head, SUBSCRIPTIONS.c.id)  # who has waited longest goes first
        .limit(limit)
    )


def anything_due(db: Database, now: float) -> bool:
    """A cheap read, without SQLite's write lock: is any pending delivery due at all? (One probe of
    `ix_webhook_deliveries_due`, whatever the number of subscriptions; an idle worker asks only this.)"""
    query = select(DELIVERIES.c.id).where(DELIVERIES.c.status == PENDING, DELIVERIES.c.next_attempt_at <= now)
    with db.engine.connect() as conn:
        return conn.execute(query.limit(1)).first() is not None


def _claimed_columns():
    """What the worker needs of a delivery: its body as the stored JSON text (rendered once, when the change
    was written; sent as it is, never parsed again) and what an attempt's outcome is computed from."""
    return (
        DELIVERIES.c.id,
        DELIVERIES.c.subscription_id,
        DELIVERIES.c.msg_id,
        DELIVERIES.c.seq,
        DELIVERIES.c.attempts,
        DELIVERIES.c.next_attempt_at,
        DELIVERIES.c.created_at,
        cast(DELIVERIES.c.payload, Text).label("body"),
    )


def _pending(conn: Connection, ids: list[str], per_subscription: int, *, lateral: bool) -> dict[str, list[dict]]:
    """Each subscription's oldest pending deliveries, in id (so seq) order, at most `per_subscription` each;
    `body` is bytes."""
    found: dict[str, list[dict]] = {sid: [] for sid in ids}
    if lateral:  # PostgreSQL: one statement for every subscription, each an index range read
        chosen = select(SUBSCRIPTIONS.c.id.label("sid")).where(SUBSCRIPTIONS.c.id.in_(ids)).subquery()
        head = (
            select(*_claimed_columns())
            .where(DELIVERIES.c.subscription_id == chosen.c.sid, DELIVERIES.c.status == PENDING)
            .order_by(DELIVERIES.c.id)
            .limit(per_subscription)
            .lateral()
        )
        rows = conn.execute(select(head).select_from(chosen.join(head, true())).order_by(head.c.id)).mappings()
        for row in rows:
            found[row["subscription_id"]].append({**row, "body": row["body"].encode()})
        return found
    query = (
        select(*_claimed_columns())
        .where(DELIVERIES.c.subscription_id == bindparam("sid"), DELIVERIES.c.status == PENDING)
        .order_by(DELIVERIES.c.id)
        .limit(per_subscription)
    )
    for sid in ids:  # SQLite: in-process statements cost microseconds each
        found[sid] = [{**row, "body": row["body"].encode()} for row in conn.execute(query, {"sid": sid}).mappings()]
    return found


def claim(
    db: Database, owner: str, now: float, *, lease: float, subscriptions: int, per_subscription: int
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Lease up to `subscriptions` due subscriptions and return each with its due deliveries in order."""
    if not anything_due(db, now):
        return []
    query = _due_subscriptions(now, subscriptions)
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True, of=SUBSCRIPTIONS)
    with write_transaction(db) as conn:
        chosen = [dict(row) for row in conn.execute(query).mappings()]
        if not chosen:
            return []
        ids = [row["id"] for row in chosen]
        conn.execute(
            update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id.in_(ids)).values(lease_owner=owner, lease_until=now + lease)
        )
        pending = _pending(conn, ids, per_subscription, lateral=not db.is_sqlite)
    work = []
    for subscription in chosen:
        due = []
        for row in pending[subscription["id"]]:
            if row["next_attempt_at"] > now:
                break  # a later event never overtakes one waiting for its retry
            due.append(row)
        work.append((subscription, due))
    return work


def record(
    db: Database,
    owner: str,
    updates: list[dict[str, Any]],
    disable: dict[str, tuple[int, str, str | None]],
    released: list[str],
) -> None:
    """Store attempts (`updates`: the delivery id as `_id`, then OUTCOME_COLUMNS), disable subscriptions
    (`disable`: id -> (the delivery whose failure ends it, the reason, when)) where that delivery was still
    pending, and release the leases of `released`, in one transaction."""
    with write_transaction(db) as conn:
        for sid, (delivery_id, reason, at) in disable.items():
            still_pending = conn.execute(
                select(DELIVERIES.c.id).where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == PENDING)
            ).first()
            if still_pending:
                conn.execute(
                    update(SUBSCRIPTIONS)
                    .where(SUBSCRIPTIONS.c.id == sid)
                    .values(active=False, disabled_reason=reason, updated_at=at)
                )
        if updates:
            statement = (
                update(DELIVERIES)
                .where(DELIVERIES.c.id == bindparam("_id"), DELIVERIES.c.status == PENDING)
                .values({name: bindparam(bound) for bound, name in _BOUND})
            )
            conn.execute(statement, [{"_id": u["_id"], **{bound: u[name] for bound, name in _BOUND}} for u in updates])
        if released:
            conn.execute(
                update(SUBSCRIPTIONS)
                .where(SUBSCRIPTIONS.c.id.in_(released), SUBSCRIPTIONS.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
