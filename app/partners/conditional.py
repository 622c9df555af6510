"""Conditional GET for the partner endpoints: the shared ETag logic (app.api.caching) plus
`Last-Modified` / `If-Modified-Since`, dated by the newest change, which is what partners' HTTP caches and
feed readers send, or by the store's epoch when that is newer: a restored store's content is new as of the
restore, though its newest change is older."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import anyio
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from app.api.caching import Built, cached_read_async, kept_for, not_modified, set_validators
from app.api.etags import etag_matches, public_etag
from app.core.db import Database, content_state, store_epoch
from app.partners.changes import newest_change


def dated_change(conn: Connection) -> tuple[int, str] | None:
    """(seq, at) of the newest change, `at` never before the store's epoch was made; None for an empty log."""
    newest = newest_change(conn)
    if newest is None:
        return None
    return newest[0], max(newest[1], store_epoch(conn).made_at)


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def _second(stamp: str) -> datetime:
    """The instant of a change as an HTTP date carries it: whole seconds."""
    return _instant(stamp).replace(microsecond=0)


def http_date(stamp: str, now: datetime | None = None) -> str:
    """The `Last-Modified` of a response showing the change made at `stamp`: its whole second, but never
    one that had not yet ended when the response was made (`now`). An HTTP date cannot tell two changes in
    one second apart, so a response made in the second of its newest change is dated a second earlier:
    sent back as `If-Modified-Since`, it can then never hide a change made later in that second."""
    made = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return format_datetime(min(_second(stamp), made - timedelta(seconds=1)), usegmt=True)


def _if_modified_since(request: Request) -> datetime | None:
    value = request.headers.get("if-modified-since")
    if not value or "if-none-match" in request.headers:  # RFC 9110: If-None-Match takes precedence
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def bulk_read(
    request: Request,
    db: Database,
    produce: Callable[[int, str], tuple[int, str, str | None, bytes, dict]],
    *,
    media_type: str,
    max_age: int,
) -> Response:
    """Like `partner_read` for a representation made outside the request's read snapshot (the export):
    `produce(version, epoch)` gives (seq it reflects, its epoch, time of that change, body, headers), seq
    >= `version` in the same epoch."""
    with db.read() as conn:
        version, epoch = content_state(conn)
        newest = dated_change(conn)
    since = _if_modified_since(request)
    current = public_etag(request, version, media_type, epoch)
    if etag_matches(request.headers.get("if-none-match"), current) or (
        since and newest and _second(newest[1]) <= since
    ):
        return not_modified(current, public=True, max_age=max_age)
    seq, made_in, as_of, body, headers = produce(version, epoch)
    response = Response(body, media_type=media_type, headers=headers)
    if as_of:
        response.headers["Last-Modified"] = http_date(max(as_of, newest[1]) if newest else as_of)
    set_validators(response, public_etag(request, seq, media_type, made_in), public=True, max_age=max_age)
    return response


def _not_modified_since(
    request: Request, db: Database, since: datetime, media_type: str, max_age: int, salt: str
) -> Response | None:
    with db.read() as conn:
        version, epoch = content_state(conn)
        newest = dated_change(conn)
    if (cache := getattr(request.app.state, "response_cache", None)) is not None:
        cache.adopt(epoch)  # a kept response of another epoch is not the one the client holds
    # Whole seconds against whole seconds, as HTTP dates are: the exact `Last-Modified` sent back is a 304
    # (and `http_date` never dates a response to a second in which a later change could still be made).
    if newest and _second(newest[1]) <= since:
        # The tag of the response the client holds is known only if it is kept (it is made from its bytes).
        kept = kept_for(request, version, salt)
        response = not_modified(kept.etag if kept else None, public=True, max_age=max_age)
        response.headers["Last-Modified"] = http_date(newest[1])
        return response
    return None


async def partner_read(
    request: Request,
    db: Database,
    build: Callable[[Connection], Built],
    *,
    media_type: str,
    max_age: int,
    salt: str = "",
) -> Response:
    """A public read with ETag, Last-Modified, and 304 for either validator (`salt` as in `cached_read`)."""
    since = _if_modified_since(request)
    if since is not None:
        answer = await anyio.to_thread.run_sync(
            _not_modified_since, request, db, since, media_type, max_age, salt, limiter=request.app.state.builds.limiter
        )
        if answer is not None:
            return answer

    def build_dated(conn: Connection) -> Built:
        payload, headers = build(conn)
        newest = dated_change(conn)
        if newest:
            headers = {**headers, "Last-Modified": http_date(newest[1])}
        return payload, headers

    return await cached_read_async(
        request, db, build_dated, public=True, media_type=media_type, max_age=max_age, salt=salt
    )
