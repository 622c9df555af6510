"""Per-request plumbing, outermost but for the security headers: a request id (a sane incoming
`X-Request-ID` is kept, otherwise one is made; either way it is returned), a cap on URL length, a refusal
of malformed UTF-8 and of characters XML 1.0 cannot hold (NUL, other C0 controls, U+FFFE) in the query
and in JSON bodies (see app.core.text), one JSON log line per request, and the Prometheus request
metrics. The `X-API-Key` is never logged: only its public prefix."""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import re
import secrets
import sys
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import InvalidHost, InvalidQuery, NotFoundError, UriTooLong, ValidationFailed
from app.core.text import NOT_XML, describe, first_unsafe, xml_safe
from app.ops.metrics import DURATION, IN_FLIGHT, REQUESTS
from app.ops.routing import allowed_methods

MAX_URL_BYTES = 8192  # path plus query string; browsers and proxies rarely pass more anyway
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# A process's own random prefix and a counter: unique across workers and restarts, and, unlike uuid4,
# no system call per request.
_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"


REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
# A host name (letters, digits, '-', '.', '_'; at most 253) or an IPv6 literal, and an optional port.
HOST = re.compile(rb"^(?:[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PLAIN_QUERY = re.compile(rb"[^%\x00-\x1f\x7f-\xff]*")

access_log = logging.getLogger("app.access")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy for log shippers, impossible to forge with a newline in a path."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


JsonFormatter.converter = time.gmtime


def configure_access_log(level: str = "info") -> None:
    """Send request logs to stderr as JSON lines (once per process)."""
    if not any(getattr(h, "_access_json", False) for h in access_log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._access_json = True  # type: ignore[attr-defined]
        access_log.addHandler(handler)
    access_log.setLevel(level.upper())
    access_log.propagate = False


class UnsafeJson(json.JSONDecodeError):
    """A JSON body the store cannot hold (lone surrogates, NUL) or too deeply nested; FastAPI turns a
    JSONDecodeError while reading the body into its usual 422, and RequestContext catches it otherwise."""


class UnsafeText(UnsafeJson):
    """A JSON body holding a string XML cannot hold (see app.core.text), with where it is."""

    def __init__(self, field: str, message: str, doc: str) -> None:
        super().__init__(message, doc, 0)
        self.field = field


# Only an escape (`\u0001`, `\b`, `\f`) or a raw U+FFFE/U+FFFF can put such a character in valid JSON: raw
# control characters in strings are invalid JSON, which orjson refuses anyway.
_MAYBE_UNSAFE = (b"\\", b"\xef\xbf\xbe", b"\xef\xbf\xbf")


def check_json_body(body: bytes) -> None:
    """orjson refuses lone surrogates and nesting past 1024 levels; characters XML 1.0 cannot hold (NUL and
    the other C0 controls, U+FFFE, U+FFFF) are refused here, naming the field that holds them."""
    if not body.strip():
        return
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnsafeJson(str(exc).split(":")[0], exc.doc, exc.pos) from None
    if any(marker in body for marker in _MAYBE_UNSAFE) and (found := first_unsafe(parsed)) is not None:
        path, message = found
        field = ".".join(str(part) for part in path) or None
        raise UnsafeText(field or "", message, body.decode("utf-8", "replace"))


def _is_json(scope: Scope) -> bool:
    media = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _guarded_receive(receive: Receive, state: dict[str, Any]) -> Receive:
    """Pass the body through as it streams; once all of it is in, check it (the size limit, further in, has
    already refused anything over max_body_bytes, so what is kept here is bounded)."""
    parts: list[bytes] = []

    async def receive_checked() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                try:
                    check_json_body(b"".join(parts))
                except UnsafeText as exc:  # the 422's handler names the field from here
                    state["unsafe_body"] = {"location": "body", "field": exc.field or None, "message": exc.msg}
                    raise
                finally:
                    parts.clear()
        return message

    return receive_checked


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def _host_problem(scope: Scope):
    """A problem response unless the request has one `Host` that names a host (HTTP/1.0 may have none)."""
    hosts = [value for name, value in scope["headers"] if name == b"host"]
    if len(hosts) > 1 or (hosts and not HOST.match(hosts[0])):
        return InvalidHost("The request needs exactly one Host header naming a host (and port).").response()
    return None


def _location(scope: Scope, location: str) -> str:
    """A redirect's `Location` as the app made it, unless it names the request's own host (the framework's
    trailing-slash redirect is made from the `Host` header): then relative to the configured base URL, or
    to this server."""
    host = Headers(scope=scope).get("host")
    for scheme in ("http", "https"):
        prefix = f"{scheme}://{host}"
        if host and location.startswith(prefix) and location[len(prefix) : len(prefix) + 1] in ("/", "?", ""):
            settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
            base = getattr(settings, "public_base_url", "").rstrip("/")
            return base + (location[len(prefix) :] or "/")
    return location


def _query_problem(scope: Scope):
    """A problem response when the URL is too long or carries NUL bytes or malformed UTF-8, else None."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    if len(raw_path) + len(query) > MAX_URL_BYTES:
        return UriTooLong(f"The path and query may not exceed {MAX_URL_BYTES} bytes.").response()
    if "\x00" in scope["path"] or b"%00" in raw_path.lower():
        return NotFoundError("There is nothing at this path.").response()
    if PLAIN_QUERY.fullmatch(query):  # printable ASCII, no escapes: it parses to text XML can hold
        return None
    try:
        pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeError:
        return InvalidQuery(
            "The query string is not valid UTF-8.",
            errors=[{"location": "query", "field": None, "message": "is not valid UTF-8"}],
        ).response()
    for name, value in pairs:
        if not (xml_safe(name) and xml_safe(value)):
            field = NOT_XML.sub("", name) or None
            message = describe(value) if xml_safe(name) else "has a name that " + describe(name)
            return InvalidQuery(
                f"Query parameter {field!r} {message}." if field else f"A query parameter {message}.",
                errors=[{"location": "query", "field": field, "message": message}],
            ).response()
    return None


def request_refusal(scope: Scope):
    """The problem response `RequestContext` answers a request it refuses (a bad `Host`, a URL too long, a
    query that is not valid UTF-8 or holds characters XML cannot hold), or None."""
    return _host_problem(scope) or _query_problem(scope)


_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # finite: methods, route templates and statuses are


def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request counter and timing series of a method, route template and status (`labels` looks them
    up under a lock, each time)."""
    found = _SERIES.get((method, route, status))
    if found is None:
        found = _SERIES[(method, route, status)] = (
            REQUESTS.labels(method, route, str(status)),
            DURATION.labels(method, route),
        )
    return found


class Exchange:
    """One request as `RequestContext` keeps it: its id (a sane incoming `X-Request-ID`, or a new one), when
    it began and the status it was answered with. `mark` puts the id on the answer; `finish` counts the
    request in the metrics and logs it. The kept answers' hot path (app.api.hotpath) keeps its requests
    with the same object, so they are counted and logged alike."""

    __slots__ = ("head", "request_id", "started", "status", "_token")

    def __init__(self, scope: Scope, *, head: bool = False, started: float | None = None) -> None:
        self.started = time.perf_counter() if started is None else started
        incoming = Headers(scope=scope).get("x-request-id")
        self.request_id = incoming if incoming and REQUEST_ID.match(incoming) else _new_request_id()
        scope.setdefault("state", {})["request_id"] = self.request_id
        self._token = request_id_var.set(self.request_id)
        self.status = 500
        self.head = head  # a HEAD, answered as a GET without its body
        IN_FLIGHT.inc()

    def mark(self, scope: Scope, message: Message) -> None:
        """The start of the answer, as sent: its status noted, the request id added; a 405 says which
        methods the path takes, and a redirect to this server's own host names the configured base URL."""
        self.status = message["status"]
        headers = MutableHeaders(scope=message)
        headers["X-Request-ID"] = self.request_id
        if self.status == 405 and "app" in scope:
            headers["Allow"] = ", ".join(allowed_methods(scope["app"], scope["path"]))
        if self.status in REDIRECTS and "location" in headers:
            headers["Location"] = _location(scope, headers["location"])

    def finish(self, scope: Scope) -> None:
        IN_FLIGHT.dec()
        request_id_var.reset(self._token)
        elapsed = time.perf_counter() - self.started
        route = _route_template(scope)
        method = "HEAD" if self.head else scope["method"] if scope["method"] in METHODS else "OTHER"  # bounded
        requests, duration = _series(method, route, self.status)
        requests.inc()
        duration.observe(elapsed)
        _log(scope, method, route, self.status, elapsed, self.request_id)


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange(scope, head=scope["method"] == "HEAD")
        if exchange.head:  # HEAD is GET without the body, on every GET route
            scope = {**scope, "method": "GET"}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.mark(scope, message)
            elif exchange.head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            refusal = request_refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                inner_receive = _guarded_receive(receive, scope["state"]) if _is_json(scope) else receive
                try:
                    await self.app(scope, inner_receive, send_with_id)
                except UnsafeText as exc:
                    where = f"body field {exc.field!r}" if exc.field else "body"
                    await ValidationFailed(
                        f"The {where} {exc.msg}.",
                        errors=[{"location": "body", "field": exc.field or None, "message": exc.msg}],
                    ).response()(scope, receive, send_with_id)
                except UnsafeJson as exc:
                    await ValidationFailed(
                        f"The body is not acceptable JSON: {exc.msg}.",
                        errors=[{"location": "body", "field": None, "message": exc.msg}],
                    ).response()(scope, receive, send_with_id)
        finally:
            exchange.finish(scope)


def _log(scope: Scope, method: str, route: str, status: int, elapsed: float, request_id: str) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    principal = scope.get("state", {}).get("principal")
    client = scope.get("client")
    fields = {
        "method": method,
        "path": scope["path"][:512],
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "request_id": request_id,
        "client": client[0] if client else None,
        "key_scope": getattr(principal, "scope", None),
        "key_prefix": getattr(principal, "prefix", None),  # the public prefix `keys list` shows, not the key
    }
    access_log.info("request", extra={"fields": fields})
