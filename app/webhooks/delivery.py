"""The delivery worker: sends the outbox's pending deliveries, oldest first per subscription, and retries
failures on the Standard Webhooks schedule.

Work is shared by subscription: a worker leases a subscription whose oldest pending delivery is due (on
PostgreSQL with `SELECT ... FOR UPDATE SKIP LOCKED`, on SQLite in a `BEGIN IMMEDIATE` transaction, the one
writer), sends its deliveries in seq order while the lease lasts, and releases it. So several workers never
send one subscription's events at once, nor out of order, and a worker that dies only delays its
subscriptions until the lease runs out (then another sends again: at least once). The lease outlasts what
one pass may take, because each send is cut off at the timeout."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from anyio import to_thread
from sqlalchemy import Connection, exists, or_, select, update

from app.core.config import Settings
from app.core.db import Database
from app.ops.metrics import WEBHOOK_DELIVERIES, WEBHOOK_LAG
from app.webhooks import outbox
from app.webhooks.sender import Attempt, send
from app.webhooks.ssrf import Target, UnsafeTarget, check_url

log = logging.getLogger("app.webhooks")

SUBSCRIPTIONS = outbox.SUBSCRIPTIONS
DELIVERIES = outbox.DELIVERIES
PENDING, SUCCEEDED, FAILED = outbox.PENDING, outbox.SUCCEEDED, outbox.FAILED

# Seconds to wait before each attempt, as the specification suggests: at once, 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h. After the last one fails, the subscription is disabled.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def retry_delay(attempts_made: int, scale: float, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None when none is left."""
    if attempts_made >= len(SCHEDULE):
        return None
    jitter = 1 + (rng or random).uniform(-JITTER, JITTER)
    return SCHEDULE[attempts_made] * scale * jitter


@contextmanager
def write_transaction(db: Database) -> Iterator[Connection]:
    """A short transaction on the webhook tables. Not `Database.write()`: on PostgreSQL that takes the
    content writers' lock, which the worker has no need of."""
    options = {"sqlite_begin": "IMMEDIATE"} if db.is_sqlite else {}
    with db.engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn


def signing_secrets(subscription: dict[str, Any], now: float) -> list[str]:
    found = [subscription["secret"]]
    until = subscription.get("previous_secret_until")
    if subscription.get("previous_secret") and until is not None and until > now:
        found.append(subscription["previous_secret"])
    return found


class Worker:
    def __init__(self, db: Database, settings: Settings, *, name: str | None = None, batch: int = 32) -> None:
        self.db = db
        self.settings = settings
        self.name = name or f"worker-{secrets.token_hex(4)}"
        self.batch = batch
        self.per_pass = 100  # deliveries of one subscription read (and recorded) at a time
        self.timeout = settings.webhook_timeout_seconds
        self.lease = 3 * self.timeout + 5
        self.wake = asyncio.Event()

    # ---- the database side (each runs in a thread) ----------------------------------------------------

    def claim(self, now: float) -> list[str]:
        """Lease up to `batch` active subscriptions whose oldest pending delivery is due."""
        earlier = DELIVERIES.alias("earlier")
        head_due = select(DELIVERIES.c.subscription_id).where(
            DELIVERIES.c.status == PENDING,
            DELIVERIES.c.next_attempt_at <= now,
            ~exists().where(
                earlier.c.subscription_id == DELIVERIES.c.subscription_id,
                earlier.c.status == PENDING,
                earlier.c.id < DELIVERIES.c.id,
            ),
        )
        query = (
            select(SUBSCRIPTIONS.c.id)
            .where(
                SUBSCRIPTIONS.c.active.is_(True),
                SUBSCRIPTIONS.c.id.in_(head_due),
                or_(SUBSCRIPTIONS.c.lease_until.is_(None), SUBSCRIPTIONS.c.lease_until < now),
            )
            .limit(self.batch)
        )
        with write_transaction(self.db) as conn:
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            if ids:
                conn.execute(
                    update(SUBSCRIPTIONS)
                    .where(SUBSCRIPTIONS.c.id.in_(ids))
                    .values(lease_owner=self.name, lease_until=now + self.lease)
                )
        return ids

    def due(self, subscription_id: str, now: float) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The subscription and its oldest pending deliveries, in order, up to the first not yet due, while
        the lease is still this worker's."""
        with self.db.engine.connect() as conn:
            subscription = (
                conn.execute(
                    select(SUBSCRIPTIONS).where(
                        SUBSCRIPTIONS.c.id == subscription_id,
                        SUBSCRIPTIONS.c.active.is_(True),
                        SUBSCRIPTIONS.c.lease_owner == self.name,
                    )
                )
                .mappings()
                .first()
            )
            if subscription is None:
                return None
            rows = (
                conn.execute(
                    select(DELIVERIES)
                    .where(DELIVERIES.c.subscription_id == subscription_id, DELIVERIES.c.status == PENDING)
                    .order_by(DELIVERIES.c.id)
                    .limit(self.per_pass)
                )
                .mappings()
                .all()
            )
        deliveries = []
        for row in rows:
            if row["next_attempt_at"] > now:
                break
            deliveries.append(dict(row))
        return (dict(subscription), deliveries) if deliveries else None

    def outcome_of(self, delivery: dict[str, Any], attempt: Attempt, now: float) -> tuple[str, dict, str | None]:
        """(outcome, the delivery's new values, why to disable the webhook or None)."""
        attempts = delivery["attempts"] + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": attempt.status_code,
            "last_error": attempt.error,
        }
        if attempt.ok:
            return "success", values | {"status": SUCCEEDED, "delivered_at": now}, None
        if attempt.status_code == 410:
            reason = f"The target answered 410 Gone at {iso(now)} (delivery {delivery['msg_id']})."
            return "gone", values | {"status": FAILED}, reason
        delay = retry_delay(attempts, self.settings.webhook_retry_scale)
        if delay is None:
            reason = (
                f"Delivery {delivery['msg_id']} failed {attempts} times, the last at {iso(now)}: "
                f"{attempt.describe()}. Fix the target, then set active to true and redeliver."
            )
            return "failed", values | {"status": FAILED}, reason
        return "retry", values | {"next_attempt_at": now + delay}, None

    def record(self, subscription_id: str, results: list[tuple[dict[str, Any], Attempt, float]]) -> list[str]:
        """Store a pass's attempts in one transaction; returns their outcomes."""
        outcomes = []
        with write_transaction(self.db) as conn:
            for delivery, attempt, now in results:
                outcome, values, disable = self.outcome_of(delivery, attempt, now)
                changed = conn.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id == delivery["id"], DELIVERIES.c.status == PENDING)
                    .values(**values)
                ).rowcount
                if changed and disable:
                    conn.execute(
                        update(SUBSCRIPTIONS)
                        .where(SUBSCRIPTIONS.c.id == subscription_id)
                        .values(active=False, disabled_reason=disable, updated_at=iso(now))
                    )
                outcomes.append(outcome)
        for (delivery, attempt, now), outcome in zip(results, outcomes, strict=True):
            WEBHOOK_DELIVERIES.labels(outcome).inc()
            if attempt.ok and delivery["seq"] is not None:
                WEBHOOK_LAG.observe(max(0.0, now - delivery["created_at"]))
        return outcomes

    def release(self, subscription_id: str) -> None:
        with write_transaction(self.db) as conn:
            conn.execute(
                update(SUBSCRIPTIONS)
                .where(SUBSCRIPTIONS.c.id == subscription_id, SUBSCRIPTIONS.c.lease_owner == self.name)
                .values(lease_owner=None, lease_until=None)
            )

    # ---- sending ------------------------------------------------------------------------------------

    async def check(self, url: str) -> Target | Attempt:
        """The target, checked now (its name resolved again), or a refused attempt."""
        allow = self.settings.webhook_allow_private_targets
        try:
            return await to_thread.run_sync(lambda: check_url(url, allow_private=allow))
        except UnsafeTarget as exc:
            return Attempt(status_code=None, error=f"refused: the URL {exc}")

    async def drain(self, client: httpx.AsyncClient, subscription_id: str, claimed_at: float) -> int:
        """Send one leased subscription's due deliveries in order until one fails or the lease runs low. Each
        pass checks the target once and sends only to the addresses it checked."""
        sent = 0
        deadline = claimed_at + self.lease - self.timeout - 2
        try:
            while time.time() < deadline:
                found = await to_thread.run_sync(self.due, subscription_id, time.time())
                if found is None:
                    break
                subscription, deliveries = found
                target = await self.check(subscription["url"])
                results: list[tuple[dict[str, Any], Attempt, float]] = []
                for delivery in deliveries:
                    if isinstance(target, Attempt):
                        attempt = target
                    else:
                        attempt = await send(
                            client,
                            subscription["url"],
                            target,
                            signing_secrets(subscription, time.time()),
                            delivery["msg_id"],
                            delivery["payload"],
                            timeout=self.timeout,
                        )
                    results.append((delivery, attempt, time.time()))
                    if not attempt.ok or time.time() >= deadline:
                        break
                outcomes = await to_thread.run_sync(self.record, subscription_id, results)
                sent += len(outcomes)
                if outcomes[-1] != "success":
                    break
        finally:
            await to_thread.run_sync(self.release, subscription_id)
        return sent

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One round: lease what is due and send it. Returns the number of attempts made."""
        now = time.time()
        ids = await to_thread.run_sync(self.claim, now)
        if not ids:
            return 0
        counts = await asyncio.gather(*(self.drain(client, sid, now) for sid in ids))
        return sum(counts)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: send what is due; when idle, wait for a local write's signal or the poll."""
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self.wake.set)

        outbox.add_listener(wake)
        log.info("webhook worker %s started", self.name)
        try:
            async with new_client() as client:
                while not stop.is_set():
                    self.wake.clear()
                    try:
                        busy = await self.run_once(client)
                    except Exception:  # a database hiccup must not end the worker
                        log.exception("webhook worker round failed")
                        busy = 0
                    if busy:
                        continue
                    waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
                    await asyncio.wait(
                        waiters, timeout=self.settings.webhook_poll_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            outbox.remove_listener(wake)
            log.info("webhook worker %s stopped", self.name)


def new_client() -> httpx.AsyncClient:
    """No redirects followed, no proxy from the environment, no cookies kept."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=httpx.Limits(max_connections=200))
