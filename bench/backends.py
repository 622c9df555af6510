"""The same API on SQLite and on PostgreSQL, with 1 and 2 workers, side by side in one run: the condition
query with the response cache (as deployed), without it (every request built from the database), and a
304 revalidation. The PostgreSQL store is generated like the SQLite one (same seed, same write path).

    python bench/backends.py [--claims 10000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import servers, wrk  # noqa: E402
from bench.run import DATA, build, get, workload  # noqa: E402

UNLIMITED = {"LOG_LEVEL": "warning", "RATE_LIMIT_ANONYMOUS": "1000000000/minute"}


def postgres_store(admin_url: str, claims: int, seed: int) -> tuple[str, float | None]:
    """A PostgreSQL database holding `claims` synthetic claims, generated once and then reused."""
    admin = make_url(admin_url)
    name = f"hc_bench_{claims}_{seed}"
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    if exists:
        return url, None
    started = time.perf_counter()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning"}
    subprocess.run(
        [sys.executable, "-m", "app", "generate", "--claims", str(claims), "--seed", str(seed)],
        cwd=servers.ROOT,
        env=env,
        check=True,
        timeout=3600,
    )
    return url, time.perf_counter() - started


def measure(label: str, url: str, workers: int, paths: list[str], args) -> list[wrk.Result]:
    results = []
    for cache, entries in (("kept", "4096"), ("built", "0")):
        env = {**UNLIMITED, "DATABASE_URL": url, "RESPONSE_CACHE_ENTRIES": entries}
        with servers.uvicorn("app.main:app", workers, env, ready_path="/healthz") as base:
            wrk.run("warm-up", base, paths, seconds=1, connections=8)
            results.append(
                wrk.run(
                    f"{label}, {workers}w, condition ({cache})",
                    base,
                    paths,
                    seconds=args.seconds,
                    connections=args.connections,
                )
            )
            if cache == "kept":
                etag = get(base, paths[0])[1].get("etag", "")
                results.append(
                    wrk.run(
                        f"{label}, {workers}w, 304",
                        base,
                        [paths[0]],
                        seconds=args.seconds,
                        connections=args.connections,
                        headers={"If-None-Match": etag},
                    )
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    wrk.require_wrk()
    sqlite_path, sqlite_built = build(args.claims, args.seed)
    postgres_url, postgres_built = postgres_store(args.postgres, args.claims, args.seed)
    for name, built in (("SQLite", sqlite_built), ("PostgreSQL", postgres_built)):
        print(f"{name}: {args.claims:,} claims, " + (f"generated in {built:.1f} s" if built else "reused"))
    with ExitStack() as stack:
        probe = stack.enter_context(
            servers.uvicorn("app.main:app", 1, {**UNLIMITED, "DATABASE_URL": f"sqlite:///{sqlite_path}"}, "/healthz")
        )
        paths = workload(sqlite_path, probe, random.Random(args.seed))["ours: claims?condition=X"]
    results = []
    for label, url in (("SQLite", f"sqlite:///{sqlite_path}"), ("PostgreSQL", postgres_url)):
        for workers in (1, 2):
            results += measure(label, url, workers, paths, args)
    print(f"\n{args.claims:,} claims, {args.connections} connections, {args.seconds:g} s each:")
    print(wrk.HEADER)
    for result in results:
        print(result.row())
    out = DATA / f"backends-{args.claims}.json"
    out.write_text(json.dumps([vars(r) for r in results], indent=2))
    print(f"\nfigures written to {out}")


if __name__ == "__main__":
    main()
