"""The cold path: every request built from the database (`RESPONSE_CACHE_ENTRIES=0`), next to Datasette's
join query on the same file, and hot reads while an editor writes once per second.

Targets (from the performance issue; the ratios are printed, not asserted):
- `claims?condition=X&limit=20` built: at least 3x Datasette's join query, p99 at most 30 ms;
- `?therapy_type=T`, a detail, a two-filter combination and page 50 of a condition: each within 1.5x of the
  condition query's cost (cost = 1 / throughput);
- hot reads (cache on) with one editor write per second keep at least 50% of their no-write throughput.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench import servers, wrk

THERAPY_TYPES = ["probiotic", "prebiotic", "microbiota-transplant", "diet", "lifestyle", "dietary-supplement"]
CONDITION = "cold: claims?condition=X&limit=20"
ROUTED = "routed: the same, LEAN_READS=false"  # the same code and store, every request through the router
DATASETTE = "datasette: condition, join+sort"


def _request(base: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _deep_pages(base: str, conditions: list[str], page: int = 50, wanted: int = 12) -> list[str]:
    """URLs of page `page` (limit 20) of the conditions that have that many claims, found by following
    `next_cursor` through the API (so whatever a cursor holds, it is one the API handed out)."""
    urls: list[str] = []
    for condition in conditions:
        path = f"/v1/claims?condition={condition}&limit=20"
        for _ in range(page - 1):
            status, body = _request(base, "GET", path)
            cursor = json.loads(body).get("next_cursor") if status == 200 else None
            if not cursor:
                break
            path = f"/v1/claims?condition={condition}&limit=20&cursor={cursor}"
        else:
            urls.append(path)
        if len(urls) >= wanted:
            break
    return urls


def _popular_conditions(database: Path, minimum: int) -> list[str]:
    with sqlite3.connect(database) as conn:
        return [
            key
            for (key,) in conn.execute(
                "select substr(facet, 11) from facets where resource = 'claim' and facet like 'condition:%' "
                "and status = 'published' group by facet having count(*) >= ? order by count(*)",
                (minimum,),
            )
        ]


def cold_targets(database: Path, base: str, conditions: list[str], rng: random.Random) -> dict[str, list[str]]:
    with sqlite3.connect(database) as conn:
        claims = [
            k for (k,) in conn.execute("select key from claims where status = 'published' order by random() limit 2000")
        ]
    pairs = [
        f"/v1/claims?condition={rng.choice(conditions)}&therapy_type={rng.choice(THERAPY_TYPES)}" for _ in range(300)
    ]
    return {
        CONDITION: [f"/v1/claims?condition={c}&limit=20" for c in conditions],
        "cold: claims?therapy_type=T": [f"/v1/claims?therapy_type={t}" for t in THERAPY_TYPES],
        "cold: claims/{id}": [f"/v1/claims/{k}" for k in claims],
        "cold: condition=X&therapy_type=T": pairs,
        "cold: condition=X, page 50": _deep_pages(base, _popular_conditions(database, 1000)),
    }


def run_cold(database: Path, conditions: list[str], args, rng: random.Random) -> dict:
    """Cold targets and Datasette's join in alternating rounds; returns figures and ratios."""
    out: dict = {}
    with ExitStack() as stack:
        ours = stack.enter_context(servers.ours(database, workers=2, env={"RESPONSE_CACHE_ENTRIES": "0"}))
        targets = [(name, ours, paths) for name, paths in cold_targets(database, ours, conditions, rng).items()]
        routed = stack.enter_context(
            servers.ours(database, workers=2, env={"RESPONSE_CACHE_ENTRIES": "0", "LEAN_READS": "false"})
        )
        targets.insert(1, (ROUTED, routed, targets[0][2]))
        if not args.no_datasette:
            ds = stack.enter_context(servers.datasette(database))
            join = [f"/{database.stem}/claims_for_condition.json?_shape=array&condition={c}" for c in conditions]
            targets.append((DATASETTE, ds, join))
        for name, base, paths in targets:
            if not paths:
                raise RuntimeError(f"no paths for {name}")
            wrk.run("warm-up", base, paths, seconds=args.warmup, connections=args.connections)
        rounds: dict[str, list[wrk.Result]] = {}
        cpu: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, base, paths in targets:
                before = servers.cpu_seconds(base)
                result = wrk.run(name, base, paths, seconds=args.seconds, connections=args.connections)
                cpu.setdefault(name, []).append(servers.cpu_seconds(base) - before)
                rounds.setdefault(name, []).append(result)
    from bench.run import merge

    merged = {name: merge(results) for name, results in rounds.items()}
    # CPU per answer: the server's processes' CPU time over the requests answered (wrk's own excluded).
    cpu_ms = {name: sum(cpu[name]) * 1000 / max(1, sum(r.requests for r in rounds[name])) for name in rounds}
    print(f"\nCold path (response cache off), {args.connections} connections, 2 workers:")
    print(wrk.HEADER + f" {'CPU ms/req':>10}")
    for name, result in merged.items():
        print(result.row() + f" {cpu_ms[name]:>10.2f}")
    condition = merged[CONDITION]
    ratios: dict[str, float] = {}
    if DATASETTE in merged and merged[DATASETTE].rps:
        ratios["cold condition / datasette join+sort (target >= 3x)"] = condition.rps / merged[DATASETTE].rps
    for name, result in merged.items():
        if name.startswith("cold: ") and name != CONDITION and result.rps:
            ratios[f"cost of {name.removeprefix('cold: ')} / condition (target <= 1.5x)"] = condition.rps / result.rps
    if DATASETTE in cpu_ms:  # the same ratio from CPU per answer: what a quiet machine would show
        ratios["cold condition / datasette join+sort, by CPU per answer (target >= 3x)"] = (
            cpu_ms[DATASETTE] / cpu_ms[CONDITION]
        )
    if ROUTED in cpu_ms:  # what the lean read saves, measured in the same rounds
        ratios["cold condition: routed / lean, by CPU per answer"] = cpu_ms[ROUTED] / cpu_ms[CONDITION]
    for name in rounds:
        if name.startswith("cold: ") and name != CONDITION:
            label = f"CPU cost of {name.removeprefix('cold: ')} / condition (target <= 1.5x)"
            ratios[label] = cpu_ms[name] / cpu_ms[CONDITION]
    for label, value in ratios.items():
        print(f"  {label:<72} {value:6.2f}x")
    print(f"  cold condition p99 (target <= 30 ms): {condition.p99_ms:.1f} ms")
    out["results"] = {name: vars(r) | {"cpu_ms_per_request": cpu_ms[name]} for name, r in merged.items()}
    out["ratios"] = ratios
    out["p99_ms"] = condition.p99_ms
    return out


def _editor_key(database: Path) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "LOG_LEVEL": "warning"}
    made = subprocess.run(
        [sys.executable, "-m", "app", "keys", "create", "--scope", "editor", "--name", "bench-writer"],
        cwd=servers.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.split()[-1]


class Editor(threading.Thread):
    """Edits a claim's excerpt once per `interval` seconds (on a schedule) until stopped; counts the writes
    that landed."""

    def __init__(self, base: str, key: str, claims: list[str], interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.base, self.key, self.claims, self.interval = base, key, claims, interval
        self.stopping = threading.Event()
        self.written = 0
        self.failed = 0

    def run(self) -> None:
        number, next_at = 0, time.monotonic() + self.interval
        while not self.stopping.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval  # on a schedule: a slow write does not lower the rate
            number += 1
            claim = self.claims[number % len(self.claims)]
            body = json.dumps({"source_excerpt": f"Edited while read, number {number}."}).encode()
            status, _ = _request(
                self.base,
                "PATCH",
                f"/v1/claims/{claim}",
                {"X-API-Key": self.key, "Content-Type": "application/json"},
                body,
            )
            if status == 200:
                self.written += 1
            else:
                self.failed += 1


def run_under_writes(database: Path, paths: list[str], args) -> dict:
    """Hot reads (cache on) of `paths` without writes and with one editor write a second, alternated."""
    key = _editor_key(database)
    with sqlite3.connect(database) as conn:
        claims = [k for (k,) in conn.execute("select key from claims where status = 'published' limit 50")]
    rounds: dict[str, list[wrk.Result]] = {}
    editor_counts = {"written": 0, "failed": 0}
    cpu: dict[str, list[float]] = {}
    with servers.ours(database, workers=2) as ours:
        # Long enough for both workers to keep every path: "no writes" is then the hot path it is meant to be.
        wrk.run("warm-up", ours, paths, seconds=max(10.0, args.warmup), connections=args.connections)
        for _ in range(args.rounds):
            name = "hot: condition, no writes"
            before = servers.cpu_seconds(ours)
            rounds.setdefault(name, []).append(
                wrk.run(name, ours, paths, seconds=args.seconds, connections=args.connections)
            )
            cpu.setdefault(name, []).append(servers.cpu_seconds(ours) - before)
            editor = Editor(ours, key, claims)
            editor.start()
            try:
                name = "hot: condition, 1 write/s"
                before = servers.cpu_seconds(ours)
                rounds.setdefault(name, []).append(
                    wrk.run(name, ours, paths, seconds=args.seconds, connections=args.connections)
                )
                cpu.setdefault(name, []).append(servers.cpu_seconds(ours) - before)
            finally:
                editor.stopping.set()
                editor.join(timeout=30)
            editor_counts["written"] += editor.written
            editor_counts["failed"] += editor.failed
            time.sleep(0.5)
    from bench.run import merge

    merged = {name: merge(results) for name, results in rounds.items()}
    cpu_ms = {name: sum(cpu[name]) * 1000 / max(1, sum(r.requests for r in rounds[name])) for name in rounds}
    print(f"\nReads while an editor writes (cache on), {args.connections} connections, 2 workers:")
    print(wrk.HEADER + f" {'CPU ms/req':>10}")
    for name, result in merged.items():
        print(result.row() + f" {cpu_ms[name]:>10.2f}")
    quiet, busy = "hot: condition, no writes", "hot: condition, 1 write/s"
    ratio = merged[busy].rps / merged[quiet].rps if merged[quiet].rps else 0.0
    by_cpu = cpu_ms[quiet] / cpu_ms[busy] if cpu_ms[busy] else 0.0
    print(f"  with writes / without (target >= 0.50): {ratio:6.2f}x; by CPU per answer: {by_cpu:6.2f}x")
    print(f"  ({editor_counts['written']} writes landed, {editor_counts['failed']} refused)")
    results = {n: vars(r) | {"cpu_ms_per_request": cpu_ms[n]} for n, r in merged.items()}
    return {"results": results, "ratio": ratio, "ratio_by_cpu": by_cpu, "writes": editor_counts}
