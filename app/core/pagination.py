"""Opaque keyset cursors and the Link header. A cursor names the resource it pages, so one taken from
another list, or edited by hand, is a 422 rather than a wrong page."""

from __future__ import annotations

import base64
import binascii

import orjson

from app.core.errors import BadParameter

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(scope: str, position: int) -> str:
    raw = orjson.dumps({"s": scope, "p": position})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(scope: str, cursor: str | None, parameter: str = "cursor") -> int:
    """The position after which the next page starts (0: from the beginning)."""
    if cursor is None:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        position = data["p"]
        if data["s"] != scope or not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError, orjson.JSONDecodeError):
        raise BadParameter(parameter, "is not a cursor this list handed out") from None
    return position


def link_header(url: str) -> str:
    return f'<{url}>; rel="next"'
