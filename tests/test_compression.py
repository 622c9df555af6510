"""Compression: large text-like answers in the best encoding the client accepts, `Vary: Accept-Encoding`,
the same bytes whether a route made the answer or it was kept, and a kept answer compressed once."""

from __future__ import annotations

import gzip

import brotli
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api import compression
from tests.conftest import client_for

DECODE = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda body: zstandard.ZstdDecompressor().decompressobj().decompress(body),
    None: lambda body: body,
}


def raw_get(client, path: str, **headers) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the bytes as sent (the HTTP client would otherwise decode them)."""
    with client.stream("GET", path, headers=headers) as response:
        return response.status_code, dict(response.headers), b"".join(response.iter_raw())


@pytest.mark.parametrize("path", ["/v1/claims?limit=100", "/v1/feed.atom", "/v1/feed.json", "/openapi.json"])
@pytest.mark.parametrize("encoding", ["zstd", "br", "gzip"])
def test_large_answers_come_in_the_encoding_asked_for(client, path, encoding):
    _, _, plain = raw_get(client, path, **{"Accept-Encoding": "identity"})
    for attempt in ("made by the route", "kept"):
        status, headers, sent = raw_get(client, path, **{"Accept-Encoding": encoding})
        assert status == 200
        assert headers.get("content-encoding") == encoding, (path, attempt)
        assert "accept-encoding" in headers["vary"].lower()
        assert int(headers["content-length"]) == len(sent) < len(plain) / 2
        assert DECODE[encoding](sent) == plain, (path, attempt)


def test_the_best_accepted_encoding_wins_and_a_zero_quality_refuses(client):
    path = "/v1/claims?limit=100"
    cases = {
        "gzip, deflate, br, zstd": "zstd",
        "gzip, br": "br",
        "br;q=0, gzip": "gzip",
        "zstd;q=0, *": "br",
        "identity": None,
        "": None,
        "compress": None,
    }
    for accept, expected in cases.items():
        for _ in range(2):  # the route's answer, then the kept one
            _, headers, sent = raw_get(client, path, **{"Accept-Encoding": accept})
            assert headers.get("content-encoding") == expected, accept
            assert DECODE[expected](sent)


def test_small_and_already_compressed_answers_are_left_alone(client):
    for path in ("/healthz", "/v1/claims?limit=1"):
        _, headers, sent = raw_get(client, path, **{"Accept-Encoding": "gzip, br, zstd"})
        assert "content-encoding" not in headers and len(sent) < compression.MIN_BYTES
    _, headers, sent = raw_get(client, "/v1/export", **{"Accept-Encoding": "gzip, br, zstd"})
    assert "content-encoding" not in headers and headers["content-type"] == "application/gzip"
    assert gzip.decompress(sent)


def test_a_revalidation_is_a_bodyless_304_in_any_encoding(client):
    first = client.get("/v1/claims?limit=100", headers={"Accept-Encoding": "br"})
    for accept in ("br", "gzip", "zstd", "identity"):
        status, headers, sent = raw_get(
            client, "/v1/claims?limit=100", **{"Accept-Encoding": accept, "If-None-Match": first.headers["etag"]}
        )
        assert status == 304 and sent == b"" and "content-encoding" not in headers


def test_a_kept_answer_is_compressed_once_per_encoding(client, monkeypatch):
    made = []
    real = compression.compress
    monkeypatch.setattr(compression, "compress", lambda encoding, body: made.append(encoding) or real(encoding, body))
    for _ in range(5):
        for encoding in ("br", "gzip"):
            raw_get(client, "/v1/topics?limit=100", **{"Accept-Encoding": encoding})
    assert sorted(made) == ["br", "gzip"]


TOKENS = st.sampled_from(["gzip", "br", "zstd", "deflate", "identity", "*", "compress", "x-gzip"])
QUALITY = st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=0.0", ";q=bad"])


@pytest.fixture
def unlimited(seeded_db):
    with client_for(seeded_db, rate_limit_anonymous="1000000/minute") as client:
        yield client


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.tuples(TOKENS, QUALITY), max_size=4))
def test_kept_answers_negotiate_as_the_middleware_does(unlimited, items):
    """The encoding of a kept answer is the one the compression middleware picks for the route's answer."""
    client = unlimited
    accept = ", ".join(token + quality for token, quality in items)
    client.app.state.response_cache.clear()
    _, by_route, sent_by_route = raw_get(client, "/v1/quotes?limit=50", **{"Accept-Encoding": accept})
    _, kept, sent_kept = raw_get(client, "/v1/quotes?limit=50", **{"Accept-Encoding": accept})
    assert by_route.get("content-encoding") == kept.get("content-encoding"), accept
    encoding = kept.get("content-encoding")
    assert DECODE[encoding](sent_by_route) == DECODE[encoding](sent_kept)
