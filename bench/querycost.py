"""Per-query cost without HTTP: the ordered condition lookup (a page of pks from the facets index), a
whole list page (lookup, documents, embedded references), the same page's body as the lean read makes it
(`content.lean`: driver-level statements on a raw connection) and a two-word search, timed in-process."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import orjson
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.content.lean import Ask, State, read_page
from app.content.queries import Filters, facet_groups, list_page
from app.content.resources import RESOURCES
from app.content.vocab import TherapyType
from app.core.config import Settings
from app.core.db import Database

SEARCHES = [
    "barrier function",
    "microbial diversity",
    "leaky gut",
    "symptom severity",
    "immune tolerance",
    "mucosal healing",
    "inflammatory markers",
    "quality of life",
]

FTS_TOP20 = "SELECT rowid FROM search_index WHERE search_index MATCH ? ORDER BY rank LIMIT 20"


def _timed(samples: list[float], run, cpu: list[float] | None = None) -> None:
    started, started_cpu = time.perf_counter(), time.thread_time()
    run()
    samples.append((time.perf_counter() - started) * 1000)
    if cpu is not None:  # CPU time of this thread: what a request costs, less sensitive to a busy machine
        cpu.append((time.thread_time() - started_cpu) * 1000)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)],
        "n": len(ordered),
    }


def _body(page) -> bytes:
    return orjson.dumps({"items": page.items, "next_cursor": None})


def _lean_body(found) -> bytes:
    items = [orjson.Fragment(body) for body in found.bodies] if found else []
    return orjson.dumps({"items": items, "next_cursor": None})


def measure(database: Path, conditions: list[str], iterations: int = 300, seed: int = 7) -> dict[str, dict]:
    db = Database.from_settings(Settings(database_url=f"sqlite:///{database}"))
    rng = random.Random(seed)
    from app.content.queries import _faceted_pks  # the lookup a filtered page starts with

    lookup, page, search, ranked = [], [], [], []
    built, built_cpu, kept, kept_cpu, lean_body, lean_cpu = [], [], [], [], [], []
    pair_kept_cpu, pair_lean_cpu = [], []
    interrupted = 0
    spec = RESOURCES["claim"]
    try:
        from app.search.service import search as run_search
    except ImportError:
        run_search = None
    try:
        for _ in range(iterations):  # one read transaction per sample, as a request has
            with db.read() as conn:
                filters = Filters(condition=[rng.choice(conditions)])
                groups = facet_groups(conn, filters)
                query = _faceted_pks("claim", groups, ("published",)).subquery()
                ordered = select(query.c.pk).order_by(query.c.pk).limit(21)
                _timed(lookup, lambda q=ordered, c=conn: c.execute(q).scalars().all())
                _timed(page, lambda f=filters, c=conn: list_page(c, spec, f, after=0, limit=20))
                # The response body as the route makes it: built from the tables, or joined from the read model.
                _timed(built, lambda f=filters, c=conn: _body(list_page(c, spec, f, after=0, limit=20)), built_cpu)
                _timed(
                    kept,
                    lambda f=filters, c=conn: _body(list_page(c, spec, f, after=0, limit=20, rendered=True)),
                    kept_cpu,
                )
        for _ in range(iterations):  # the lean read's statements, on the thread's own SQLite connection
            ask = Ask(Filters(condition=[rng.choice(conditions)]), 20, 0, None)
            with db.peek_snapshot() as execute:
                if execute is not None:
                    _timed(lean_body, lambda a=ask, e=execute: _lean_body(read_page(e, a, State(0, ""))), lean_cpu)
        for _ in range(iterations):  # a condition and a therapy type: the router's page, then the lean read's
            filters = Filters(condition=[rng.choice(conditions)], therapy_type=[rng.choice(list(TherapyType))])
            with db.read() as conn:
                _timed(
                    [],
                    lambda f=filters, c=conn: _body(list_page(c, spec, f, after=0, limit=20, rendered=True)),
                    pair_kept_cpu,
                )
            with db.peek_snapshot() as execute:
                if execute is not None:
                    ask = Ask(filters, 20, 0, None)
                    _timed([], lambda a=ask, e=execute: _lean_body(read_page(e, a, State(0, ""))), pair_lean_cpu)
        for _ in range(iterations // 3 if run_search else 0):
            words = rng.choice(SEARCHES)
            try:
                with db.read() as conn:
                    _timed(search, lambda w=words, c=conn: run_search(c, w, Filters(), offset=0, limit=20))
            except OperationalError:  # past the query time limit: counted as the limit itself
                search.append(db.query_timeout_s * 1000)
                interrupted += 1
            with db.read() as conn:  # the ranked full-text lookup alone, as a phrase
                phrase = '"' + words + '"'
                _timed(ranked, lambda p=phrase, c=conn: c.exec_driver_sql(FTS_TOP20, (p,)).all())
    finally:
        db.dispose()
    out = {
        "ordered condition lookup": _summary(lookup),
        "condition list page (no HTTP)": _summary(page),
        "condition body, built from tables": _summary(built),
        "  (CPU of the same)": _summary(built_cpu),
        "condition body, from the read model": _summary(kept),
        "  (CPU of the same) ": _summary(kept_cpu),
    }
    if lean_body:
        out["condition body, lean read (driver-level)"] = _summary(lean_body)
        out["  (CPU of the same)  "] = _summary(lean_cpu)
    if pair_lean_cpu:
        out["condition+therapy_type body, from the read model (CPU)"] = _summary(pair_kept_cpu)
        out["condition+therapy_type body, lean read (CPU)"] = _summary(pair_lean_cpu)
    if search:
        out["two-word search service, top 20"] = _summary(search) | {"interrupted": interrupted}
        out["two-word FTS5 phrase, ranked, top 20"] = _summary(ranked)
    return out
