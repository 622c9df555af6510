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
when several workers must share one budget."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from anyio import to_thread
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.principal import ANONYMOUS, Principal
from app.api.principal import Scope as KeyScope
from app.core.config import Settings
from app.core.errors import TooManyRequests

log = logging.getLogger("app.ratelimit")

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
KEY_PREFIX = "health-content-rl"


class RateLimit:
    """Must run inside ApiKeyAuth, which puts the caller in scope["state"]["principal"]."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.budgets: dict[KeyScope | None, RateLimitItem] = {
            None: parse(settings.rate_limit_anonymous),
            KeyScope.partner: parse(settings.rate_limit_partner),
            KeyScope.editor: parse(settings.rate_limit_editor),
        }
        url = settings.rate_limit_storage_url
        self.in_process = url.startswith("memory://")
        options: dict[str, Any] = {} if self.in_process else {"key_prefix": KEY_PREFIX, "wrap_exceptions": True}
        self.storage = storage_from_string(url, **options)
        # A sliding window counter costs the same at any budget (a moving window keeps, and shifts, one
        # entry per request) and has no burst at window edges (a fixed window doubles at each boundary).
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    def _identity(self, scope: Scope) -> tuple[RateLimitItem, str]:
        principal: Principal = scope.get("state", {}).get("principal", ANONYMOUS)
        if principal.scope is not None:
            return self.budgets[principal.scope], f"key:{principal.prefix}"
        client = scope.get("client")
        return self.budgets[None], f"addr:{client[0] if client else 'unknown'}"

    def _take(self, item: RateLimitItem, who: str) -> tuple[bool, int, int]:
        """Spend one request: (allowed, remaining, seconds until the window frees a request)."""
        allowed = self.limiter.hit(item, who)
        stats = self.limiter.get_window_stats(item, who)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return allowed, max(0, stats.remaining), reset

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        item, who = self._identity(scope)
        try:
            if self.in_process:
                allowed, remaining, reset = self._take(item, who)
            else:  # a network round trip: keep it off the event loop
                allowed, remaining, reset = await to_thread.run_sync(self._take, item, who)
        except StorageError:
            # An unreachable counter store must not take the API down with it: serve, unmetered, and say so.
            log.warning("rate-limit storage unavailable; request served without a limit", exc_info=True)
            await self.app(scope, receive, send)
            return
        headers = {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }
        if not allowed:
            retry = str(max(1, reset))
            response = TooManyRequests(
                f"This {'key' if who.startswith('key:') else 'address'} may make {item.amount} "
                f"requests per {item.get_expiry()} seconds; try again in {retry} s.",
                headers={**headers, "Retry-After": retry},
            ).response()
            await response(scope, receive, send)
            return

        await self.app(scope, receive, _for_caller(send, headers, keyed=who.startswith("key:")))


SHARED_HEADERS = ("RateLimit-Limit", "RateLimit-Policy")  # the same for every caller of a kind


def _for_caller(send: Send, headers: dict[str, str], *, keyed: bool) -> Send:
    async def send_for_caller(message: Message) -> None:
        if message["type"] == "http.response.start":
            response_headers = MutableHeaders(scope=message)
            cache_control = response_headers.get("cache-control", "")
            shared = cache_control.startswith("public")
            if shared and keyed:
                response_headers["Cache-Control"] = "private" + cache_control.removeprefix("public")
                shared = False
            for name in SHARED_HEADERS if shared else headers:
                response_headers[name] = headers[name]
        await send(message)

    return send_for_caller
