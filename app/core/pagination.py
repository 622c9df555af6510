"""Paging, the same way for every list, search, revisions and changes: a query asks one row past the page
(`paged`), `split_page` tells whether another page follows, the cursor is opaque and names the list it
pages (one taken from another list, or edited by hand, is a 422 rather than a wrong page), and
`next_link` gives the `Link` header of the next page on the public base URL (`PUBLIC_BASE_URL`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select
from starlette.datastructures import URL
from starlette.requests import Request

from app.core.errors import BadParameter

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


def encode_cursor(scope: str, position: int) -> str:
    raw = orjson.dumps({"s": scope, "p": position})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Positions are row ids or offsets: a cursor we hand out never holds more than a 64-bit signed integer,
# and content rows are 32-bit on PostgreSQL. A larger position is refused here, before any query sees it.
MAX_POSITION = 2**31 - 1
MAX_SEQ = 2**63 - 1  # the change log's numbers (64-bit)


def decode_cursor(scope: str, cursor: str | None, parameter: str = "cursor", maximum: int = MAX_POSITION) -> int:
    """The position after which the next page starts (0: from the beginning); past `maximum` is a 422."""
    if cursor is None:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        position = data["p"]
        if (
            data["s"] != scope
            or not isinstance(position, int)
            or isinstance(position, bool)
            or not 0 <= position <= maximum
        ):
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError, orjson.JSONDecodeError):
        raise BadParameter(parameter, "is not a cursor this list handed out") from None
    return position


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
