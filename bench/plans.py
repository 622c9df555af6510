"""The filter plans without HTTP: CPU time of a list page (`list_page`, the rendered public page a cold
request builds) for a condition's first page, a condition with a therapy type, and page 50 of a popular
condition, in alternating order, with the ratios the performance issue sets (each within 1.5x of the
condition's first page).

    python bench/plans.py [--size 100000] [--samples 300] [--code DIR]

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
TYPES = ["probiotic", "prebiotic", "microbiota-transplant", "diet", "lifestyle", "dietary-supplement"]


def _conditions(database: Path, minimum: int = 1) -> list[str]:
    with sqlite3.connect(database) as conn:
        return [
            key
            for (key,) in conn.execute(
                "select substr(facet, 11) from facets where resource = 'claim' and facet like 'condition:%' "
                "and status = 'published' group by facet having count(*) >= ? order by facet",
                (minimum,),
            )
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--code", type=Path, default=ROOT)
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    from app.content.queries import Filters, list_page
    from app.content.resources import RESOURCES
    from app.core.config import Settings
    from app.core.db import Database

    database = ROOT / "bench" / ".data" / f"claims-{args.size}.db"
    if not database.exists():
        sys.exit(f"no store of {args.size} claims: make it with bench/run.py first")
    rng = random.Random(args.seed)
    conditions = rng.sample(_conditions(database), min(300, len(_conditions(database))))
    popular = _conditions(database, 1000)
    spec = RESOURCES["claim"]
    db = Database.from_settings(Settings(database_url=f"sqlite:///{database}"))
    deep: list[tuple[str, int]] = []
    with db.read() as conn:  # where page 50 of each popular condition starts, found by following the pages
        for condition in popular[:12]:
            after = 0
            for _ in range(49):
                page = list_page(conn, spec, Filters(condition=[condition]), after=after, limit=20, rendered=True)
                if page.last_position is None:
                    break
                after = page.last_position
            else:
                deep.append((condition, after))
    cases = {
        "condition=X, page 1": lambda: (Filters(condition=[rng.choice(conditions)]), 0),
        "condition=X&therapy_type=T": lambda: (
            Filters(condition=[rng.choice(conditions)], therapy_type=[rng.choice(TYPES)]),
            0,
        ),
        "condition=X, page 50": lambda: (lambda c, a: (Filters(condition=[c]), a))(*rng.choice(deep)),
    }
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for _ in range(args.samples):
            for name, make in cases.items():  # alternating, so drift on a busy machine hits all alike
                filters, after = make()
                with db.read() as conn:
                    started = time.thread_time()
                    list_page(conn, spec, filters, after=after, limit=20, rendered=True)
                    cpu[name].append((time.thread_time() - started) * 1000)
    finally:
        db.dispose()
    base = statistics.mean(cpu["condition=X, page 1"])
    print(f"code: {args.code}; {args.size} claims; {args.samples} samples each; CPU ms of the page's build")
    print(f"{'case':32} {'mean':>8} {'p50':>8} {'p99':>8} {'max':>8}  ratio (mean, target <= 1.5x)")
    for name, samples in cpu.items():
        ordered = sorted(samples)
        p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
        mean, p50 = statistics.mean(ordered), statistics.median(ordered)
        print(f"{name:32} {mean:8.2f} {p50:8.2f} {p99:8.2f} {ordered[-1]:8.2f}  {mean / base:5.2f}x")


if __name__ == "__main__":
    main()
