"""The benchmark: our API against Datasette on the same SQLite file, a bare ASGI app (the limit) and a
no-database FastAPI route (the floor), on 127.0.0.1, at 10k and 100k synthetic claims (1M with
--million). Targets are measured in alternating rounds so that drift on a shared machine hits all alike.

    python bench/run.py [--sizes 10000,100000] [--million] [--seconds 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import cold, querycost, servers, wrk  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data"
FLOOR_FULL = "floor: FastAPI, no database, ~20 KB body"
THERAPY_TYPES = [
    "probiotic",
    "prebiotic",
    "microbiota-transplant",
    "diet",
    "lifestyle",
    "precision-medicine",
    "dietary-supplement",
    "pharmacological",
]


def build(size: int, seed: int, rebuild: bool = False) -> tuple[Path, float | None]:
    """The database of `size` claims, made with `python -m app generate` unless it is already there (or
    `rebuild`: then the wall time of making it is the import figure)."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"claims-{size}.db"
    if path.exists() and not rebuild:
        with sqlite3.connect(path) as conn:
            try:
                if conn.execute("select count(*) from claims").fetchone()[0] >= size:
                    return path, None
            except sqlite3.Error:
                pass
    for stale in DATA.glob(f"claims-{size}.db*"):
        stale.unlink()
    started = time.perf_counter()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "LOG_LEVEL": "warning"}
    subprocess.run(
        [sys.executable, "-m", "app", "generate", "--claims", str(size), "--seed", str(seed)],
        cwd=servers.ROOT,
        env=env,
        check=True,
        timeout=3600,
    )
    elapsed = time.perf_counter() - started
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, elapsed


def get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def workload(database: Path, base: str, rng: random.Random) -> dict[str, list[str]]:
    """The paths each of our targets picks from; optional routes only where the running API has them."""
    with sqlite3.connect(database) as conn:
        conditions = [
            k
            for (k,) in conn.execute(
                "select distinct substr(facet, 11) from facets where resource = 'claim' and facet like 'condition:%'"
            )
        ]
        claims = [
            k for (k,) in conn.execute("select key from claims where status = 'published' order by random() limit 2000")
        ]
    api_paths = set(json.loads(get(base, "/openapi.json")[2]).get("paths", {}))
    picked = rng.sample(conditions, min(300, len(conditions)))
    paths = {
        "ours: claims?condition=X": [f"/v1/claims?condition={c}" for c in picked],
        "ours: claims?therapy_type=T": [f"/v1/claims?therapy_type={t}" for t in THERAPY_TYPES],
        "ours: claims/{id}": [f"/v1/claims/{k}" for k in claims],
    }
    if "/v1/search" in api_paths:
        paths["ours: search?q=two words"] = [f"/v1/search?q={quote(q)}" for q in querycost.SEARCHES]
    if "/v1/feed.json" in api_paths:
        paths["ours: feed.json?condition=X"] = [f"/v1/feed.json?condition={c}" for c in picked[:100]]
    if "/v1/changes" in api_paths:
        cursors, since = [], None
        for _ in range(20):
            body = json.loads(get(base, "/v1/changes?limit=100" + (f"&since={since}" if since else ""))[2])
            since = body.get("next_cursor")
            if not since:
                break
            cursors.append(since)
        paths["ours: changes?since=C"] = [f"/v1/changes?since={c}" for c in cursors] or ["/v1/changes"]
    paths["_conditions"] = picked
    return paths


def replay_changes(base: str) -> float | None:
    """Seconds to read the whole change log from the start, 100 per page, as a partner's first sync."""
    if get(base, "/v1/changes?limit=1")[0] != 200:
        return None
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    started, since, pages = time.perf_counter(), None, 0
    try:
        while True:
            conn.request("GET", "/v1/changes?limit=100" + (f"&since={since}" if since else ""))
            body = json.loads(conn.getresponse().read())
            pages += 1
            if not body["items"]:
                return time.perf_counter() - started
            since = body["next_cursor"]
    finally:
        conn.close()


def merge(results: list[wrk.Result]) -> wrk.Result:
    """Rounds of one target as one figure: total requests over total time, the worst p99 and max."""
    duration = sum(r.requests / r.rps for r in results if r.rps)
    requests = sum(r.requests for r in results)
    return wrk.Result(
        results[0].name,
        requests,
        requests / duration if duration else 0.0,
        sorted(r.p50_ms for r in results)[len(results) // 2],
        max(r.p99_ms for r in results),
        max(r.max_ms for r in results),
        sum(r.errors for r in results),
        sum(r.timeouts for r in results),
    )


def run_size(size: int, args, rng: random.Random) -> dict:
    database, built_in = build(size, args.seed, args.rebuild)
    print(
        f"\n=== {size:,} claims ({database.name}, {f'built in {built_in:.1f} s' if built_in else 'reused'}) ===",
        flush=True,
    )
    out: dict = {"size": size, "build_seconds": built_in}
    if built_in is not None:
        print(f"import: {size:,} claims through the write path in {built_in:.1f} s wall (target <= 20 s at 100k)")
    if "hot" not in args.parts:
        out.update(_other_parts(database, args, rng))
        return out
    with ExitStack() as stack:
        ours = stack.enter_context(servers.ours(database, workers=2))
        paths = workload(database, ours, rng)
        conditions = paths.pop("_conditions")
        hot = paths["ours: claims?condition=X"][0]
        etag = get(ours, hot)[1].get("etag", "")
        targets: list[tuple[str, str, list[str], dict[str, str]]] = [(n, ours, p, {}) for n, p in paths.items()]
        targets.append(("ours: 304 If-None-Match, hot list", ours, [hot], {"If-None-Match": etag}))
        if not args.no_datasette:
            ds = stack.enter_context(servers.datasette(database))
            name = database.stem
            targets.append(
                (
                    "datasette: condition, join+sort",
                    ds,
                    [f"/{name}/claims_for_condition.json?_shape=array&condition={c}" for c in conditions],
                    {},
                )
            )
            targets.append(
                (
                    "datasette: condition, facets index",
                    ds,
                    [f"/{name}/claims_for_condition_indexed.json?_shape=array&condition={c}" for c in conditions],
                    {},
                )
            )
        limit = stack.enter_context(servers.uvicorn("bench.peers:limit_app", 2))
        floor = stack.enter_context(servers.uvicorn("bench.peers:floor_app", 2, ready_path="/v1/claims"))
        targets.append(("limit: bare ASGI, fixed 2 KB", limit, ["/"], {}))
        targets.append(("floor: FastAPI, no database", floor, [f"/v1/claims?condition={c}" for c in conditions], {}))
        targets.append((FLOOR_FULL, floor, [f"/v1/claims-full?condition={c}" for c in conditions], {}))
        # Warm caches and workers the way a service in use is warm: at the measured load, long enough for
        # each worker to have met most of a target's paths (a detail's 2,000 records stay part miss).
        for _, base, target_paths, headers in targets:
            wrk.run("warm-up", base, target_paths, seconds=args.warmup, connections=args.connections, headers=headers)
        rounds: dict[str, list[wrk.Result]] = {}
        for number in range(args.rounds):
            for name, base, target_paths, headers in targets:
                result = wrk.run(
                    name,
                    base,
                    target_paths,
                    seconds=args.seconds,
                    connections=args.connections,
                    headers=headers,
                )
                rounds.setdefault(name, []).append(result)
            print(f"  round {number + 1}/{args.rounds} done", flush=True)
        merged = {name: merge(results) for name, results in rounds.items()}
        print(f"\n{args.connections} connections, 2 workers, {args.rounds} x {args.seconds:g} s each:")
        print(wrk.HEADER)
        for result in merged.values():
            print(result.row())
        out["results"] = {name: vars(r) for name, r in merged.items()}
        out["ratios"] = ratios(merged)
        for name, value in out["ratios"].items():
            print(f"  {name:<52} {value:6.2f}x")
        stress = [
            wrk.run(
                "ours: 256 connections, 2 workers",
                ours,
                paths["ours: claims?condition=X"],
                seconds=args.seconds,
                connections=256,
            )
        ]
        out["replay_seconds"] = replay_changes(ours) if size <= 100_000 or args.replay else None
    with servers.ours(database, workers=1) as single:
        wrk.run("warm-up", single, paths["ours: claims?condition=X"], seconds=args.warmup, connections=args.connections)
        stress.append(
            wrk.run(
                "ours: 256 connections, 1 worker",
                single,
                paths["ours: claims?condition=X"],
                seconds=args.seconds,
                connections=256,
            )
        )
    print("\nNo collapse (a request over 2 s counts as an error):")
    print(wrk.HEADER)
    for result in stress:
        print(result.row())
    out["stress"] = {r.name: vars(r) for r in stress}
    if out["replay_seconds"] is not None:
        print(f"\nFull /v1/changes replay, 100 per page: {out['replay_seconds']:.1f} s")
    out.update(_other_parts(database, args, rng, paths["ours: claims?condition=X"]))
    if size >= 100_000:
        out["query_cost"] = querycost.measure(database, conditions)
        print("\nPer query, no HTTP:")
        for name, figures in out["query_cost"].items():
            print(f"  {name:<36} p50 {figures['p50_ms']:7.2f} ms   p99 {figures['p99_ms']:7.2f} ms")
    return out


def _other_parts(database: Path, args, rng: random.Random, hot: list[str] | None = None) -> dict:
    """The cold path against Datasette, and hot reads while an editor writes (on a copy of the store)."""
    out: dict = {}
    conditions = [p.split("=", 1)[1] for p in hot] if hot else _conditions(database, rng)
    if "cold" in args.parts:
        out["cold"] = cold.run_cold(database, conditions, args, rng)
    if "writes" in args.parts:
        copy = database.with_name(database.stem + "-writes.db")
        with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        try:
            out["under_writes"] = cold.run_under_writes(copy, [f"/v1/claims?condition={c}" for c in conditions], args)
        finally:
            for stale in DATA.glob(copy.name + "*"):
                stale.unlink()
    return out


def memory(seconds: float) -> dict:
    """The soak with the response cache on and 200 editor writes a minute; the heap's growth over its last
    third (the target is set for an hour: under 5% over the last 20 minutes)."""
    command = [sys.executable, str(Path(__file__).with_name("soak.py")), "--seconds", f"{seconds:g}"]
    command += ["--writes-per-minute", "200", "--samples", "12", "--warmup", f"{min(60.0, seconds / 5):g}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300, check=False)
    report = json.loads(done.stdout[done.stdout.index("{") :]) if "{" in done.stdout else {}
    growth = report.get("heap_last_third_growth_pct")
    print(
        f"\nmemory: {seconds:g} s soak, {report.get('writes_per_minute')} writes/min, heap (RssAnon) growth over "
        f"the last third: {growth}% (target < 5% over the last 20 minutes of an hour); 5xx: "
        f"{report.get('server_errors_5xx')}"
    )
    print(f"  samples [s, VmRSS KiB, RssAnon KiB]: {report.get('rss_kib', {}).get('samples')}")
    return report


def _conditions(database: Path, rng: random.Random) -> list[str]:
    with sqlite3.connect(database) as conn:
        found = [
            k
            for (k,) in conn.execute(
                "select distinct substr(facet, 11) from facets where resource = 'claim' and facet like 'condition:%'"
            )
        ]
    return rng.sample(found, min(300, len(found)))


def ratios(merged: dict[str, wrk.Result]) -> dict[str, float]:
    condition = merged["ours: claims?condition=X"].rps
    out = {}
    for label, name in (
        ("condition / datasette join+sort", "datasette: condition, join+sort"),
        ("condition / datasette given the facets index", "datasette: condition, facets index"),
        ("condition / floor, 2 KB body (FastAPI, no database)", "floor: FastAPI, no database"),
        ("condition / floor, a body of our page's size, ~20 KB (target >= 1.0x)", FLOOR_FULL),
        ("condition / limit (bare ASGI)", "limit: bare ASGI, fixed 2 KB"),
    ):
        if name in merged and merged[name].rps:
            out[label] = condition / merged[name].rps
    out["304 revalidation / floor, 2 KB body (target >= 1.0x)"] = (
        merged["ours: 304 If-None-Match, hot list"].rps / merged["floor: FastAPI, no database"].rps
    )
    return out


def machine() -> dict:
    memory = (
        next(
            (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")),
            "?",
        )
        if Path("/proc/meminfo").exists()
        else "?"
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1) if memory != "?" else "?",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="claim counts, comma-separated")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 claims (minutes to build)")
    parser.add_argument("--seconds", type=float, default=8, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load per target before measuring")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-datasette", action="store_true")
    parser.add_argument("--replay", action="store_true", help="time the change-log replay above 100k too")
    parser.add_argument("--parts", default="hot,cold,writes", help="of hot, cold, writes (comma-separated)")
    parser.add_argument("--soak", type=float, default=120, help="seconds of soak for the memory target; 0: none")
    parser.add_argument("--rebuild", action="store_true", help="make the stores anew and time the import")
    parser.add_argument("--output", type=Path, default=DATA / "results.json")
    args = parser.parse_args()
    wrk.require_wrk()
    if not args.no_datasette:
        try:
            import datasette  # noqa: F401
        except ImportError:
            raise SystemExit("Datasette is not installed: pip install -e '.[bench]' (or --no-datasette).") from None
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.million else [])
    info = machine()
    print(
        f"{info['date']}: {info['cpus']} CPUs, {info['memory_gib']} GiB, Python {info['python']}, "
        f"SQLite {info['sqlite']}, load {info['load_average_at_start']}"
    )
    rng = random.Random(args.seed)
    report = {
        "machine": info,
        "command": " ".join(sys.argv),
        "sizes": [run_size(s, args, rng) for s in sizes],
    }
    if args.soak:
        report["memory"] = memory(args.soak)
    flat = {}
    by_size = {entry["size"]: entry for entry in report["sizes"]}
    if min(by_size) < max(by_size) and all("results" in entry for entry in by_size.values()):
        low, high = by_size[min(by_size)], by_size[max(by_size)]
        for name in ("ours: claims?condition=X", "ours: claims?therapy_type=T"):
            flat[name] = high["results"][name]["rps"] / low["results"][name]["rps"]
            print(f"{name}: {max(by_size):,} claims keep {flat[name]:.0%} of the {min(by_size):,}-claim throughput")
    report["flat"] = flat
    DATA.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nfigures written to {args.output}")


if __name__ == "__main__":
    main()
