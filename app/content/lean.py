"""Lean reads of the commonest cold requests, answered in front of the router (`api.leanread.ServeLean`)
from the read model: a public page of `GET /v1/claims?condition=X`, `?therapy_type=T` or both (each
filter with one value or several), with `limit` and `cursor`, in a few driver-level statements in one
snapshot (the conditions are published, the page's keys from the facet index by the plan
`selection.page_pks` follows, their kept bodies, and the content version when the answer is to be kept);
and a public `GET /v1/claims/{id}` (its kept body and the quotes citing it, as `queries.detail_bytes`).
On SQLite they run on the event loop's own connection, as the content-version peek does (index seeks: a
page of two filters that its first 1,000 records do not settle, `OffTheLoop`, is read again in the
threadpool, as everything is elsewhere).

They take only what they fully understand: an anonymous or partner caller, no `If-Modified-Since`, only
these parameters, `limit` and `cursor` once, up to `MAX_FILTER_VALUES` slug-shaped conditions that name
published conditions and therapy types of the vocabulary, a plain `limit` of 1-100, a cursor this list
handed out, a plain key asked for as JSON. Everything else (a code such as `icd10cm:M06.9`, another
filter, a bad cursor, an unknown or unpublished record, JSON-LD, a document missing from the read model,
any error) goes on to the router, which answers as always. What they answer is the router's answer, made
by the same functions (links, validators, ETag, the kept entry with its page scope), byte for byte:
`tests/test_lean_reads.py` holds them to that on random requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from anyio import to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from app.api.cachekey import request_signature
from app.api.caching import Kept, kept_for, not_modified, set_validators
from app.api.etags import etag_matches, shown_etag
from app.api.validity import NOTES_SQL, PageScope
from app.content import jsonld
from app.content.queries import MAX_FILTER_VALUES, Filters, page_depends
from app.content.resources import RESOURCES
from app.content.selection import Execute, lean_page_pks
from app.content.vocab import Status, TherapyType
from app.core.db import PEEK_STATE_SQL, Database, Epoch
from app.core.errors import BadParameter, StaleCursor
from app.core.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    check_epoch,
    decode_cursor,
    encode_cursor,
    next_link,
    split_page,
)
from app.ops.routing import iter_routes

CLAIM = RESOURCES["claim"]
PUBLISHED = Status.published.value
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
LIMIT = re.compile(r"[1-9][0-9]{0,2}\Z")
MAX_VALUE = 200  # the longest slug or cursor a parameter takes
TAKEN = frozenset({"condition", "therapy_type", "limit", "cursor"})
THERAPY_TYPES = frozenset(t.value for t in TherapyType)

T = TypeVar("T")

CONDITIONS_SQL = "SELECT count(*) FROM conditions WHERE status = ? AND key IN ({marks})"
BODIES_SQL = "SELECT record_pk, body FROM read_documents WHERE resource = ? AND record_pk IN ({marks})"


@dataclass(frozen=True, slots=True)
class Ask:
    filters: Filters  # each value once, in the order given
    limit: int
    after: int
    cursor: str | None

    @property
    def groups(self) -> list[list[str]]:
        """The filters as facet groups, as `queries.facet_groups` makes them once the values are checked."""
        named = (("condition", self.filters.condition), ("therapy_type", self.filters.therapy_type))
        return [[f"{name}:{value}" for value in values] for name, values in named if values]


def understood(scope: Scope) -> Ask | None:
    """The request as a page of claims by condition, therapy type or both, or None where the router must
    answer it."""
    principal = scope.get("state", {}).get("principal")
    if principal is not None and principal.is_editor:  # editors may list drafts
        return None
    if any(name == b"if-modified-since" for name, _ in scope["headers"]):
        return None
    items = QueryParams(scope.get("query_string", b"")).multi_items()
    given: dict[str, list[str]] = {}
    for name, value in items:
        given.setdefault(name, []).append(value)
    if not given.keys() <= TAKEN or len(given.get("limit", ())) > 1 or len(given.get("cursor", ())) > 1:
        return None
    conditions, types = given.get("condition", []), given.get("therapy_type", [])
    if not (conditions or types) or len(conditions) > MAX_FILTER_VALUES or len(types) > MAX_FILTER_VALUES:
        return None
    if any(len(value) > MAX_VALUE or not SLUG.match(value) for value in conditions):
        return None
    if any(value not in THERAPY_TYPES for value in types):
        return None
    limit = given.get("limit", [str(DEFAULT_LIMIT)])[0]
    if not LIMIT.match(limit) or int(limit) > MAX_LIMIT:
        return None
    cursor = given.get("cursor", [None])[0]
    if cursor is not None and len(cursor) > MAX_VALUE:
        return None
    try:
        after = decode_cursor(CLAIM.plural, cursor)
    except BadParameter:
        return None
    filters = Filters(
        condition=list(dict.fromkeys(conditions)), therapy_type=[TherapyType(t) for t in dict.fromkeys(types)]
    )
    return Ask(filters, int(limit), after, cursor)


@dataclass(frozen=True, slots=True)
class State:
    """Read in the answer's snapshot: the content version, and the store's epoch (cursors and tags)."""

    version: int
    epoch: str


@dataclass(slots=True)
class Found:
    pks: list[int]
    bodies: list[bytes]
    more: bool
    state: State


def of_epoch(cursor: str | None, epoch: str) -> bool:
    """Whether `cursor` (None: none) was handed out in this epoch; any other (one of another epoch, one made
    before epochs existed) is the router's to answer."""
    try:
        check_epoch(cursor, Epoch(epoch, "", "restore"))
    except StaleCursor:
        return False
    return True


class OffTheLoop(Exception):
    """The page needs the counted plan, which may walk a filter's records whole: not on the event loop."""


def read_page(execute: Execute, ask: Ask, state: State, dialect: str = "sqlite", on_loop: bool = False) -> Found | None:
    """The page's records and bodies in one snapshot (`execute` runs one statement in it; `state`, read in
    it), or None where the router must answer (an unknown or unpublished condition, a body not kept, a
    cursor of another epoch). `on_loop`: `OffTheLoop` where the probe does not settle the page."""
    if not of_epoch(ask.cursor, state.epoch):
        return None
    if conditions := ask.filters.condition:
        known = execute(CONDITIONS_SQL.format(marks=", ".join("?" * len(conditions))), (PUBLISHED, *conditions))
        if known[0][0] != len(conditions):
            return None
    found = lean_page_pks(
        execute, dialect, CLAIM.name, ask.groups, PUBLISHED, after=ask.after, wanted=ask.limit + 1, probe_only=on_loop
    )
    if found is None:
        raise OffTheLoop
    page, more = split_page(found, ask.limit)
    pks = list(page)
    bodies: dict[int, Any] = {}
    if pks:
        marks = ", ".join("?" * len(pks))
        bodies = dict(execute(BODIES_SQL.format(marks=marks), (CLAIM.name, *pks)))
        if len(bodies) != len(pks):
            return None
    return Found(pks, [bytes(bodies[pk]) for pk in pks], more, state)


class ClaimsByFacet:
    """The lean answer of `/v1/claims` (see the module's text), for `ServeLean`."""

    route_name = "list_claims"

    def __init__(self, db: Database) -> None:
        self.db = db
        self._route: Any = None
        self._routes: Any = None

    def route(self, scope: Scope) -> Any:
        """The route the router would choose (named in metrics and the access log, kept with the answer),
        or None where the app has no such route (then there is nothing to answer for)."""
        routes = scope["app"].router.routes
        if self._routes is not routes:  # looked up again only when the app's routes are replaced
            found = (route for _, _, route in iter_routes(routes) if getattr(route, "name", "") == self.route_name)
            self._route, self._routes = next(found, None), routes
        return self._route

    async def __call__(self, scope: Scope) -> Response | None:
        ask = understood(scope)
        if ask is None or self.route(scope) is None:
            return None
        keep = (cache := scope["app"].state.response_cache) is not None and cache.max_entries > 0
        dialect = "sqlite" if self.db.is_sqlite else "postgresql"
        found = await self.read(
            scope, lambda execute, state, on_loop: read_page(execute, ask, state, dialect, on_loop), keep
        )
        if isinstance(found, Kept):
            scope["route"] = self.route(scope)
            return found.to_route(*_conditions(scope))
        return None if found is None else self.respond(scope, ask, found, keep)

    async def read(self, scope: Scope, read: Callable[[Execute, State, bool], T | None], keep: bool) -> T | Kept | None:
        """`read` in one snapshot, given the content version and epoch read in it and whether it runs on the
        event loop; or, when answers are kept, the answer kept at that version (made meanwhile by another
        request, as `cached_read` finds it); None where anything went wrong (the router answers it as it
        would). A read that raises `OffTheLoop` on the event loop is run again in the threadpool."""

        def run(execute: Execute, on_loop: bool) -> T | Kept | None:
            row = execute(PEEK_STATE_SQL, ())[0]
            state = State(row[0] or 0, row[1] or "")
            if not keep:
                return read(execute, state, on_loop)
            cache = scope["app"].state.response_cache
            cache.adopt(state.epoch)
            notes = lambda after: [tuple(row) for row in execute(NOTES_SQL, (after,))]  # noqa: E731
            if (kept := kept_for(Request(scope), state.version, "", notes)) is not None:
                return kept
            return read(execute, state, on_loop)

        try:
            with self.db.peek_snapshot() as execute:
                if execute is not None:
                    try:
                        return run(execute, True)
                    except OffTheLoop:
                        pass  # in a snapshot of its own in the threadpool, below
            return await self._in_thread(scope, lambda execute: run(execute, False))
        except Exception:  # whatever went wrong, the router answers it as it would
            return None

    async def _in_thread(self, scope: Scope, read: Callable[[Execute], T]) -> T:
        """`read` in one snapshot of the store in the threadpool (where the event loop cannot read cheaply)."""

        def run() -> T:
            with self.db.read() as conn:
                mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

                def execute(sql: str, parameters: tuple) -> list[Any]:
                    return list(conn.exec_driver_sql(sql.replace("?", mark), parameters).all())

                return read(execute)

        return await to_thread.run_sync(run, limiter=scope["app"].state.builds.limiter)

    def respond(self, scope: Scope, ask: Ask, found: Found, keep: bool) -> Response:
        """The router's answer for this page (`content.router.list_records` through `cached_read`)."""
        request = Request(scope)
        state = scope["app"].state
        max_age = state.settings.cache_max_age
        epoch = found.state.epoch
        next_cursor = encode_cursor(CLAIM.plural, found.pks[-1], epoch) if found.more else None
        items = [orjson.Fragment(body) for body in found.bodies]
        body = orjson.dumps({"items": items, "next_cursor": next_cursor})
        etag = shown_etag(request, "application/json", body, epoch)
        response = Response(body, media_type="application/json", headers=next_link(request, next_cursor))
        set_validators(response, etag, public=True, max_age=max_age)
        route = scope["route"] = self.route(scope)
        if keep:
            depends = page_depends(CLAIM, ask.filters)
            last = found.pks[-1] if found.more else None
            page = None if depends is None else PageScope(CLAIM.name, frozenset(found.pks), ask.after, last, depends)
            kept = Kept.of(response, etag, found.state.version, salt="", route=route, max_age=max_age, page=page)
            state.response_cache.put(request_signature(scope), kept, epoch)
        if etag_matches(request.headers.get("if-none-match"), etag):
            return not_modified(etag, public=True, max_age=max_age)
        return response


QUOTES = RESOURCES["quote"]
QUOTE_LINK = QUOTES.links["claims"]
KEY = re.compile(r"[A-Za-z0-9._~-]{1,200}\Z")
CLAIM_SQL = "SELECT pk FROM claims WHERE key = ? AND status = ?"
BODY_SQL = "SELECT body FROM read_documents WHERE resource = ? AND record_pk = ?"
QUOTES_SQL = (
    f"SELECT q.pk, q.key, q.{QUOTES.label}, q.status FROM {QUOTE_LINK.table.name} l "
    f"JOIN {QUOTES.table.name} q ON q.pk = l.{QUOTE_LINK.own} WHERE l.{QUOTE_LINK.other} = ? ORDER BY q.pk"
)


def read_detail(execute: Execute, key: str) -> bytes | None:
    """A published claim's public detail, `queries.detail_bytes`'s bytes (its kept body and the quotes
    that cite it), or None where the router must answer (not published, a body not kept)."""
    found = execute(CLAIM_SQL, (key, PUBLISHED))
    if not found:
        return None
    rows = execute(BODY_SQL, (CLAIM.name, found[0][0]))
    if not rows:
        return None
    quotes = [{QUOTES.key_field: q[1], "title": q[2]} for q in execute(QUOTES_SQL, (found[0][0],)) if q[3] == PUBLISHED]
    body = bytes(rows[0][0])
    return body[:-1] + b"," + orjson.dumps({"quotes": quotes})[1:]


class ClaimDetail(ClaimsByFacet):
    """The lean answer of `/v1/claims/{id}` for the public (editors, JSON-LD, `If-Modified-Since` and
    anything unknown go on to the router)."""

    route_name = "get_claim"

    async def __call__(self, scope: Scope) -> Response | None:
        key = scope["path"].removeprefix("/v1/claims/")
        principal = scope.get("state", {}).get("principal")
        if scope.get("query_string") or not KEY.match(key) or (principal is not None and principal.is_editor):
            return None  # a detail takes no query parameter: the router's 422 names it
        if self.route(scope) is None:
            return None
        request = Request(scope)
        if "if-modified-since" in request.headers or jsonld.wanted(request.headers.get("accept")):
            return None
        keep = (cache := scope["app"].state.response_cache) is not None and cache.max_entries > 0
        found = await self.read(scope, lambda execute, state, _: self._detail(execute, key, state), keep)
        if isinstance(found, Kept):
            scope["route"] = self.route(scope)
            return found.to_route(*_conditions(scope))
        if found is None:
            return None
        body, state = found
        max_age = scope["app"].state.settings.cache_max_age
        etag = shown_etag(request, "application/json", body, state.epoch)
        response = Response(body, media_type="application/json")
        set_validators(response, etag, public=True, max_age=max_age)
        route = scope["route"] = self.route(scope)
        if keep:
            kept = Kept.of(response, etag, state.version, salt="", route=route, max_age=max_age)
            cache.put(request_signature(scope), kept, state.epoch)
        if etag_matches(request.headers.get("if-none-match"), etag):
            return not_modified(etag, public=True, max_age=max_age)
        return response

    @staticmethod
    def _detail(execute: Execute, key: str, state: State) -> tuple[bytes, State] | None:
        body = read_detail(execute, key)
        return None if body is None else (body, state)


def _conditions(scope: Scope) -> tuple[str | None, str | None]:
    """`If-None-Match` and `Accept-Encoding`, as a kept answer is served by."""
    headers = Request(scope).headers
    return headers.get("if-none-match"), headers.get("accept-encoding")
