"""The hot path: a keyless GET for a kept public answer, answered at the outermost layer in one function.

Such an answer (see `caching.ServeKept`) was made before routing, but only after the eight layers in front
of `ServeKept` had each read the request's headers again and wrapped `send` once more. `HotPath` sits in
front of them all and, for a request each of them would let through to a kept answer, does what each does
for it by calling that layer's own code, in the layers' order (`FOLDED`):

    SecurityHeaders        `add_headers(SECURITY_HEADERS)` on the answer
    RequestContext         `request_refusal` (not taken: the layers refuse it), an `Exchange` (request id,
                           in-flight gauge, metrics, access log)
    ProblemCORSMiddleware  its `send` marks the answer (`Vary: Origin`; an allowed origin's headers)
    RequestsInFlightLimit  `InFlight.refusal` (not taken), `admit` and `leave`
    BodySizeLimit          `declared_over` (not taken: the layer answers 413)
    ApiKeyAuth             a request with `X-API-Key` is not taken; the caller is anonymous
    RateLimit              `Budgets.charge` (a spent budget's 429 is answered here, as the layer would),
                           `Charge.mark`; the answer is public, so the caller's standing is read only for
                           a refusal
    KeyRequired            its `requirement` (not taken where the operation needs a key)
    ServeKept              `kept_answer`

Anything else (another method, a key, anything a layer would refuse or divert, no kept answer) goes through
the layers as before. `create_app` checks that the layers it folds are the ones in front of `ServeKept`, in
this order, so a layer added there cannot be skipped; `HOT_PATH=false` turns it off."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.caching import ResponseCache, ServeKept, kept_answer
from app.api.middleware import (
    SECURITY_HEADERS,
    ApiKeyAuth,
    BodySizeLimit,
    InFlight,
    KeyRequired,
    ProblemCORSMiddleware,
    RequestsInFlightLimit,
    SecurityHeaders,
    add_headers,
    declared_over,
)
from app.api.principal import ANONYMOUS
from app.api.ratelimit import Budgets, Charge, RateLimit
from app.core.db import Database
from app.ops.requests import Exchange, RequestContext, request_refusal

# The layers whose part in a kept answer `HotPath` does, outermost first: the order `create_app` adds them.
FOLDED = (
    SecurityHeaders,
    RequestContext,
    ProblemCORSMiddleware,
    RequestsInFlightLimit,
    BodySizeLimit,
    ApiKeyAuth,
    RateLimit,
    KeyRequired,
    ServeKept,
)


def check_folded(middleware: Sequence[Middleware]) -> None:
    """`middleware` (an app's, outermost first) is `HotPath` in front of exactly the layers it folds."""
    layers: list[Any] = [entry.cls for entry in middleware]
    if layers[: len(FOLDED) + 1] != [HotPath, *FOLDED]:
        names = ", ".join(getattr(layer, "__name__", str(layer)) for layer in layers)
        raise RuntimeError(f"HotPath must stand in front of the layers it folds, in their order; found: {names}")


MARKED_ENTRIES = 4096  # answer heads as marked by the layers, kept (see HotPath._mark)


async def _sent(message: Message) -> None:
    """Where the CORS layer's marking of an answer sends it: the answer goes on from `HotPath` itself."""


class HotPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: ResponseCache,
        db: Database,
        in_flight: InFlight,
        max_body_bytes: int,
        budgets: Budgets,
        requirement: Callable[[Scope], str | None],
        cors: dict[str, Any],
        enabled: bool = True,
    ) -> None:
        self.app = app
        self.cache = cache
        self.db = db
        self.in_flight = in_flight
        self.max_body_bytes = max_body_bytes
        self.budgets = budgets
        self.requirement = requirement
        self.cors = ProblemCORSMiddleware(app, **cors)  # the CORS layer's own code, with the layer's settings
        self.enabled = enabled
        self._marked: dict[tuple, tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_headers = Headers(scope=scope)
        found = self._kept(scope, request_headers)
        if found is None:
            await self.app(scope, receive, send)
            return
        route, answer = found
        exchange = Exchange(scope, started=started)
        try:
            self.in_flight.admit(scope)
            try:
                charge = await self.budgets.charge(scope, standing=False)
                if charge is not None and not charge.allowed:
                    answer, charge = charge.refusal(), None  # sent as the rate limit sends it: unmarked
                else:
                    scope["route"] = route

                async def send_marked(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        await self._mark(message, charge, exchange, scope, request_headers)
                    await send(message)

                await answer(scope, receive, send_marked)
            finally:
                self.in_flight.leave(scope)
        finally:
            exchange.finish(scope)

    async def _mark(
        self, message: Message, charge: Charge | None, exchange: Exchange, scope: Scope, request_headers: Headers
    ) -> None:
        """Mark an answer's start as each layer does, innermost first. What the layers but the request
        context add to an allowed answer depends only on the answer's head and the request's `Origin`: it is
        made by the layers once, and kept (at most `MARKED_ENTRIES` of them)."""
        key = (
            (message["status"], tuple(message["headers"]), charge.item, self._origin(request_headers))
            if charge
            else None
        )
        if key is not None and (marked := self._marked.get(key)) is not None:
            inner, outer = marked
            message["headers"] = list(inner)
            exchange.mark(scope, message)
            message["headers"].extend(outer)
            return
        if charge is not None:
            charge.mark(message)
        await self.cors.send(message, _sent, request_headers)
        inner = list(message["headers"])
        exchange.mark(scope, message)
        with_id = list(message["headers"])
        add_headers(message, SECURITY_HEADERS, override=False)
        if key is not None and message["headers"][: len(with_id)] == with_id:  # the outer layer only added
            if len(self._marked) >= MARKED_ENTRIES:
                self._marked.clear()
            self._marked[key] = (inner, message["headers"][len(with_id) :])

    def _origin(self, request_headers: Headers) -> str | bool:
        """What of the request's `Origin` the CORS layer's marks depend on: the origin itself only where it
        is echoed (an allowed one from a list), else whether one was sent. So a client sending a new
        `Origin` each time (up to a 16 KiB head) makes no new entry unless the origin is allowed."""
        origin = request_headers.get("origin")
        if origin is not None and (
            self.cors.allow_credentials if self.cors.allow_all_origins else self.cors.is_allowed_origin(origin)
        ):
            return origin
        return origin is not None

    def _kept(self, scope: Scope, request_headers: Headers) -> tuple[Any, Any] | None:
        """The kept answer (its route, and the response), if every layer in front of `ServeKept` would let
        the request through to it; each check is the layer's own, in its order, and none has an effect."""
        if "x-api-key" in request_headers or request_refusal(scope) is not None:
            return None
        if self.in_flight.refusal(scope) is not None or declared_over(scope, self.max_body_bytes):
            return None
        scope.setdefault("state", {})["principal"] = ANONYMOUS
        if self.requirement(scope) is not None:
            return None
        return kept_answer(self.cache, self.db, scope)
