"""Webhook delivery under load: lag from the write to the receipt (p50, p99) with 100 subscriptions and 10
writes a second, and read throughput with and without deliveries running.

    python bench/webhooks.py                       # 100 webhooks, 10 writes/s, 20 s per phase, SQLite
    python bench/webhooks.py --seconds 60 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench

It starts `python -m app serve` (one process, its embedded delivery worker) over a temp copy of data/, a
receiver on 127.0.0.1 that answers 204 at once, and a reader process that GETs a filtered claim list with
a few connections as fast as it can. Phase A: writes (editors' PATCH, 10/s) and reads, no webhooks.
Phase B: the same with 100 webhooks, each hearing of every write (1,000 deliveries a second). The lag is
from the change's `at` (taken when its transaction starts) to the receiver reading the request; both on
this machine's clock. Everything is on 127.0.0.1 and bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """A minimal HTTP/1.1 server on asyncio: reads each POST, notes when, answers 204 (keep-alive)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lags: list[float] = []
        self.received: dict[str, tuple[float, float]] = {}  # webhook-id -> (the change's `at`, when it arrived)
        self.count = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_until_complete(server.serve_forever())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, msg_id = 0, ""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                    elif line.lower().startswith(b"webhook-id:"):
                        msg_id = line.split(b":", 1)[1].strip().decode()
                body = await reader.readexactly(length)
                received = time.time()
                event = json.loads(body)
                at = datetime.fromisoformat(event["data"]["at"].replace("Z", "+00:00")).timestamp()
                self.lags.append(received - at)
                self.received[msg_id] = (at, received)
                self.count += 1
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def lag_split(base: str, partner: dict, webhook_ids: list[str], received: dict) -> tuple[list[float], list[float]]:
    """Where the lag went, from a sample of webhooks' delivery records: write to queued (the write's own
    transaction, up to its outbox rows) and queued to receipt (waiting for the worker, and the send)."""
    to_queue, to_receipt = [], []
    for webhook_id in webhook_ids:
        answer = httpx.get(f"{base}/v1/webhooks/{webhook_id}/deliveries", params={"limit": 100}, headers=partner)
        for delivery in answer.json()["items"]:
            if delivery["event_id"] in received:
                at, got = received[delivery["event_id"]]
                queued = datetime.fromisoformat(delivery["queued_at"].replace("Z", "+00:00")).timestamp()
                to_queue.append(queued - at)
                to_receipt.append(got - queued)
    return to_queue, to_receipt


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


READER = """
import sys, time, threading, httpx
base, seconds, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
counts = [0] * threads
def run(i):
    with httpx.Client(base_url=base, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if client.get("/v1/claims", params={"condition": "rheumatoid-arthritis", "limit": 20}).status_code == 200:
                counts[i] += 1
workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
[w.start() for w in workers]; [w.join() for w in workers]
print(sum(counts))
"""


def phase(base: str, editor: dict, claims: list[str], seconds: float, rate: float, threads: int) -> tuple[int, int]:
    """Writes at `rate` per second while a reader process reads; returns (reads, writes)."""
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, base, str(seconds), str(threads)], stdout=subprocess.PIPE, text=True
    )
    writes = 0
    with httpx.Client(base_url=base, headers=editor, timeout=30) as client:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            key = claims[writes % len(claims)]
            text = f"Benchmark write {writes} at {time.time():.3f}."
            answer = client.patch(f"/v1/claims/{key}", json={"text": text})
            assert answer.status_code == 200, answer.text
            writes += 1
            pause = start + writes / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    out, _ = reader.communicate(timeout=seconds + 60)
    return int(out.strip()), writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase (at most 300)")
    parser.add_argument("--readers", type=int, default=4, help="reader connections")
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of a temp SQLite file")
    parser.add_argument(
        "--worker",
        choices=["embedded", "separate"],
        default="embedded",
        help="the worker inside `serve` (default), or `serve` with WEBHOOK_WORKER=false and one `deliver` process",
    )
    args = parser.parse_args()
    seconds = min(args.seconds, 300.0)

    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or f"sqlite:///{folder}/bench.db"
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LOG_LEVEL": "warning",
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "RATE_LIMIT_ANONYMOUS": "10000000/minute",
            "RATE_LIMIT_EDITOR": "10000000/minute",
            "RATE_LIMIT_PARTNER": "10000000/minute",
        }
        subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, "-m", "app", "import", str(ROOT / "data")], cwd=ROOT, env=env, check=True)
        keys = {}
        for scope in ("editor", "partner"):
            made = subprocess.run(
                [sys.executable, "-m", "app", "keys", "create", "--scope", scope, "--name", "bench"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            keys[scope] = {"X-API-Key": made.stdout.split()[-1]}
        separate = args.worker == "separate"
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**env, "WEBHOOK_WORKER": "false" if separate else "true"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        worker = (
            subprocess.Popen([sys.executable, "-m", "app", "deliver"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
            if separate
            else None
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            claims = [
                c["id"] for c in httpx.get(base + "/v1/claims", params={"limit": 100}, timeout=60).json()["items"]
            ]
            receiver = Receiver()

            reads_a, writes_a = phase(base, keys["editor"], claims, seconds, args.rate, args.readers)
            webhook_ids = []
            for i in range(args.webhooks):
                made = httpx.post(
                    base + "/v1/webhooks",
                    json={"url": f"http://127.0.0.1:{receiver.port}/{i}", "events": ["upsert"]},
                    headers=keys["partner"],
                    timeout=60,
                )
                assert made.status_code == 201, made.text
                webhook_ids.append(made.json()["id"])
            reads_b, writes_b = phase(base, keys["editor"], claims, seconds, args.rate, args.readers)
            expected = writes_b * args.webhooks
            drain_deadline = time.monotonic() + 120
            while receiver.count < expected and time.monotonic() < drain_deadline:
                time.sleep(0.2)
            split = lag_split(base, keys["partner"], webhook_ids[:10], receiver.received)
        finally:
            for process in (server, worker):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)

    lags = receiver.lags
    where = "a separate deliver process" if separate else "its embedded worker"
    print(f"backend: {'postgresql' if args.postgres else 'sqlite'}; one serve process, deliveries by {where}")
    print(f"phase A (no webhooks): {writes_a} writes, {reads_a} reads in {seconds:.0f} s = {reads_a / seconds:.0f}/s")
    print(
        f"phase B ({args.webhooks} webhooks): {writes_b} writes, {reads_b} reads in {seconds:.0f} s = "
        f"{reads_b / seconds:.0f}/s ({(reads_b / max(reads_a, 1) - 1) * 100:+.1f}% against A)"
    )
    print(f"deliveries: {receiver.count} of {expected} received")
    if lags:
        p50, p90 = percentile(lags, 0.5) * 1000, percentile(lags, 0.9) * 1000
        print(
            f"lag write->receipt: p50 {p50:.0f} ms, p90 {p90:.0f} ms, "
            f"p99 {percentile(lags, 0.99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms, "
            f"mean {statistics.fmean(lags) * 1000:.0f} ms"
        )
    to_queue, to_receipt = split
    if to_queue:
        print(
            f"of which (a sample of {len(to_queue)}): write->queued p50 {percentile(to_queue, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(to_queue, 0.99) * 1000:.0f} ms; queued->receipt p50 "
            f"{percentile(to_receipt, 0.5) * 1000:.0f} ms, p99 {percentile(to_receipt, 0.99) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
