"""Partner routes: the feeds, the change log and the bulk export. They parse and delegate; the work is in
app.partners.feeds, .changes and .export."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.api.deps import DatabaseDep, PageDep
from app.content.params import TopicFilters
from app.content.queries import Filters
from app.core.errors import BadParameter, Unauthorized
from app.core.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    cursor_epoch,
    decode_cursor,
    encode_cursor,
    link_header,
    next_link,
    public_url,
)
from app.partners import changes as changes_service
from app.partners import feeds
from app.partners.conditional import bulk_read, partner_read
from app.partners.export import FILENAME, MEDIA_TYPE, ExportCache
from app.partners.schemas import (
    ATOM_EXAMPLE,
    CHANGE_EXAMPLE,
    FEED_EXAMPLE,
    ChangesPage,
    JsonFeed,
    ResourceName,
)

JSON_FEED = "application/feed+json"
ATOM = "application/atom+xml"
FEED_SCOPE = "feed"
FEED_TAGS: list[str | Enum] = ["feeds"]
SYNC_TAGS: list[str | Enum] = ["changes"]

router = APIRouter(prefix="/v1")

BAD_PARAMETER = BadParameter.openapi(
    "A parameter is invalid: an unknown condition, a cursor this endpoint did not hand out, a limit over 100.",
    "Query parameter 'since' is not a cursor this list handed out.",
    errors=[{"location": "query", "field": "since", "message": "is not a cursor this list handed out"}],
)
UNAUTHORIZED = Unauthorized.openapi("The X-API-Key is unknown or revoked.", "The X-API-Key is unknown or revoked.")


def schema_ref(name: str) -> dict[str, str]:
    """The response model's component: a route answering a ready-made Response gets none from FastAPI."""
    return {"$ref": f"#/components/schemas/{name}"}


CONDITIONAL = (
    "Answers carry `ETag` and `Last-Modified`; send them back as `If-None-Match` or "
    "`If-Modified-Since` to get `304` when nothing changed."
)


def _base(request: Request) -> str:
    return (request.app.state.settings.public_base_url or str(request.base_url)).rstrip("/")


async def _feed(request: Request, db, filters: Filters, page, media_type: str, other: tuple[str, str]) -> Response:
    after = decode_cursor(FEED_SCOPE, page.cursor)
    settings = request.app.state.settings

    def build(conn) -> tuple[Any, dict[str, str]]:
        epoch = cursor_epoch(conn, page.cursor)
        result = feeds.feed_page(conn, filters, after=after, limit=page.limit)
        next_url = None
        headers: dict[str, str] = {}
        if result.last_position:
            next_url = public_url(
                request,
                request.url.include_query_params(cursor=encode_cursor(FEED_SCOPE, result.last_position, epoch)),
            )
            headers["Link"] = link_header(next_url)
        first = request.url.remove_query_params("cursor")
        links = feeds.Links(
            base=_base(request),
            self_url=public_url(request, request.url),
            first_url=public_url(request, first),
            alternate_url=public_url(request, first.replace(path=f"/v1/{other[0]}")),
            next_url=next_url,
        )
        if media_type == ATOM:
            return feeds.atom_feed(result, filters, links), headers
        return orjson.dumps(feeds.json_feed(result, filters, links)), headers

    max_age = settings.cache_max_age
    return await partner_read(request, db, build, media_type=media_type, max_age=max_age, salt=filters.salt())


@router.get(
    "/feed.json",
    summary="Topics as a JSON Feed",
    tags=FEED_TAGS,
    name="feed_json",
    response_model=JsonFeed,
    response_class=Response,
    description="Published topics as a [JSON Feed 1.1](https://jsonfeed.org/version/1.1) "
    "(`application/feed+json`). Each item is a topic; its `content_html` carries the topic's claims "
    "(with their evidence) and quotes (with who said them). Item ids are tag URIs that never change. "
    "Takes the topic list's filters (`condition` with codes and descendants, `therapy`, `therapy_type`, "
    "`source`, `lang`) and pages like it (`limit`, `cursor`; follow `next_url`). " + CONDITIONAL,
    responses={
        200: {"content": {JSON_FEED: {"schema": schema_ref("JsonFeed"), "example": FEED_EXAMPLE}}},
        401: UNAUTHORIZED,
        422: BAD_PARAMETER,
    },
)
async def feed_json(request: Request, db: DatabaseDep, filters: TopicFilters, page: PageDep) -> Response:
    return await _feed(request, db, filters, page, JSON_FEED, ("feed.atom", ATOM))


@router.get(
    "/feed.atom",
    summary="Topics as an Atom feed",
    tags=FEED_TAGS,
    name="feed_atom",
    response_class=Response,
    description="The same entries as `/v1/feed.json`, as an Atom feed (RFC 4287, "
    "`application/atom+xml`): content as escaped HTML, conditions and therapy types as categories, "
    'the next page as `<link rel="next">`. ' + CONDITIONAL,
    responses={
        200: {"content": {ATOM: {"schema": {"type": "string"}, "example": ATOM_EXAMPLE}}},
        401: UNAUTHORIZED,
        422: BAD_PARAMETER,
    },
)
async def feed_atom(request: Request, db: DatabaseDep, filters: TopicFilters, page: PageDep) -> Response:
    return await _feed(request, db, filters, page, ATOM, ("feed.json", JSON_FEED))


@router.get(
    "/changes",
    summary="Follow the change log",
    tags=SYNC_TAGS,
    name="list_changes",
    response_model=ChangesPage,
    response_class=Response,
    description="Every public create, update and delete of every resource after `since`, oldest first: "
    "`upsert` carries the record's document (relations by key), `delete` is a tombstone (the record "
    "was deleted, or moved to draft or retracted). Without `since` it starts at the beginning, so "
    "replaying it from there gives an exact copy. `next_cursor` is always present: it is where to "
    "resume, also when nothing is new. `resource` (repeatable) follows some resources only; the "
    "cursor of a whole-log page (or of the export) serves any selection. Webhook events (`/v1/webhooks`) carry "
    "each change's `seq` (its place in this log, which is commit order) and `cursor` (the `since` that resumes "
    "right after it), so a receiver can order events and catch up here after an outage. " + CONDITIONAL,
    responses={
        200: {"content": {"application/json": {"schema": schema_ref("ChangesPage"), "example": CHANGE_EXAMPLE}}},
        401: UNAUTHORIZED,
        422: BAD_PARAMETER,
    },
)
async def list_changes(
    request: Request,
    db: DatabaseDep,
    since: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Opaque: a `next_cursor` of this endpoint or the export's `X-Changes-Cursor`.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Changes per page (at most 100).")] = DEFAULT_LIMIT,
    resource: Annotated[
        list[ResourceName] | None, Query(description="Follow only these resources (repeat for several).")
    ] = None,
) -> Response:
    resources = sorted(set(resource or []))
    after = changes_service.decode_since(since, resources)

    def build(conn) -> tuple[Any, dict[str, str]]:
        epoch = cursor_epoch(conn, since, "since")
        page = changes_service.changes_page(conn, after=after, limit=limit, resources=resources)
        cursor = changes_service.encode_position(page.position, epoch, resources)
        headers = next_link(request, cursor, "since") if page.more else {}
        return {"items": page.items, "next_cursor": cursor}, headers

    return await partner_read(
        request, db, build, media_type="application/json", max_age=request.app.state.settings.cache_max_age
    )


@router.get(
    "/export",
    summary="Download all published content",
    tags=SYNC_TAGS,
    name="download_export",
    response_class=Response,
    description="Every published record as gzip-compressed NDJSON, at this one URL that always means the "
    "latest. The first line is a header: `format`, `changes_cursor` (follow `/v1/changes?since=` from "
    "it to stay current), `seq` and `counts` per resource; then one line per record: "
    '`{"resource", "key", "data"}`, resources in dependency order (conditions first, quotes last). '
    "Headers: `Repr-Digest: sha-256=:...:` (RFC 9530) and `X-Content-SHA256` (hex) of the bytes, "
    "`X-Changes-Cursor`. " + CONDITIONAL,
    responses={
        200: {
            "description": f"`{FILENAME}`: gzip-compressed NDJSON.",
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}, "example": "(gzip bytes)"}},
        },
        401: UNAUTHORIZED,
    },
)
def export(request: Request, db: DatabaseDep) -> Response:
    cache = getattr(request.app.state, "export_cache", None)
    if cache is None:
        cache = request.app.state.export_cache = ExportCache()

    def produce(version: int, epoch: str) -> tuple[int, str, str | None, bytes, dict[str, str]]:
        made = cache.get(db, version, epoch)
        return made.seq, made.epoch, made.as_of, made.body, made.headers()

    return bulk_read(request, db, produce, media_type=MEDIA_TYPE, max_age=request.app.state.settings.cache_max_age)
