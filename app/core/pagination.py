"""Paging, the same way for every list, search, revisions and changes: a query asks one row past the page
(`paged`), `split_page` tells whether another page follows, the cursor is opaque and names the list it
pages (one taken from another list, or edited by hand, is a 422 rather than a wrong page) and the store's
epoch it was made in (one from before a restore, or from another store, is a 410: `StaleCursor`), and
`next_link` gives the `Link` header of the next page on the public base URL (`PUBLIC_BASE_URL`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Select
from starlette.datastructures import URL
from starlette.requests import Request

from app.core.db import Epoch, store_epoch
from app.core.errors import BadParameter, StaleCursor

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

T = TypeVar("T")
S = TypeVar("S", bound=Select[Any])


def paged(query: S, limit: int) -> S:
    """The query for a page of `limit` rows, plus one that says whether another page follows."""
    return query.limit(limit + 1)


def split_page(rows: Sequence[T], limit: int) -> tuple[Sequence[T], bool]:
    """The page's rows, and whether more follow (the rows of a `paged` query)."""
    return rows[:limit], len(rows) > limit


def encode_cursor(scope: str, position: int, epoch: str) -> str:
    """The cursor of `position` in the list `scope`, made in the store's `epoch` (`cursor_epoch`)."""
    raw = orjson.dumps({"s": scope, "p": position, "e": epoch})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Positions are row ids or offsets: a cursor we hand out never holds more than a 64-bit signed integer,
# and content rows are 32-bit on PostgreSQL. A larger position is refused here, before any query sees it.
MAX_POSITION = 2**31 - 1
MAX_SEQ = 2**63 - 1  # the change log's numbers (64-bit)


def decode_cursor(scope: str, cursor: str | None, parameter: str = "cursor", maximum: int = MAX_POSITION) -> int:
    """The position after which the next page starts (0: from the beginning); past `maximum` is a 422."""
    if cursor is None:
        return 0
    data = _read(cursor, parameter)
    position = data["p"]
    if (
        data["s"] != scope
        or not isinstance(position, int)
        or isinstance(position, bool)
        or not 0 <= position <= maximum
    ):
        raise BadParameter(parameter, "is not a cursor this list handed out")
    return position


MAX_EPOCH_CHARS = 16


def _read(cursor: str, parameter: str) -> dict[str, Any]:
    """A cursor's fields: a scope, a position and (since epochs exist) an epoch; anything else is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        epoch = data.get("e", "")
        if "p" not in data or not isinstance(data.get("s"), str) or not isinstance(epoch, str):
            raise ValueError
        if len(epoch) > MAX_EPOCH_CHARS:
            raise ValueError
    except (ValueError, AttributeError, TypeError, binascii.Error, UnicodeError, orjson.JSONDecodeError):
        raise BadParameter(parameter, "is not a cursor this list handed out") from None
    return data


def check_epoch(cursor: str | None, epoch: Epoch, parameter: str = "cursor") -> None:
    """Refuse (410) a cursor made in another epoch of the store: its position would be read against a change
    log or rows that are not the ones it was made in. A cursor without an epoch was handed out before
    epochs existed; it is taken only while the store has the epoch its schema was given then, that is,
    until the first restore (after which it may have come from a store the restore replaced)."""
    if cursor is None:
        return
    made_in = _read(cursor, parameter).get("e")
    if made_in == epoch.name or (made_in is None and epoch.origin == "migration"):
        return
    raise StaleCursor(parameter)


def cursor_epoch(conn: Connection, cursor: str | None, parameter: str = "cursor") -> str:
    """In a page's read snapshot: refuse `cursor` if it is of another epoch (`check_epoch`), and return the
    epoch the page's own cursors are made in."""
    epoch = store_epoch(conn)
    check_epoch(cursor, epoch, parameter)
    return epoch.name


def link_header(url: str) -> str:
    return f'<{url}>; rel="next"'


def public_url(request: Request, url: URL) -> str:
    """`url` as clients must see it: on the configured public base URL when there is one."""
    base = request.app.state.settings.public_base_url.rstrip("/")
    if not base:
        return str(url)
    return base + url.path + (f"?{url.query}" if url.query else "")


def next_link(request: Request, cursor: str | None, parameter: str = "cursor") -> dict[str, str]:
    """The `Link` header of the page after this one (this request with `parameter` set to `cursor`), or
    no header on the last page."""
    if cursor is None:
        return {}
    return {"Link": link_header(public_url(request, request.url.include_query_params(**{parameter: cursor})))}
