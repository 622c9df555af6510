"""Search past its cap, against a model (fixed seed, bounded examples): for random words, filters and
caps, the hits a capped search returns, followed page by page, are exactly the uncapped hits (same order,
same scores) whose index id is at least the cap-th highest id among the text's published matches, plus
every matching condition, therapy and expert; `complete` says whether the cap cut anything; the facet
counts are the counts over exactly those hits."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.content.queries import Filters
from app.content.resources import RESOURCES
from app.search import service
from app.search.index import row_id

WORDS = [
    "gut",
    "microbiome",
    "probiotics",
    "diet",
    "inflammation",
    "immune",
    "disease",
    "university",
    "professor",
    "md",
]
TYPES = ["probiotic", "prebiotic", "diet", "lifestyle"]


def _ids(conn, items) -> dict[tuple[str, str], int]:
    out = {}
    for name in {item["resource"] for item in items}:
        spec = RESOURCES[name]
        keys = [item["key"] for item in items if item["resource"] == name]
        column = spec.table.c.get(spec.key_field, spec.table.c.key)
        for pk, key in conn.execute(select(spec.table.c.pk, column).where(column.in_(keys))):
            out[(name, str(key))] = row_id(name, pk)
    return out


def _all(conn, q, filters, page):
    items, offset = [], 0
    while True:
        found = service.search(conn, q, filters, offset=offset, limit=page)
        items += found["items"]
        if not found["more"]:
            return items, found["facets"]
        offset += page


@pytest.fixture(scope="module")
def store(templates):
    from tests.conftest import _database

    yield from (db for _, db in _database(templates, "seeded", True))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    q=st.sampled_from(WORDS),
    types=st.lists(st.sampled_from(TYPES), max_size=2, unique=True),
    cap=st.integers(1, 40),
    page=st.integers(3, 50),
)
def test_a_capped_search_returns_exactly_the_modelled_hits(store, monkeypatch, q, types, cap, page):
    filters = Filters(therapy_type=types)
    with store.read() as conn:
        monkeypatch.setattr(service, "SEARCH_HITS", 10**6)
        matches, _ = _all(conn, q, Filters(), 1000)
        full, _ = _all(conn, q, filters, 1000)
        monkeypatch.setattr(service, "SEARCH_HITS", cap)
        capped, facets = _all(conn, q, filters, page)
        ids = _ids(conn, matches)
    ordered_ids = sorted((ids[(m["resource"], m["key"])] for m in matches), reverse=True)
    cut = len(ordered_ids) > cap
    floor = ordered_ids[cap - 1] if cut else 0
    expected = [h for h in full if ids[(h["resource"], h["key"])] >= floor or h["resource"] in service.VOCABULARIES]
    assert [(h["resource"], h["key"], h["score"]) for h in capped] == [
        (h["resource"], h["key"], h["score"]) for h in expected
    ]
    assert facets["complete"] is (not cut)
    assert facets["resource"] == dict(sorted(Counter(h["resource"] for h in expected).items()))
