"""The delivery worker: sends the outbox's pending deliveries, in seq order per subscription, many
subscriptions at once, and retries failures on the Standard Webhooks schedule.

The worker claims due subscriptions with their due deliveries (`queue.claim`: one transaction for many),
sends each subscription's deliveries one after another in a task of its own, with at most `concurrency`
sends in flight across all of them (connections kept alive per target, `sender.Clients`), and records what
finished (`queue.record`: one transaction for every result that is ready, leases released in it). It claims
again as soon as it has room and work is due, without waiting for slower subscriptions: a receiver that
takes its full timeout holds up its own events only. Inside `serve` it runs smaller (it shares the event
loop with the reads); `python -m app deliver` runs larger, and several share the work. What it costs the
reads is the deliveries' CPU, not the bound (BENCHMARKS.md, "Webhook delivery"): a smaller bound only
sends later."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread

from app.core.config import Settings
from app.core.db import Database
from app.ops.metrics import WEBHOOK_DELIVERIES, WEBHOOK_LAG
from app.webhooks import outbox, queue
from app.webhooks.queue import DELIVER_SIZE, Size
from app.webhooks.sender import Attempt, Clients, send
from app.webhooks.signing import Signer
from app.webhooks.ssrf import Target, UnsafeTarget, check_url, is_literal

log = logging.getLogger("app.webhooks")

SUBSCRIPTIONS = outbox.SUBSCRIPTIONS
DELIVERIES = outbox.DELIVERIES
PENDING, SUCCEEDED, FAILED = outbox.PENDING, outbox.SUCCEEDED, outbox.FAILED

# Seconds to wait before each attempt, as the specification suggests: at once, 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h. After the last one fails, the subscription is disabled.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1


RECORD_WAIT = 0.05  # seconds a finished result may wait to be recorded with others

Result = tuple[dict[str, Any], Attempt, float]  # (the delivery, what its attempt did, when it ended)


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


def signing_secrets(subscription: dict[str, Any], now: float) -> list[str]:
    found = [subscription["secret"]]
    until = subscription.get("previous_secret_until")
    if subscription.get("previous_secret") and until is not None and until > now:
        found.append(subscription["previous_secret"])
    return found


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        name: str | None = None,
        size: Size = DELIVER_SIZE,
        per_subscription: int = 100,
    ) -> None:
        self.db = db
        self.settings = settings
        self.name = name or f"worker-{secrets.token_hex(4)}"
        self.subscriptions = size.subscriptions
        self.concurrency = size.concurrency
        self.per_subscription = per_subscription  # deliveries of one subscription per claim
        self.timeout = settings.webhook_timeout_seconds
        self.lease = 3 * self.timeout + 5
        self.wake = asyncio.Event()

    # ---- what an attempt means ----------------------------------------------------------------------

    def outcome_of(self, delivery: dict[str, Any], attempt: Attempt, now: float) -> tuple[str, dict, str | None]:
        """(outcome, the delivery's new values (queue.OUTCOME_COLUMNS), why to disable the webhook or None)."""
        attempts = delivery["attempts"] + 1
        values: dict[str, Any] = {
            "status": PENDING,
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": attempt.status_code,
            "last_error": attempt.error,
            "next_attempt_at": delivery["next_attempt_at"],
            "delivered_at": None,
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

    def record(self, finished: list[tuple[str, list[Result]]]) -> int:
        """Store what the sends of `finished` subscriptions did and release them, in one transaction."""
        updates, outcomes, disable = [], [], {}
        for subscription_id, results in finished:
            for delivery, attempt, now in results:
                outcome, values, reason = self.outcome_of(delivery, attempt, now)
                updates.append({"_id": delivery["id"], **values})
                outcomes.append((outcome, delivery, now))
                if reason is not None:
                    disable[subscription_id] = (delivery["id"], reason, iso(now))
        queue.record(self.db, self.name, updates, disable, [sid for sid, _ in finished])
        for outcome, delivery, now in outcomes:
            WEBHOOK_DELIVERIES.labels(outcome).inc()
            if outcome == "success" and delivery["seq"] is not None:
                WEBHOOK_LAG.observe(max(0.0, now - delivery["created_at"]))
        return len(updates)

    # ---- sending ------------------------------------------------------------------------------------

    async def check(self, url: str) -> Target | Attempt:
        """The target, checked now (its name resolved again), or a refused attempt."""
        allow = self.settings.webhook_allow_private_targets
        try:
            if is_literal(url):  # nothing to resolve: no thread needed
                return check_url(url, allow_private=allow)
            return await to_thread.run_sync(lambda: check_url(url, allow_private=allow))
        except UnsafeTarget as exc:
            return Attempt(status_code=None, error=f"refused: the URL {exc}")

    async def send_in_order(
        self,
        clients: Clients,
        slots: asyncio.Semaphore,
        subscription: dict[str, Any],
        deliveries: list[dict[str, Any]],
        deadline: float,
    ) -> list[Result]:
        """One subscription's deliveries, one after another, until one fails or the lease runs low. The
        target is checked once, here, and every send goes to the addresses checked. The secrets are keyed
        once; during a rotation the previous one signs for as long as it is valid."""
        target = await self.check(subscription["url"])
        signers: dict[tuple[str, ...], Signer] = {}
        results: list[Result] = []
        for delivery in deliveries:
            if isinstance(target, Attempt):
                attempt = target
            else:
                now = time.time()
                keys = tuple(signing_secrets(subscription, now))
                signer = signers.get(keys) or signers.setdefault(keys, Signer(keys))
                async with slots:
                    attempt = await send(
                        clients,
                        subscription["url"],
                        target,
                        signer,
                        delivery["msg_id"],
                        delivery["body"],
                        timeout=self.timeout,
                    )
            results.append((delivery, attempt, time.time()))
            if not attempt.ok or time.time() >= deadline:
                break
        return results

    def claim(self, now: float, room: int) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        return queue.claim(
            self.db,
            self.name,
            now,
            lease=self.lease,
            subscriptions=room,
            per_subscription=self.per_subscription,
        )

    def _start(self, clients: Clients, slots: asyncio.Semaphore, claimed_at: float, work) -> dict[asyncio.Task, str]:
        deadline = claimed_at + self.lease - self.timeout - 2
        return {
            asyncio.ensure_future(self.send_in_order(clients, slots, subscription, deliveries, deadline)): (
                subscription["id"]
            )
            for subscription, deliveries in work
        }

    async def run_once(self, clients: Clients) -> int:
        """One round: claim what is due, send it, record it. Returns the number of attempts made."""
        now = time.time()
        work = await to_thread.run_sync(self.claim, now, self.subscriptions)
        if not work:
            return 0
        tasks = self._start(clients, asyncio.Semaphore(self.concurrency), now, work)
        results = await asyncio.gather(*tasks)
        return await to_thread.run_sync(self.record, list(zip(tasks.values(), results, strict=True)))

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: claim while there is room and work, record what finished; when idle, wait for
        a local write's signal or the poll. On stop, the sends under way finish and are recorded.

        Transactions are what a worker pays for most, so it gathers: it records when nothing is left running,
        when half of what it holds has finished, or `RECORD_WAIT` after the first result; and it claims when
        half of its room is free (or it holds nothing), not for every subscription that finishes."""
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self.wake.set)

        outbox.add_listener(wake)
        log.info("webhook worker %s started", self.name)
        running: dict[asyncio.Task, str] = {}
        finished: list[tuple[str, list[Result]]] = []
        first_finished = 0.0
        half = max(1, self.subscriptions // 2)
        slots = asyncio.Semaphore(self.concurrency)
        look = True  # whether to look for work (at start, on a wake, after a record, at each poll)
        try:
            async with Clients(per_target=self.concurrency) as clients:
                while running or finished or not stop.is_set():
                    for task in [t for t in running if t.done()]:
                        first_finished = first_finished if finished else time.monotonic()
                        finished.append((running.pop(task), self._results(task)))
                    waited = time.monotonic() - first_finished
                    if finished and (not running or len(finished) >= half or waited >= RECORD_WAIT or stop.is_set()):
                        await self._guarded(to_thread.run_sync(self.record, finished), 0)
                        finished = []
                        look = True  # leases released, and deliveries may have come in meanwhile
                        continue
                    room = self.subscriptions - len(running) - len(finished)
                    if look and not stop.is_set() and (room >= half or not (running or finished)):
                        look = False
                        self.wake.clear()
                        now = time.time()
                        work = await self._guarded(to_thread.run_sync(self.claim, now, room), [])
                        running.update(self._start(clients, slots, now, work))
                        look = len(work) == room  # took all it could: there may be more
                        continue
                    signals = [asyncio.ensure_future(self.wake.wait())]
                    if not stop.is_set():
                        signals.append(asyncio.ensure_future(stop.wait()))
                    if finished:
                        timeout: float | None = max(0.0, RECORD_WAIT - waited)
                    else:
                        timeout = None if running else self.settings.webhook_poll_seconds
                    await asyncio.wait([*running, *signals], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    for signal in signals:
                        signal.cancel()
                    if self.wake.is_set() or not (running or finished):  # a local write, or the poll's time
                        self.wake.clear()
                        look = True
        finally:
            outbox.remove_listener(wake)
            for task in running:
                task.cancel()
            log.info("webhook worker %s stopped", self.name)

    @staticmethod
    def _results(task: asyncio.Task) -> list[Result]:
        if task.exception() is not None:  # not a failed send (those are results): a fault, released unsent
            log.error("webhook send task failed", exc_info=task.exception())
            return []
        return task.result()

    @staticmethod
    async def _guarded(work: Awaitable[Any], fallback: Any) -> Any:
        """A database hiccup must not end the worker: logged, and what it held is retried after its lease."""
        try:
            return await work
        except Exception:
            log.exception("webhook worker round failed")
            return fallback


def new_client() -> Clients:
    """The clients a send goes through (`async with new_client() as clients`)."""
    return Clients()
