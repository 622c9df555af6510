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
import contextlib
import json
import os
import shutil
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import wrk  # noqa: E402

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

CONDITIONS = ("rheumatoid-arthritis", "multiple-sclerosis", "inflammatory-bowel-disease", "autoimmune-disorders")
READ_PATHS = [f"/v1/claims?condition={c}&limit=20" for c in CONDITIONS]


def read(base: str, seconds: float, connections: int) -> int:
    """Reads for `seconds`: wrk (C, little CPU of its own) when it is installed, else a Python reader."""
    if shutil.which("wrk"):
        result = wrk.run("reads", base, READ_PATHS, seconds=seconds, connections=connections, threads=1)
        return result.requests - result.errors
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, base, str(seconds), str(connections)], stdout=subprocess.PIPE, text=True
    )
    out, _ = reader.communicate(timeout=seconds + 60)
    return int(out.strip())


class Writers:
    """Editors' PATCHes on a fixed schedule (write i is due `i / rate` seconds after the start), sent by a few
    clients at once, so a slow answer delays no write but its own."""

    def __init__(self, base: str, editor: dict, claims: list[str], rate: float, clients: int) -> None:
        self.base, self.editor, self.claims, self.rate, self.clients = base, editor, claims, rate, clients
        self.lock = threading.Lock()
        self.sent = 0

    def run(self, seconds: float) -> int:
        self.start, self.seconds, self.next, self.done = time.monotonic(), seconds, 0, 0
        threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.done

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.editor, timeout=30) as client:
            while True:
                with self.lock:
                    ticket, self.next = self.next, self.next + 1
                    self.sent += 1
                due = self.start + ticket / self.rate
                if due - self.start >= self.seconds:
                    return
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                key = self.claims[self.sent % len(self.claims)]
                answer = client.patch(
                    f"/v1/claims/{key}", json={"text": f"Benchmark write {ticket} at {time.time():.3f}."}
                )
                assert answer.status_code == 200, answer.text
                with self.lock:
                    self.done += 1


def phase(base: str, writers: Writers, seconds: float, connections: int) -> tuple[int, int]:
    """Writes on their schedule while the reads run; returns (reads, writes)."""
    got: dict[str, int] = {}
    thread = threading.Thread(target=lambda: got.update(writes=writers.run(seconds)))
    thread.start()
    reads = read(base, seconds, connections)
    thread.join()
    return reads, got["writes"]


def cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) spent so far by these processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def family(pid: int) -> list[int]:
    """A process and its children (serve's HTTP worker processes and its delivery worker)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def subscribe(base: str, partner: dict, port: int, count: int) -> list[str]:
    made = []
    for i in range(count):
        answer = httpx.post(
            base + "/v1/webhooks",
            json={"url": f"http://127.0.0.1:{port}/{i}", "events": ["upsert"]},
            headers=partner,
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    return made


def wait_for_server(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="writes per second")
    parser.add_argument("--writers", type=int, default=4, help="editor clients sharing the write schedule")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase (at most 300)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of phase A and phase B")
    parser.add_argument("--readers", type=int, default=8, help="reader connections")
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of a temp SQLite file")
    parser.add_argument("--server-log", type=Path, help="write the server's log here (default: dropped)")
    parser.add_argument(
        "--worker",
        choices=["serve", "separate"],
        default="serve",
        help="serve's own delivery worker (default), or serve with WEBHOOK_WORKER=false and one `deliver` started here",
    )
    args = parser.parse_args()
    seconds = min(args.seconds, 300.0)
    rounds = max(1, min(args.rounds, 10))

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
            stderr=args.server_log.open("w") if args.server_log else subprocess.DEVNULL,
        )
        worker = (
            subprocess.Popen([sys.executable, "-m", "app", "deliver"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
            if separate
            else None
        )
        base = f"http://127.0.0.1:{port}"
        figures: dict[str, list[tuple[int, int, float]]] = {"A": [], "B": []}  # (reads, writes, CPU s)
        expected = 0
        try:
            wait_for_server(base, server)
            claims = [
                c["id"] for c in httpx.get(base + "/v1/claims", params={"limit": 100}, timeout=60).json()["items"]
            ]
            receiver = Receiver()
            writers = Writers(base, keys["editor"], claims, args.rate, args.writers)
            pids = family(server.pid) + ([worker.pid] if worker else [])
            split: tuple[list[float], list[float]] = ([], [])
            for round_ in range(rounds):
                for name in ("A", "B"):
                    hooks = subscribe(base, keys["partner"], receiver.port, args.webhooks) if name == "B" else []
                    cpu = cpu_of(pids)
                    reads, writes = phase(base, writers, seconds, args.readers)
                    figures[name].append((reads, writes, cpu_of(pids) - cpu))
                    if name == "B":
                        expected += writes * args.webhooks
                        drain_deadline = time.monotonic() + 120
                        while receiver.count < expected and time.monotonic() < drain_deadline:
                            time.sleep(0.2)
                        if round_ == 0:
                            split = lag_split(base, keys["partner"], hooks[:10], receiver.received)
                        for hook in hooks:  # the next phase A has none; the next B subscribes anew, from now
                            httpx.delete(f"{base}/v1/webhooks/{hook}", headers=keys["partner"], timeout=60)
        finally:
            for process in (server, worker):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)

    report(args, seconds, separate, figures, receiver, expected, split)


def report(args, seconds: float, separate: bool, figures: dict, receiver: Receiver, expected: int, split) -> None:
    where = "one `deliver` process started beside it" if separate else "serve's own delivery worker"
    print(f"backend: {'postgresql' if args.postgres else 'sqlite'}; one serve process (1 HTTP worker), {where}")
    print(f"{args.webhooks} webhooks hearing of every write; {args.rate:g} writes/s asked; phases of {seconds:.0f} s")
    print(f"{'phase':<22} {'writes/s':>9} {'reads/s':>9} {'server CPU s/s':>15}")
    for name, label in (("A", "A (no webhooks)"), ("B", f"B ({args.webhooks} webhooks)")):
        for i, (reads, writes, cpu) in enumerate(figures[name], 1):
            print(
                f"{label + f', round {i}':<22} {writes / seconds:>9.1f} {reads / seconds:>9.0f} {cpu / seconds:>15.2f}"
            )
    total = {name: [sum(x) for x in zip(*rows, strict=True)] for name, rows in figures.items()}
    reads_a, reads_b = total["A"][0], total["B"][0]
    writes_b = total["B"][1] / (seconds * len(figures["B"]))
    ratio = reads_b / max(reads_a, 1)
    met = "met" if writes_b >= 0.95 * args.rate else "NOT met"
    print(f"writes in phase B: {writes_b:.1f}/s (target {args.rate:g}/s: {met})")
    print(f"reads B against A: {ratio:.3f}x ({(ratio - 1) * 100:+.1f}%)")
    print(f"deliveries: {receiver.count} of {expected} received ({receiver.count / max(expected, 1) * 100:.1f}%)")
    lags = receiver.lags
    if lags:
        print(
            f"lag write->receipt: p50 {percentile(lags, 0.5) * 1000:.0f} ms, "
            f"p90 {percentile(lags, 0.9) * 1000:.0f} ms, "
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
