"""Per-query cost without HTTP: the ordered condition lookup (a page of pks from the facets index), a
whole list page (lookup, documents, embedded references) and a two-word search, timed in-process."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from sqlalchemy import select

from app.content.queries import Filters, facet_groups, list_page
from app.content.resources import RESOURCES
from app.core.config import Settings
from app.core.db import Database

SEARCHES = ["barrier function", "microbial diversity", "leaky gut", "symptom severity", "immune tolerance",
            "mucosal healing", "inflammatory markers", "quality of life"]


def _timed(samples: list[float], run) -> None:
    started = time.perf_counter()
    run()
    samples.append((time.perf_counter() - started) * 1000)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": statistics.median(ordered), "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)],
            "n": len(ordered)}


def measure(database: Path, conditions: list[str], iterations: int = 300, seed: int = 7) -> dict[str, dict]:
    db = Database.from_settings(Settings(database_url=f"sqlite:///{database}"))
    rng = random.Random(seed)
    from app.content.queries import _faceted_pks  # the lookup a filtered page starts with

    lookup, page, search = [], [], []
    spec = RESOURCES["claim"]
    try:
        with db.read() as conn:
            for _ in range(iterations):
                filters = Filters(condition=[rng.choice(conditions)])
                groups = facet_groups(conn, filters)
                query = _faceted_pks("claim", groups, ("published",)).subquery()
                ordered = select(query.c.pk).order_by(query.c.pk).limit(21)
                _timed(lookup, lambda q=ordered: conn.execute(q).scalars().all())
                _timed(page, lambda f=filters: list_page(conn, spec, f, after=0, limit=20))
            try:
                from app.search.service import search as run_search
            except ImportError:
                run_search = None
            if run_search is not None:
                for _ in range(iterations // 3):
                    words = rng.choice(SEARCHES)
                    _timed(search, lambda w=words: run_search(conn, w, Filters(), offset=0, limit=20))
    finally:
        db.dispose()
    out = {"ordered condition lookup": _summary(lookup), "condition list page (no HTTP)": _summary(page)}
    if search:
        out["two-word search, top 20 (no HTTP)"] = _summary(search)
    return out
