"""Sustained load: drive the API for a set time with a mix of reads, feed pulls and writes, then report
requests, errors (any 5xx fails the run), latency percentiles and the server's memory growth after warm-up.

    python bench/soak.py --seconds 600            # starts its own server on 127.0.0.1 over a temp SQLite file
    python bench/soak.py --url http://127.0.0.1:8000 --pid 1234 --editor-key hck_...

Only 127.0.0.1/localhost are driven. Writes go through the editors' API when the server has it; when it
does not and this script started the server itself, they go through the store's one write path directly
(same transaction, change log and facets), so readers still see content change under them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def rss_kib(pid: int | None, field: str = "VmRSS") -> int | None:
    """Resident memory of a process (Linux /proc), KiB. `RssAnon` is the heap alone, where a leak would
    show; the rest of `VmRSS` is mostly the database file mapped by SQLite (mmap), which grows with the
    file and which the kernel can drop at any time."""
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m app serve` on a temp SQLite file, with rate limits out of the way."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{workdir / 'soak.db'}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "RATE_LIMIT_ANONYMOUS": "10000000/minute",
            "RATE_LIMIT_PARTNER": "10000000/minute",
            "RATE_LIMIT_EDITOR": "10000000/minute",
            "LOG_LEVEL": "info",
        }  # the JSON request log on, as in production
        self.env.pop("DATABASE_READ_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the server exited during start-up")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not become ready in 120 s")

    def editor_key(self) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "app", "keys", "create", "--scope", "editor", "--name", "soak"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.split()[-1]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class DirectWriter:
    """Writes through ContentWriter when the server has no write routes: new claims, then edits of them."""

    def __init__(self, database_url: str) -> None:
        sys.path.insert(0, str(ROOT))
        from app.core.config import Settings
        from app.core.db import Database
        from app.main import install_write_hooks

        install_write_hooks()
        self.db = Database.from_settings(Settings(database_url=database_url))
        with self.db.read() as conn:
            row = conn.exec_driver_sql("SELECT key FROM topics ORDER BY pk LIMIT 1").first()
        self.topic = row[0]

    def write(self, n: int) -> None:
        from app.content.schemas import ClaimIn
        from app.content.store import writing

        claim = ClaimIn(
            topic=self.topic,
            text=f"Soak claim number {n} \u05e9\u05dc\u05d5\u05dd \U0001f9a0",
            source_excerpt="soak",
            evidence={"kind": "background", "strength": "very-low"},
        )
        with writing(self.db, "soak") as writer:
            writer.put("claim", f"soak-{n % 500}", claim)


class Load:
    def __init__(
        self,
        url: str,
        editor_key: str | None,
        direct: DirectWriter | None,
        write_share: float,
        feed_share: float,
    ) -> None:
        self.url = url
        self.editor_key = editor_key
        self.direct = direct
        self.write_share = write_share
        self.feed_share = feed_share
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.kinds: Counter = Counter()
        self.failures: Counter = Counter()
        self.counter = 0
        self.reads: list[str] = []
        self.feeds: list[str] = []
        self.write_mode = "none"
        self.created: list[tuple[str, str]] = []  # (id, ETag at creation): a later edit may meet a 412

    def probe(self) -> None:
        """Keep the paths this server answers 200 on; find a few keys for detail reads."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            candidates = [
                "/v1/claims",
                "/v1/topics",
                "/v1/conditions",
                "/v1/therapies",
                "/v1/experts",
                "/v1/quotes",
                "/v1/sources",
                "/v1/therapy-types",
                "/v1/claims?condition=autoimmune-disorders",
                "/v1/claims?therapy_type=probiotic&limit=50",
                "/v1/topics?condition=multiple-sclerosis",
                "/v1/search?q=leaky%20gut",
                "/v1/search?q=FMT",
                "/v1/conditions/rheumatoid-arthritis",
                "/v1/therapies/probiotics",
            ]
            for path in candidates:
                if client.get(path).status_code == 200:
                    self.reads.append(path)
            for resource in ("claims", "topics"):
                response = client.get(f"/v1/{resource}", params={"limit": 5})
                if response.status_code == 200:
                    key = "id" if resource == "claims" else "slug"
                    self.reads += [f"/v1/{resource}/{item[key]}" for item in response.json()["items"]]
            for path in (
                "/v1/feed.json",
                "/v1/feed.atom",
                "/v1/changes",
                "/v1/feed.json?therapy_type=probiotic",
            ):
                if client.get(path).status_code == 200:
                    self.feeds.append(path)
            if self.editor_key:
                status = client.post("/v1/claims", json={}, headers={"X-API-Key": self.editor_key}).status_code
                if status not in (404, 405):
                    self.write_mode = "api"
            if self.write_mode == "none" and self.direct:
                self.write_mode = "direct"
            topics = client.get("/v1/topics", params={"limit": 1}).json()["items"]
            self.topic = topics[0]["slug"] if topics else None
        if not self.reads:
            raise SystemExit("no read path answered 200")

    def record(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1
            self.kinds[kind] += 1

    def one(self, client: httpx.Client, rng: random.Random, etags: dict[str, str]) -> None:
        roll = rng.random()
        if roll < self.write_share and self.write_mode != "none":
            self.write(client, rng)
            return
        self.read(client, rng, etags, roll)

    def write(self, client: httpx.Client, rng: random.Random) -> None:
        """One editor write: a new claim (some drafts), or every other time an edit of an earlier one."""
        if self.write_mode != "none":
            with self.lock:
                self.counter += 1
                n = self.counter
            started = time.perf_counter()
            if self.write_mode == "direct":
                self.direct.write(n)
                self.record("write", 200, time.perf_counter() - started)
                return
            headers = {"X-API-Key": self.editor_key}
            if n % 2 == 0 and self.created:  # an edit of an earlier claim, guarded by its ETag
                key, etag = self.created[rng.randrange(len(self.created))]
                response = client.patch(
                    f"/v1/claims/{key}",
                    json={"text": f"Soak edit {n}"},
                    headers={**headers, "If-Match": etag},
                )
                self.record("write", response.status_code, time.perf_counter() - started)
                return
            body = {
                "topic": self.topic,
                "text": f"Soak claim {n} \u05e9\u05dc\u05d5\u05dd \U0001f9a0",
                "source_excerpt": "soak",
                "evidence": {"kind": "background", "strength": "very-low"},
                "status": "draft" if n % 3 == 0 else "published",
            }
            response = client.post("/v1/claims", json=body, headers=headers)
            self.record("write", response.status_code, time.perf_counter() - started)
            if response.status_code == 201 and len(self.created) < 200:
                with self.lock:
                    self.created.append((response.json()["id"], response.headers.get("etag", "*")))

    def read(self, client: httpx.Client, rng: random.Random, etags: dict[str, str], roll: float) -> None:
        paths = self.feeds if roll < self.write_share + self.feed_share and self.feeds else self.reads
        path = rng.choice(paths)
        headers = {"If-None-Match": etags[path]} if path in etags and rng.random() < 0.3 else {}
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        self.record("feed" if paths is self.feeds else "read", response.status_code, time.perf_counter() - started)
        if "etag" in response.headers:
            etags[path] = response.headers["etag"]

    def worker(self, stop_at: float, seed: int) -> None:
        rng = random.Random(seed)
        etags: dict[str, str] = {}
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while time.monotonic() < stop_at:
                try:
                    self.one(client, rng, etags)
                except Exception as exc:  # noqa: BLE001 - a transport error is a failure, counted by its kind
                    with self.lock:
                        self.failures[type(exc).__name__] += 1

    def paced_writer(self, stop_at: float, per_minute: float, seed: int) -> None:
        """Writes at a steady rate (`--writes-per-minute`), whatever the readers do."""
        rng = random.Random(seed)
        interval, next_at = 60.0 / per_minute, time.monotonic()
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while (now := time.monotonic()) < stop_at:
                if now < next_at:
                    time.sleep(min(next_at - now, stop_at - now))
                    continue
                next_at += interval
                try:
                    self.write(client, rng)
                except Exception as exc:  # noqa: BLE001 - counted by its kind, as a reader's are
                    with self.lock:
                        self.failures[type(exc).__name__] += 1

    def snapshot(self) -> tuple[int, Counter]:
        with self.lock:
            return len(self.latencies), Counter(self.statuses)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def last_third_growth(samples: list[list], end: int | None) -> float | None:
    """How much the heap (`RssAnon`) grew over the last third of the run, in percent of where that third
    began: a plateau is about 0, a leak keeps its slope (an hour's run: the last 20 minutes)."""
    if not samples or not end:
        return None
    span = samples[-1][0] or 1
    start = next((s for s in samples if s[0] >= span * 2 / 3 and s[2]), None)
    if start is None:
        return None
    return round((end - start[2]) / start[2] * 100, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=None, help="Seconds before the memory baseline.")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--write-share", type=float, default=0.05)
    parser.add_argument("--feed-share", type=float, default=0.15)
    parser.add_argument("--url", help="Drive this server (127.0.0.1 only) instead of starting one.")
    parser.add_argument("--pid", type=int, help="With --url: the server's pid, for its memory.")
    parser.add_argument("--editor-key", help="With --url: an editor key for the writes.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--writes-per-minute",
        type=float,
        default=0,
        help="Writes at this steady rate from a writer of their own (the readers then only read).",
    )
    parser.add_argument("--samples", type=int, default=10, help="Memory samples over the run.")
    args = parser.parse_args()
    if not 1 <= args.concurrency <= 64 or not 1 <= args.seconds <= 24 * 3600:
        parser.error("--concurrency must be 1..64 and --seconds 1..86400")
    warmup = args.warmup if args.warmup is not None else min(60.0, args.seconds / 5)

    server = None
    workdir = tempfile.TemporaryDirectory(prefix="soak-")
    try:
        if args.url:
            if urlparse(args.url).hostname not in LOCAL_HOSTS:
                parser.error("only 127.0.0.1 or localhost may be driven")
            url, pid, key, direct = args.url.rstrip("/"), args.pid, args.editor_key, None
        else:
            server = Server(Path(workdir.name))
            server.start()
            url, pid, key = server.url, server.process.pid, server.editor_key()
            direct = DirectWriter(server.database_url)
        write_share = 0.0 if args.writes_per_minute else args.write_share
        load = Load(url, key, direct, write_share, args.feed_share)
        load.probe()
        started = time.monotonic()
        stop_at = started + args.seconds
        threads = [
            threading.Thread(target=load.worker, args=(stop_at, args.seed * 1000 + i), daemon=True)
            for i in range(args.concurrency)
        ]
        if args.writes_per_minute:
            writer = threading.Thread(
                target=load.paced_writer, args=(stop_at, args.writes_per_minute, args.seed), daemon=True
            )
            threads.append(writer)
        for thread in threads:
            thread.start()
        time.sleep(min(warmup, args.seconds))
        rss_after_warmup = rss_kib(pid)
        anon_after_warmup = rss_kib(pid, "RssAnon")
        warm_count, _ = load.snapshot()
        rss_peak = rss_after_warmup or 0
        # A sample every tenth of the run (`--samples`): a leak climbs through all, caches filling level off.
        every, next_sample, rss_samples = args.seconds / max(1, args.samples), time.monotonic(), []
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            rss = rss_kib(pid) or 0
            rss_peak = max(rss_peak, rss)
            if time.monotonic() >= next_sample:
                rss_samples.append([round(time.monotonic() - started), rss, rss_kib(pid, "RssAnon")])
                next_sample += every
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss_end = rss_kib(pid)
        anon_end = rss_kib(pid, "RssAnon")
        steady = load.latencies[warm_count:] or load.latencies
        server_errors = sum(n for status, n in load.statuses.items() if status >= 500)
        report = {
            "seconds": round(elapsed, 1),
            "concurrency": args.concurrency,
            "write_mode": load.write_mode,
            "requests": len(load.latencies),
            "requests_per_second": round(len(load.latencies) / elapsed, 1),
            "by_kind": dict(load.kinds),
            "by_status": {str(k): v for k, v in sorted(load.statuses.items())},
            "server_errors_5xx": server_errors,
            "transport_errors": dict(load.failures),
            "latency_ms": {
                "p50": round(percentile(steady, 0.50) * 1000, 2),
                "p99": round(percentile(steady, 0.99) * 1000, 2),
                "max": round(max(steady, default=0) * 1000, 2),
                "mean": round(statistics.fmean(steady) * 1000, 2) if steady else 0,
            },
            "rss_kib": {
                "after_warmup": rss_after_warmup,
                "end": rss_end,
                "peak": rss_peak or None,
                "growth": (rss_end - rss_after_warmup) if rss_end and rss_after_warmup else None,
                "samples": rss_samples,  # [seconds into the run, VmRSS KiB, RssAnon KiB]
            },
            "rss_anon_kib": {"after_warmup": anon_after_warmup, "end": anon_end},
            "writes_per_minute": round(load.kinds["write"] / elapsed * 60, 1),
            "heap_last_third_growth_pct": last_third_growth(rss_samples, anon_end),
        }
        print(json.dumps(report, indent=2))
        return 1 if server_errors or load.failures else 0
    finally:
        if server:
            server.stop()
        workdir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
