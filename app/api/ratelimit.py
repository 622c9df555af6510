"""Rate limits as pure ASGI middleware, with the `limits` library's sliding window counter: per key for partners and
editors, per client address for anonymous callers. Responses say where the caller stands
(`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`); past the limit the answer is a 429 with
`Retry-After`.

What a shared cache (a CDN, nginx) may store must be true for every caller it is replayed to. So a
response to a keyed request is `private` whatever the route said (its budget is that key's), and a public
response, which a shared cache keeps and replays to other callers, carries only the budget's size
(`RateLimit-Limit`, `RateLimit-Policy`: the same for every anonymous caller), never one caller's
`RateLimit-Remaining` and `RateLimit-Reset`.

The counters live in the storage `RATE_LIMIT_STORAGE_URL` names: in the process by default, in Redis
when several workers must share one budget. An unknown or revoked key is charged to its address
(`ApiKeyAuth`, with `Budgets.charge_failure`)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.principal import ANONYMOUS, Principal
from app.api.principal import Scope as KeyScope
from app.core.config import Settings
from app.core.errors import TooManyRequests

log = logging.getLogger("app.ratelimit")

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
KEY_PREFIX = "health-content-rl"
RETRY_SHARED_SECONDS = 5.0  # while degraded, how often the shared storage is tried again
SWEEP_SECONDS = 1.0  # how often expired in-process counters are dropped (see MemoryCounters)
Standing = tuple[bool, int | None, int | None]  # allowed; requests left, seconds until one frees (if read)


class MemoryCounters(MemoryStorage):
    """The library's in-process counters, their expired entries swept on the counting thread at most every
    `SWEEP_SECONDS`. The library sweeps in a timer thread that it starts anew, 10 ms after the last one
    ended, for as long as requests come: a thread started, and waited for, every few milliseconds of
    traffic. What is counted is the same: a counter is dropped once expired whenever it is read; the sweep
    only frees the memory of counters no one reads again."""

    def __init__(self) -> None:
        super().__init__()
        self._swept_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's hook, called before each count
        if time.monotonic() - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = time.monotonic()
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class Budgets:
    """The counters every limit spends from, shared by the rate limit and the key check (which charges
    failed authentications to the caller's address). When the shared storage (Redis) cannot be reached,
    counting goes on in this worker's memory (each worker then allows the budget on its own) with one
    warning; the shared storage is tried again every few seconds, and its return is logged once too."""

    def __init__(self, settings: Settings) -> None:
        self.items: dict[KeyScope | None, RateLimitItem] = {
            None: parse(settings.rate_limit_anonymous),
            KeyScope.partner: parse(settings.rate_limit_partner),
            KeyScope.editor: parse(settings.rate_limit_editor),
            KeyScope.ops: parse(settings.rate_limit_partner),
        }
        url = settings.rate_limit_storage_url
        self.in_process = url.startswith("memory://")
        options: dict[str, Any] = {} if self.in_process else {"key_prefix": KEY_PREFIX, "wrap_exceptions": True}
        self.storage = MemoryCounters() if self.in_process else storage_from_string(url, **options)
        # A sliding window counter costs the same at any budget (a moving window keeps, and shifts, one
        # entry per request) and has no burst at window edges (a fixed window doubles at each boundary).
        self.shared = SlidingWindowCounterRateLimiter(self.storage)
        self.local = SlidingWindowCounterRateLimiter(MemoryCounters())
        self.degraded = False
        self._retry_at = 0.0

    def _take(self, limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, who: str) -> Standing:
        allowed = limiter.hit(item, who)
        return (allowed, *self._standing(limiter, item, who))

    def _hit(self, limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, who: str) -> Standing:
        """`_take`, reading the window's stats only for a refusal (the one answer that must tell them)."""
        if limiter.hit(item, who):
            return True, None, None
        return (False, *self._standing(limiter, item, who))

    def _standing(self, limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, who: str) -> tuple[int, int]:
        stats = limiter.get_window_stats(item, who)
        return max(0, stats.remaining), max(0, math.ceil(stats.reset_time - time.time()))

    def _spent(self, limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, who: str) -> bool:
        return not limiter.test(item, who)

    async def _run(self, operation: Callable[..., Any], item: RateLimitItem, who: str) -> Any:
        if self.in_process:
            return operation(self.shared, item, who)
        if self.degraded and time.monotonic() >= self._retry_at:
            if await to_thread.run_sync(self.storage.check):
                self.degraded = False
                log.warning("rate-limit storage reachable again; limits are shared across workers again")
            else:
                self._retry_at = time.monotonic() + RETRY_SHARED_SECONDS
        if not self.degraded:
            try:  # a network round trip: kept off the event loop
                return await to_thread.run_sync(operation, self.shared, item, who)
            except StorageError as exc:
                self.degraded = True
                self._retry_at = time.monotonic() + RETRY_SHARED_SECONDS
                log.warning(
                    "rate-limit storage unavailable (%s); counting per worker until it is back",
                    type(exc.storage_error).__name__,
                )
        return operation(self.local, item, who)

    async def charge(self, scope: Scope, *, standing: bool = True) -> Charge | None:
        """Spend one request from the caller's budget (None on a path no budget counts). Where the caller
        stands (requests left, seconds until the window frees one) is read at once, as the answer tells it
        to keyed callers and on non-public answers; without `standing`, only for a refusal: for an answer
        known to be public and a caller without a key, which is told only the budget's size."""
        if scope["path"] in EXEMPT_PATHS:
            return None
        principal: Principal = scope.get("state", {}).get("principal", ANONYMOUS)
        if principal.scope is not None:
            item, who = self.items[principal.scope], f"key:{principal.prefix}"
        else:
            item, who = self.items[None], f"addr:{client_address(scope)}"
        allowed, remaining, reset = await self._run(self._take if standing else self._hit, item, who)
        return Charge(item, who, allowed, remaining, reset)

    async def failures_spent(self, address: str) -> bool:
        """Whether this address's failed authentications have filled a window of the anonymous budget."""
        return await self._run(self._spent, self.items[None], f"authfail:{address}")

    async def charge_failure(self, address: str) -> None:
        """A failed authentication: spent from the address's anonymous budget, and counted apart."""
        await self._run(self._hit, self.items[None], f"addr:{address}")
        await self._run(self._hit, self.items[None], f"authfail:{address}")


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


@dataclass(slots=True)
class Charge:
    """One request's spending: whether its budget allowed it, and where its caller stands (None where it
    was not read: see `Budgets.charge`)."""

    item: RateLimitItem
    who: str
    allowed: bool
    remaining: int | None
    reset: int | None

    @property
    def keyed(self) -> bool:
        return self.who.startswith("key:")

    def size_headers(self) -> dict[str, str]:
        """The budget's size: the same for every caller of a kind, so all a shared cache may replay."""
        return {
            "RateLimit-Limit": str(self.item.amount),
            "RateLimit-Policy": f"{self.item.amount};w={self.item.get_expiry()}",
        }

    def headers(self) -> dict[str, str]:
        """The budget's size and where the caller stands."""
        if self.remaining is None or self.reset is None:
            raise RuntimeError("the caller's standing was not read for an answer that tells it")
        size = self.size_headers()
        return {
            "RateLimit-Limit": size["RateLimit-Limit"],
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": size["RateLimit-Policy"],
        }

    def refusal(self) -> Response:
        """The 429 of a spent budget."""
        retry = str(max(1, self.reset or 0))
        return TooManyRequests(
            f"This {'key' if self.keyed else 'address'} may make {self.item.amount} "
            f"requests per {self.item.get_expiry()} seconds; try again in {retry} s.",
            headers={**self.headers(), "Retry-After": retry},
        ).response()

    def mark(self, message: Message) -> None:
        """An allowed request's answer, as its caller is sent it: a public answer to a keyed caller made
        private, and the budget's headers (a public answer only the size of the budget, which is the same
        for every caller its shared caches replay it to)."""
        response_headers = MutableHeaders(scope=message)
        cache_control = response_headers.get("cache-control", "")
        shared = cache_control.startswith("public")
        if shared and self.keyed:
            response_headers["Cache-Control"] = "private" + cache_control.removeprefix("public")
            shared = False
        for name, value in (self.size_headers() if shared else self.headers()).items():
            response_headers[name] = value


class RateLimit:
    """Must run inside ApiKeyAuth, which puts the caller in scope["state"]["principal"]."""

    def __init__(self, app: ASGIApp, budgets: Budgets) -> None:
        self.app = app
        self.budgets = budgets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        charge = await self.budgets.charge(scope) if scope["type"] == "http" else None
        if charge is None:
            await self.app(scope, receive, send)
        elif not charge.allowed:
            await charge.refusal()(scope, receive, send)
        else:

            async def send_for_caller(message: Message) -> None:
                if message["type"] == "http.response.start":
                    charge.mark(message)
                await send(message)

            await self.app(scope, receive, send_for_caller)
