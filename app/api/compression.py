"""Compression: zstd, Brotli or gzip, whichever the client accepts first in that order, for bodies of at
least `MIN_BYTES` in a text-like media type. Responses made by a route are compressed on their way out by
`starlette-compress`'s middleware; a kept response (see app.api.caching) is compressed once per encoding,
when a client first asks for it in that encoding, and served from then on as stored, so the hot path never
compresses."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import brotli
import zstandard
from starlette_compress import add_compress_type

MIN_BYTES = 1024  # below this, the headers and the codec's framing eat most of what compression saves

# Server preference, best first; the same order `CompressMiddleware` applies.
ENCODINGS = ("zstd", "br", "gzip")

# One set of levels for the middleware and for kept answers, so the same answer is the same bytes whichever
# of the two compressed it (gzip aside: its header carries the time it was made).
LEVELS = {"zstd": 4, "br": 4, "gzip": 4}
_KEPT_CODECS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": zstandard.ZstdCompressor(level=LEVELS["zstd"]).compress,
    "br": lambda body: brotli.compress(body, quality=LEVELS["br"]),
    "gzip": lambda body: gzip.compress(body, compresslevel=LEVELS["gzip"], mtime=0),
}

# The library's list of compressible types lacks these two of ours.
for _media_type in ("application/feed+json", "application/problem+json"):
    add_compress_type(_media_type)

COMPRESSIBLE = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/feed+json",
        "application/atom+xml",
        "application/problem+json",
        "text/html",
        "text/plain",
        "text/css",
        "application/javascript",
        "text/javascript",
    }
)


def negotiate(accept_encoding: str | None) -> str | None:
    """The encoding to send, from an `Accept-Encoding` value: the first of `ENCODINGS` it accepts (a
    q-value of 0 refuses; `*` accepts any not named), or None for the body as is."""
    if not accept_encoding:
        return None
    accepted: set[str] = set()
    refused: set[str] = set()
    wildcard = False  # as the middleware reads it: a `*` accepted anywhere stays accepted
    for item in accept_encoding.lower().split(","):  # in order: a later refusal withdraws an acceptance
        coding, _, params = item.partition(";")
        coding = coding.strip()
        if not coding:
            continue
        if _quality(params) > 0:
            accepted.add(coding)
            wildcard = wildcard or coding == "*"
        else:
            refused.add(coding)
            accepted.discard(coding)
    if wildcard:
        accepted |= set(ENCODINGS) - refused
    return next((encoding for encoding in ENCODINGS if encoding in accepted), None)


def _quality(params: str) -> float:
    """The first `q` parameter's value (1 without one; 0 if it is not a number)."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def compressible(media_type: str | None, size: int) -> bool:
    return size >= MIN_BYTES and (media_type or "").split(";")[0].strip().lower() in COMPRESSIBLE


def compress(encoding: str, body: bytes) -> bytes:
    return _KEPT_CODECS[encoding](body)
