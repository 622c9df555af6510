"""Pure ASGI middleware: security headers on every response (errors too), the body-size limit enforced
while the body streams in (a 20 MB upload is refused without being buffered), and the caller's API key
resolved once per request (an unknown or revoked key is a 401 on any path)."""

from __future__ import annotations

from collections.abc import Callable

from anyio import to_thread
from sqlalchemy import Connection
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.principal import ANONYMOUS, Principal
from app.core.errors import ApiError, Overloaded, PayloadTooLarge, Unauthorized

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def adding_headers(send: Send, headers: dict[str, str], *, override: bool = True) -> Send:
    """`send`, with `headers` added to the response's start (kept where the response set them, unless
    `override`)."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            response_headers = MutableHeaders(scope=message)
            for name, value in headers.items():
                if override:
                    response_headers[name] = value
                else:
                    response_headers.setdefault(name, value)
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


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = PayloadTooLarge(
            f"The request body is over {self.max_bytes} bytes.", headers={"Connection": "close"}
        ).response()
        await response(scope, receive, send)


class ApiKeyAuth:
    """Puts the caller in `scope["state"]["principal"]`: `authenticate(conn, key)` names it, or None."""

    def __init__(self, app: ASGIApp, authenticate: Callable[[Connection, str], Principal | None]) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = Headers(scope=scope).get("x-api-key")
        principal = ANONYMOUS
        if presented is not None:
            db = scope["app"].state.db

            def lookup():
                with db.read() as conn:
                    return self.authenticate(conn, presented)

            principal = await to_thread.run_sync(lookup)
            if principal is None:
                response = Unauthorized(
                    "The X-API-Key is unknown or revoked.", headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
                ).response()
                await response(scope, receive, send)
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class RequestsInFlightLimit:
    """Past `limit` requests at once in this worker, answer 503 at once (with `Retry-After`) rather than let
    the queue, and every waiting client's latency, grow without bound. The liveness probe and metrics are
    never refused (an overloaded worker is busy, not dead); the readiness probe may be, which is what it is
    for."""

    EXEMPT_PATHS = frozenset({"/healthz", "/metrics"})

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            response = Overloaded(
                f"This worker is answering {self.limit} requests already; try again in a second.",
                headers={"Retry-After": "1"},
            ).response()
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
