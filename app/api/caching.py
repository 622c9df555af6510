"""Conditional GET. A response's ETag is derived from what it shows: a hash of its bytes. So it changes
only when the response would, and an edit elsewhere in the store still revalidates with 304.

Public content is a function of the newest change-log sequence number, so a public response can be kept
and served again while the content version it was made at is current: `ResponseCache` entries are stamped
with that number, so an entry can never outlive the content it shows, and workers that each keep their
own can never disagree with one another. A revalidation against a kept response costs one indexed lookup;
after a change anywhere, the first request for a URL builds it again (a list page the change did not touch
is stamped anew instead: `api/validity.py`), and if its bytes are the same, so is its tag (and the 304)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from sqlalchemy import Connection
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api import compression
from app.api.cachekey import request_signature, signature_bytes
from app.api.etags import body_etag, etag_matches, shown_etag
from app.api.fairshare import build_in_turn
from app.api.validity import Fetch, Invalidations, PageScope, conn_notes, current, db_notes
from app.core.db import Database, content_state

Built = tuple[Any, dict[str, str]]  # payload, extra headers
ENTRY_OVERHEAD = 512  # bytes an entry costs besides its key, headers and bodies (objects, the LRU's links)


class PreparedResponse(Response):
    """A response whose status line and headers were rendered once, when it was kept."""

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status_code
        self.raw_headers = list(raw_headers)  # a copy, for the same reason as in Kept.of
        self.body = body
        self.background = None


@dataclass(slots=True)
class Kept:
    """A public response as sent, with the 304 that revalidates it, valid while `version` is current.
    A body worth compressing is compressed once per encoding a client asks for, and kept that way too."""

    etag: str
    version: int
    body: bytes
    ok_headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]
    salt: str  # what else it depends on (the date, for `?review=overdue`), so only its route can reuse it
    route: Any  # the route that made it, named in metrics and logs when it is served without routing
    compressible: bool = False
    page: PageScope | None = None  # a list page: what it shows and spans, for `validity.Invalidations`
    encoded: dict[str | None, tuple[list[tuple[bytes, bytes]], bytes]] = field(default_factory=dict)
    grew: Callable[[Kept, int], None] | None = None  # told the bytes of each encoding made after it was kept

    def weight(self) -> int:
        """The bytes it holds: bodies (each encoding's too) and rendered headers."""
        headers = sum(len(n) + len(v) for n, v in self.ok_headers) + sum(
            len(n) + len(v) for n, v in self.not_modified_headers
        )
        return len(self.body) + headers + sum(_variant_bytes(variant) for variant in self.encoded.values())

    @classmethod
    def of(cls, response: Response, etag: str, version: int, *, salt: str, route: Any, max_age: int, page=None) -> Kept:
        # A copy: the response is about to be sent, and middleware further out adds its caller's headers (a
        # request id, CORS for an origin); the kept list must not depend on whether that edits it in place.
        return cls(
            etag,
            version,
            bytes(response.body),
            list(response.raw_headers),
            not_modified(etag, public=True, max_age=max_age).raw_headers,
            salt,
            route,
            compression.compressible(response.media_type, len(response.body)),
            page,
        )

    def to_route(self, if_none_match: str | None, accept_encoding: str | None) -> Response:
        """For a route to answer with: an encoding as kept (the compression middleware passes an encoded
        answer as it is), or the body as is, which the middleware then marks `Vary: Accept-Encoding`."""
        if self.compressible and compression.negotiate(accept_encoding) is not None:
            return self.served(if_none_match, accept_encoding)
        return self.response(if_none_match)

    def response(self, if_none_match: str | None) -> Response:
        """As the route made it (compression, if any, is left to the middleware the route's answers pass)."""
        if etag_matches(if_none_match, self.etag):
            return PreparedResponse(304, self.not_modified_headers, b"")
        return PreparedResponse(200, self.ok_headers, self.body)

    def served(self, if_none_match: str | None, accept_encoding: str | None) -> Response:
        """As sent where no middleware compresses it: in the encoding negotiated, made once and kept."""
        if not self.compressible:
            return self.response(if_none_match)
        if etag_matches(if_none_match, self.etag):
            return PreparedResponse(304, self.not_modified_headers, b"")
        encoding = compression.negotiate(accept_encoding)
        variant = self.encoded.get(encoding)
        if variant is None:  # two requests may both make it; both make the same bytes
            variant = self.encoded[encoding] = self._encode(encoding)
            if self.grew is not None:
                self.grew(self, _variant_bytes(variant))
        return PreparedResponse(200, *variant)

    def _encode(self, encoding: str | None) -> tuple[list[tuple[bytes, bytes]], bytes]:
        body = compression.compress(encoding, self.body) if encoding else self.body
        headers = []
        for name, value in self.ok_headers:
            lowered = name.lower()
            if lowered == b"content-length":
                value = str(len(body)).encode()
            elif lowered == b"vary":
                value += b", Accept-Encoding"
            headers.append((name, value))
        if encoding:
            headers.append((b"content-encoding", encoding.encode()))
        return headers, body


def _variant_bytes(variant: tuple[list[tuple[bytes, bytes]], bytes]) -> int:
    headers, body = variant
    return len(body) + sum(len(n) + len(v) for n, v in headers)


class ResponseCache:
    """A bounded LRU of public responses, keyed by `request_signature`. Its byte bound counts everything an
    entry holds (its key, headers, body and each encoding made later), so neither long URLs and headers
    nor many small answers can take more than `max_bytes`."""

    def __init__(self, max_entries: int, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, Kept] = OrderedDict()
        self._weights: dict[tuple, int] = {}
        self._size = 0
        self._lock = threading.Lock()
        self.invalidations = Invalidations()
        self.epoch: str | None = None  # the store's epoch the entries were made in

    def adopt(self, epoch: str) -> None:
        """Told the store's epoch wherever the content version is read: entries made in another epoch are
        forgotten, since a restore takes the content version back to numbers that now name other content."""
        if epoch != self.epoch:
            with self._lock:
                self._forget()
                self.epoch = epoch

    def get(self, signature: tuple) -> Kept | None:
        with self._lock:
            kept = self._entries.get(signature)
            if kept is not None:
                self._entries.move_to_end(signature)
            return kept

    @property
    def size(self) -> int:
        """The bytes the entries hold, as counted against `max_bytes`."""
        return self._size

    def clear(self) -> None:
        """Forget every entry (a restore makes the cache do so by itself: `adopt`)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        self._entries.clear()
        self._weights.clear()
        self._size = 0
        self.invalidations = Invalidations()

    def put(self, signature: tuple, kept: Kept, epoch: str | None = None) -> None:
        """Keep `kept`, made in the store's `epoch`: not if the cache has since adopted another."""
        if self.max_entries <= 0 or len(kept.body) > self.max_bytes // 16:
            return
        if kept.page is not None:
            self.invalidations.begin(kept.version)
        with self._lock:
            if epoch is not None and epoch != self.epoch:
                return
            old = self._entries.pop(signature, None)
            if old is not None:
                self._size -= self._weights.pop(signature)
                old.grew = None
                if old.etag == kept.etag and old.ok_headers == kept.ok_headers and old.body == kept.body:
                    kept.encoded = old.encoded  # made again after a change elsewhere: same bytes, same encodings
            weight = ENTRY_OVERHEAD + signature_bytes(signature) + kept.weight()
            self._entries[signature] = kept
            self._weights[signature] = weight
            self._size += weight
            kept.grew = functools.partial(self._grew, signature)
            self._evict()

    def _grew(self, signature: tuple, kept: Kept, added: int) -> None:
        with self._lock:
            if self._entries.get(signature) is kept:
                self._weights[signature] += added
                self._size += added
                self._evict()

    def _evict(self) -> None:
        while self._entries and (len(self._entries) > self.max_entries or self._size > self.max_bytes):
            signature, dropped = self._entries.popitem(last=False)
            dropped.grew = None
            self._size -= self._weights.pop(signature)


def cached_read(
    request: Request,
    db: Database,
    build: Callable[[Connection], Built],
    *,
    public: bool,
    media_type: str = "application/json",
    max_age: int = 60,
    render: Callable[[Any], bytes] = orjson.dumps,
    etag_of: Callable[[Any], str] | None = None,
    salt: str = "",
    page_of: Callable[[], PageScope | None] | None = None,
) -> Response:
    """Run `build` in one read snapshot and answer with validators, or 304 when the client is current.
    `etag_of` tags a non-public response from its payload (a record's revision) instead of its bytes.
    `salt` names what the response depends on beyond its URL and the content version (today's date, a
    form body): a response is kept under it and served only for the same salt."""
    if_none_match = request.headers.get("if-none-match")
    epoch = ""
    with db.read() as conn:
        if public:
            version, epoch = content_state(conn)
            if (cache := _cache(request)) is not None:
                cache.adopt(epoch)
            fetch = functools.partial(conn_notes, conn)
            if (kept := kept_for(request, version, salt, fetch)) is not None:
                return kept.to_route(if_none_match, request.headers.get("accept-encoding"))
        payload, headers = build(conn)
    body = payload if isinstance(payload, bytes) else render(payload)
    # Public: from the bytes, so the tag changes only when they do. An editor's: a record's revision, or bytes.
    etag = (
        shown_etag(request, media_type, body, epoch) if public else (etag_of(payload) if etag_of else body_etag(body))
    )
    response = Response(body, media_type=media_type, headers=headers)
    set_validators(response, etag, public=public, max_age=max_age)
    if public and (cache := _cache(request)) is not None:
        route = request.scope.get("route")
        page = page_of() if page_of else None
        kept = Kept.of(response, etag, version, salt=salt, route=route, max_age=max_age, page=page)
        cache.put(request_signature(request.scope), kept, epoch)
    if etag_matches(if_none_match, etag):
        return not_modified(etag, public=public, max_age=max_age)
    return response


class Builds:
    """Per worker: at most `limit` responses built at once (a build is Python work that holds the GIL, and
    a threadpool full of builds starves the event loop that answers 304s and kept responses), and one
    build per public response at a time (the other requests for it wait for that one and are served
    what it kept)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._limiter: anyio.CapacityLimiter | None = None
        self._running: dict[tuple, anyio.Event] = {}

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # made on first use, inside the event loop
            self._limiter = anyio.CapacityLimiter(self.limit)
        return self._limiter


def _cache(request: Request) -> ResponseCache | None:
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    return cache if cache is not None and cache.max_entries > 0 else None


def kept_for(request: Request, version: int, salt: str = "", fetch: Fetch | None = None) -> Kept | None:
    """The kept response for this request, if it shows what a build at content `version` would and was
    made with the same `salt` (see `cached_read`)."""
    kept = cache.get(request_signature(request.scope)) if (cache := _cache(request)) is not None else None
    if kept is None or kept.salt != salt or cache is None or not current(cache.invalidations, kept, version, fetch):
        return None
    return kept


async def cached_read_async(
    request: Request,
    db: Database,
    build: Callable[[Connection], Built],
    *,
    public: bool,
    media_type: str = "application/json",
    max_age: int = 60,
    etag_of: Callable[[Any], str] | None = None,
    salt: str = "",
    page_of: Callable[[], PageScope | None] | None = None,
) -> Response:
    """`cached_read` for async routes: where the content version can be read in microseconds on the
    event loop (SQLite), a revalidation or a kept response is answered there; only building a response
    goes to the threadpool, where `cached_read` runs it in one snapshot (and tags it by that snapshot)."""
    builds: Builds = request.app.state.builds
    run = functools.partial(
        cached_read,
        request,
        db,
        build,
        public=public,
        media_type=media_type,
        max_age=max_age,
        etag_of=etag_of,
        salt=salt,
        page_of=page_of,
    )
    state = db.peek_content_state() if public else None
    if state is None:
        return await build_in_turn(request, run)
    version, epoch = state
    if (cache := _cache(request)) is not None:
        cache.adopt(epoch)
    if_none_match = request.headers.get("if-none-match")
    key = (version, salt, request_signature(request.scope))
    while (running := builds._running.get(key)) is not None:  # the same response is being built
        await running.wait()
        if (kept := kept_for(request, version, salt, db_notes(db))) is not None:
            return kept.to_route(if_none_match, request.headers.get("accept-encoding"))
    if (kept := kept_for(request, version, salt, db_notes(db))) is not None:
        return kept.to_route(if_none_match, request.headers.get("accept-encoding"))
    builds._running[key] = done = anyio.Event()
    try:
        return await build_in_turn(request, run)
    finally:
        del builds._running[key]
        done.set()


class ServeKept:
    """Pure ASGI, just outside the router: a GET for a public response kept at the current content version
    is answered here (or its 304), without routing, parameter parsing or a thread. Only a response its route
    made for the same URL and `Accept` is served, so what was valid there is valid here; editors, who may
    see more, and `If-Modified-Since`, which only the route answers, always go to the route. It sits outside
    the compression middleware and serves each encoding as kept (`Kept.served`)."""

    def __init__(self, app: ASGIApp, cache: ResponseCache, db: Database) -> None:
        self.app = app
        self.cache = cache
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = kept_answer(self.cache, self.db, scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["route"], answer = found
        await answer(scope, receive, send)


def kept_answer(cache: ResponseCache, db: Database, scope: Scope) -> tuple[Any, Response] | None:
    """What `ServeKept` answers an HTTP request with (the route that made it, and the response), or None."""
    if scope["method"] != "GET" or cache.max_entries <= 0:
        return None
    principal = scope.get("state", {}).get("principal")
    if principal is not None and principal.is_editor:
        return None
    kept = cache.get(signature := request_signature(scope))
    if kept is None or kept.salt or (state := db.peek_content_state()) is None:  # None: no cheap peek here
        return None
    cache.adopt(state[1])  # the store's epoch: after a restore, the cache forgets what it kept
    kept = cache.get(signature)
    headers = Headers(scope=scope)
    if kept is None or "if-modified-since" in headers or not current(cache.invalidations, kept, state[0], db_notes(db)):
        return None
    return kept.route, kept.served(headers.get("if-none-match"), headers.get("accept-encoding"))


def cache_control(public: bool, max_age: int) -> str:
    return f"public, max-age={max_age}, stale-while-revalidate={max_age * 5}" if public else "private, no-cache"


def set_validators(response: Response, etag: str | None, *, public: bool, max_age: int) -> None:
    if etag is not None:
        response.headers["ETag"] = etag
    response.headers["Cache-Control"] = cache_control(public, max_age)
    response.headers["Vary"] = "Accept, X-API-Key"


def not_modified(etag: str | None, *, public: bool, max_age: int) -> Response:
    response = Response(status_code=304)
    set_validators(response, etag, public=public, max_age=max_age)
    return response
