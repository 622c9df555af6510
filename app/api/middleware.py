"""Pure ASGI middleware: security headers on every response (errors too), the body's size and time limits
enforced while it streams in (a 20 MB upload is refused without being buffered, a slow one after a
deadline), the caller's API key resolved once per request (an unknown or revoked key is a 401 on any path,
charged to the address), a keyless request for a keyed operation refused before its body is read, and
the requests in flight capped per worker and per client address."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from anyio import to_thread
from sqlalchemy import Connection
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.principal import ANONYMOUS, Principal
from app.api.ratelimit import Budgets, client_address
from app.core.errors import ApiError, Overloaded, PayloadTooLarge, RequestTimeout, TooManyRequests, Unauthorized

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def add_headers(message: Message, headers: dict[str, str], *, override: bool = True) -> None:
    """`headers` added to a response's start message (kept where the response set them, unless `override`)."""
    response_headers = MutableHeaders(scope=message)
    for name, value in headers.items():
        if override:
            response_headers[name] = value
        else:
            response_headers.setdefault(name, value)


def adding_headers(send: Send, headers: dict[str, str], *, override: bool = True) -> Send:
    """`send`, with `headers` added to the response's start (see `add_headers`)."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            add_headers(message, headers, override=override)
        await send(message)

    return send_with_headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        await self.app(scope, receive, adding_headers(send, SECURITY_HEADERS, override=False))


class CorsRefused(ApiError):
    status = 400
    title = "CORS request refused"
    slug = "cors-refused"


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as a problem document (it answers plain text)
    that says what was refused and what is allowed."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ").split(", ")
        allowed = {
            "origin": "this origin is not allowed",
            "method": f"the method is not allowed (allowed: {', '.join(sorted(self.allow_methods))})",
            "headers": f"a requested header is not allowed (allowed: {', '.join(sorted(self.allow_headers))})",
            "private-network": "private network access is not allowed",
        }
        detail = "The cross-origin request is refused: " + "; ".join(allowed.get(r, r) for r in refused) + "."
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in ("content-type", "content-length")
        }
        return CorsRefused(detail, headers=headers).response()


class BodyTooLarge(HTTPException):
    """An HTTPException so the framework, which turns other errors raised while it reads a body into a 400,
    lets it through to the problem handler as the 413 it is."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is over {max_bytes} bytes.", headers={"Connection": "close"})


class BodyTooSlow(HTTPException):
    """The body did not arrive in time: a 408, through the problem handler like `BodyTooLarge`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408, f"The request body did not arrive within {seconds:g} seconds.", headers={"Connection": "close"}
        )


def declared_over(scope: Scope, max_bytes: int) -> bool:
    """Whether the request says its body is over `max_bytes` (`BodySizeLimit` refuses it before reading)."""
    for name, value in scope["headers"]:  # the first `Content-Length`, as `Headers.get` reads it
        if name == b"content-length":
            declared = value.decode("latin-1")
            return declared.isdigit() and int(declared) > max_bytes
    return False


class BodySizeLimit:
    """A body is read only as far as `max_bytes` (413) and only until `timeout` seconds after the request
    began (408, and the connection is closed): a client sending a byte now and then holds a worker's
    request slot for `timeout` at most."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_over(scope, self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0
        deadline = anyio.current_time() + self.timeout
        complete = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # once the body is in, waiting for the client to leave is not bounded here
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()) as waiting:
                message = await receive()
            if waiting.cancelled_caught:
                raise BodyTooSlow(self.timeout)
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)
        except BodyTooSlow as exc:
            await RequestTimeout(str(exc.detail), headers={"Connection": "close"}).response()(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = PayloadTooLarge(
            f"The request body is over {self.max_bytes} bytes.", headers={"Connection": "close"}
        ).response()
        await response(scope, receive, send)


UNAUTHORIZED = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}


class ApiKeyAuth:
    """Puts the caller in `scope["state"]["principal"]`: `authenticate(conn, key)` names it, or None.

    An unknown or revoked key is a 401 that is charged to the caller's address (its anonymous budget, and a
    count of failures); once an address's failures fill a window of that budget, its keyed requests are
    429s until the window frees, without a database lookup."""

    def __init__(
        self, app: ASGIApp, authenticate: Callable[[Connection, str], Principal | None], budgets: Budgets
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.budgets = budgets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = Headers(scope=scope).get("x-api-key")
        principal = ANONYMOUS
        if presented is not None:
            address = client_address(scope)
            if await self.budgets.failures_spent(address):
                item = self.budgets.items[None]
                retry = str(item.get_expiry())
                response = TooManyRequests(
                    f"Too many requests from this address carried an unknown or revoked key; try again in {retry} s.",
                    headers={"Retry-After": retry},
                ).response()
                await response(scope, receive, send)
                return
            db = scope["app"].state.db

            def lookup():
                with db.read() as conn:
                    return self.authenticate(conn, presented)

            principal = await to_thread.run_sync(lookup)
            if principal is None:
                await self.budgets.charge_failure(address)
                response = Unauthorized("The X-API-Key is unknown or revoked.", headers=UNAUTHORIZED).response()
                await response(scope, receive, send)
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class KeyRequired:
    """A request for an operation that needs a key, made without one, is a 401 here, before its body is
    read (the route would read the whole body, at the client's pace, before its own check).
    `requirement(scope)` is the route's 401 detail, or None where no key is needed."""

    def __init__(self, app: ASGIApp, requirement: Callable[[Scope], str | None]) -> None:
        self.app = app
        self.requirement = requirement

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("state", {}).get("principal", ANONYMOUS).scope is None:
            detail = self.requirement(scope)
            if detail is not None:
                await Unauthorized(detail, headers=UNAUTHORIZED).response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class InFlight:
    """Requests being answered by this worker, in all and per client address (what `/readyz` reports), and
    what `RequestsInFlightLimit` decides with them. The liveness probe is never refused (an overloaded
    worker is busy, not dead) nor counted; the readiness probe and metrics are not refused for the worker's
    being full (the readiness probe says so itself), only for their address's share."""

    EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(self, limit: int, per_client: int) -> None:
        self.limit = limit
        self.per_client = per_client
        self.count = 0
        self.by_client: dict[str, int] = {}

    @property
    def saturated(self) -> bool:
        return self.count >= self.limit

    def refusal(self, scope: Scope) -> Response | None:
        """The answer to a request that cannot be taken now (503 when the worker is full, 429 when its
        address has its share in flight), or None."""
        path = scope["path"]
        if path == "/healthz":
            return None
        if path not in self.EXEMPT_PATHS and self.count >= self.limit:
            return Overloaded(
                f"This worker is answering {self.limit} requests already; try again in a second.",
                headers={"Retry-After": "1"},
            ).response()
        if self.by_client.get(client_address(scope), 0) >= self.per_client:
            return TooManyRequests(
                f"This address has {self.per_client} requests in flight already; try again in a second.",
                headers={"Retry-After": "1"},
            ).response()
        return None

    def admit(self, scope: Scope) -> None:
        """Count a request in, once `refusal` has let it through; `leave` counts it out."""
        path = scope["path"]
        if path == "/healthz":
            return
        address = client_address(scope)
        self.by_client[address] = self.by_client.get(address, 0) + 1
        if path not in self.EXEMPT_PATHS:
            self.count += 1

    def leave(self, scope: Scope) -> None:
        path = scope["path"]
        if path == "/healthz":
            return
        if path not in self.EXEMPT_PATHS:
            self.count -= 1
        address = client_address(scope)
        left = self.by_client[address] - 1
        if left:
            self.by_client[address] = left
        else:
            del self.by_client[address]


class RequestsInFlightLimit:
    """Past `limit` requests at once in this worker, answer 503 at once (with `Retry-After`) rather than let
    the queue, and every waiting client's latency, grow without bound; past `per_client` from one address,
    429, so that one address cannot take the others' share (see `InFlight`)."""

    EXEMPT_PATHS = InFlight.EXEMPT_PATHS

    def __init__(self, app: ASGIApp, state: InFlight) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.state.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        self.state.admit(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.leave(scope)
