"""Search without HTTP: CPU time of `search` (the hits, the page and the facet counts) for random
filtered searches like the mix of bench/filters.py (a word, then 1 to all of condition, therapy and
therapy_type with 1 to the cap of values each), and for the same words unfiltered, alternating.

    python bench/search.py [--size 100000] [--samples 200] [--code DIR] [--store FILE]

`--code DIR` times the `app` package found in DIR instead of this checkout's (a "before" from another
revision, exported with `git archive REV app | tar -x -C DIR`), so both can be measured in the same minute.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["gut", "group", "barrier function", "diet"]
TYPES = ["probiotic", "prebiotic", "microbiota-transplant", "diet", "lifestyle", "dietary-supplement"]


def _keys(database: Path) -> dict[str, list[str]]:
    with sqlite3.connect(database) as conn:
        return {
            name: [key for (key,) in conn.execute(f"select key from {table} where status = 'published'")]  # noqa: S608
            for name, table in (("condition", "conditions"), ("therapy", "therapies"))
        } | {"therapy_type": TYPES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--store", type=Path, help="another copy of the store (e.g. at an older migration)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    from app.content.queries import MAX_FILTER_VALUES, Filters
    from app.core.config import Settings
    from app.core.db import Database
    from app.search.service import search

    database = args.store or ROOT / "bench" / ".data" / f"claims-{args.size}.db"
    if not database.exists():
        sys.exit(f"no store of {args.size} claims: make it with bench/run.py first")
    keys = _keys(database)
    rng = random.Random(args.seed)

    def filtered() -> Filters:
        chosen = rng.sample(list(keys), rng.randint(1, len(keys)))
        values = {
            name: rng.sample(keys[name], min(len(keys[name]), rng.randint(1, MAX_FILTER_VALUES))) for name in chosen
        }
        return Filters(**values)

    cases = {"filtered": filtered, "unfiltered": Filters}
    db = Database.from_settings(Settings(database_url=f"sqlite:///{database}"))
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for _ in range(args.samples):
            for name, make in cases.items():  # alternating, so drift on a busy machine hits all alike
                filters, word = make(), rng.choice(WORDS)
                with db.read() as conn:
                    started = time.thread_time()
                    search(conn, word, filters, offset=0, limit=20)
                    cpu[name].append((time.thread_time() - started) * 1000)
    finally:
        db.dispose()
    print(f"code: {args.code}; {args.size} claims; {args.samples} samples each; CPU ms of a search")
    print(f"{'case':12} {'mean':>8} {'p50':>8} {'p99':>8} {'max':>8}")
    for name, samples in cpu.items():
        ordered = sorted(samples)
        p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
        print(
            f"{name:12} {statistics.mean(ordered):8.2f} {statistics.median(ordered):8.2f} {p99:8.2f} {ordered[-1]:8.2f}"
        )


if __name__ == "__main__":
    main()
