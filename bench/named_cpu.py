"""CPU per answer of `bench/filters.py`'s named combinations, in-process (the app under a test client, the
response cache off): process CPU time over the answers, which a loaded machine inflates far less than
wall time. Run with `--code DIR` for another revision's `app` (exported with `git archive`).

    python bench/named_cpu.py [--size 100000] [--repeats 5] [--code DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--code", type=Path, default=ROOT)
    args = parser.parse_args()
    database = ROOT / "bench" / ".data" / f"claims-{args.size}.db"
    os.environ.update(
        DATABASE_URL=f"sqlite:///{database}",
        RESPONSE_CACHE_ENTRIES="0",
        RATE_LIMIT_ANONYMOUS="1000000000/minute",
        LOG_LEVEL="warning",
    )
    sys.path.insert(0, str(args.code.resolve()))
    sys.path.insert(1, str(ROOT))
    import logging

    from fastapi.testclient import TestClient

    from app.main import create_app
    from bench.filters import _keys, named

    logging.getLogger("httpx").setLevel(logging.WARNING)
    paths = named(_keys(database), random.Random(args.seed))
    with TestClient(create_app()) as client:
        for path in paths.values():  # warm the page cache and the search vocabulary
            client.get(path)
        print(f"code: {args.code}; {args.size} claims; CPU ms per answer, median and max of {args.repeats}")
        for label, path in paths.items():
            samples = []
            for _ in range(args.repeats):
                started = time.process_time()
                assert client.get(path).status_code == 200
                samples.append((time.process_time() - started) * 1000)
            print(f"{label:70} {statistics.median(samples):8.1f} {max(samples):8.1f}")


if __name__ == "__main__":
    main()
