"""The HTTP/1.1 protocol `serve` runs: uvicorn's httptools protocol with two bounds it lacks.

- **Head size.** httptools buffers a header of any length (8 MiB were accepted), so a request's head
  (request line and headers) is counted as it arrives: past `max_header_bytes` the answer is a `431`
  problem and the connection is closed, before the head is complete (memory held: the limit plus one read
  of the socket) or, when one read held all of it, before the app sees the request.
- **Head time.** uvicorn starts no timer on a new connection and cancels its keep-alive timer at the first
  byte, so a client sending a byte now and then held a connection for ever. Here the head must be complete
  within `header_timeout` seconds of the connection opening (or of the previous answer, on a kept-alive
  connection): a head still arriving then gets a `408` problem, an idle connection is closed.

The body's time limit is the app's (`BodySizeLimit`), where the route that reads it is known.

`server_config` is how `serve` (and the tests that serve as it does) configures uvicorn: this protocol with
the settings' limits, and `X-Forwarded-For`/`-Proto` believed only from `FORWARDED_ALLOW_IPS` (the client
address, and so the anonymous budget and the in-flight share, comes from them)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.api.middleware import SECURITY_HEADERS
from app.core.config import Settings
from app.core.errors import PROBLEM_JSON, ApiError, HeadersTooLarge, RequestTimeout

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def _raw_problem(error: ApiError) -> bytes:
    body = orjson.dumps(error.document(error.detail))
    lines = [f"HTTP/1.1 {error.status} ".encode() + _REASONS[error.status]]
    headers = {"content-type": PROBLEM_JSON, "content-length": str(len(body)), "connection": "close"}
    headers.update(SECURITY_HEADERS)
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def too_large(max_header_bytes: int) -> HeadersTooLarge:
    return HeadersTooLarge(f"The request line and headers may not exceed {max_header_bytes} bytes.")


def head_size(url: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """The head's size as sent, near enough: the URL, and each header's name, value, ': ' and line end."""
    return len(url) + sum(len(name) + len(value) + 4 for name, value in headers)


class BoundedConfig(uvicorn.Config):
    """uvicorn's configuration with the head's time limit; its size limit is uvicorn's own setting for it
    (`h11_max_incomplete_event_size`, which the h11 protocol applies and httptools ignores)."""

    def __init__(self, *args: Any, header_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.max_header_bytes: int = config.h11_max_incomplete_event_size or 16 * 1024
        self.header_timeout: float = getattr(config, "header_timeout", 10.0)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._awaiting_head = False

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._awaiting_head = True
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, error: ApiError) -> None:
        self._stop_head_timer()
        self._awaiting_head = False
        if not self.transport.is_closing():
            self.transport.write(_raw_problem(error))
            self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._awaiting_head or self.transport.is_closing():
            return
        if self._head_bytes == 0:  # idle: nothing to answer
            self.transport.close()
            return
        self._refuse(RequestTimeout(f"The request's head did not arrive within {self.header_timeout:g} seconds."))

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._awaiting_head and self._head_bytes > self.max_header_bytes:
            self._refuse(too_large(self.max_header_bytes))

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self._awaiting_head = False
        if head_size(self.url, self.headers) <= self.max_header_bytes:
            super().on_headers_complete()
            return
        app, self.app = self.app, _refusing_app(too_large(self.max_header_bytes))
        try:  # the request is answered as any other (uvicorn sends it), by an app that reads none of it
            super().on_headers_complete()
        finally:
            self.app = app

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # idle now (no pipelined request started)
            self._await_head()


def _refusing_app(error: ApiError):
    async def refuse(scope: Any, receive: Any, send: Any) -> None:
        response = error.response()
        response.headers["Connection"] = "close"
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        await response(scope, receive, send)

    return refuse


def server_config(app: Any, settings: Settings, *, host: str, port: int, workers: int = 1) -> uvicorn.Config:
    """How `serve` runs `app` (an ASGI app or its import string); tests serve through the same."""
    return BoundedConfig(
        app,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        http=BoundedHttpToolsProtocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        header_timeout=settings.header_timeout_seconds,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=10,
        access_log=False,  # the app writes its own JSON request log (app.ops.requests)
    )
