"""Webhook delivery under load: lag from the write to the receipt (p50, p99) with 100 subscriptions and 10
writes a second, and read throughput with and without deliveries running.

    python bench/webhooks.py                       # 100 webhooks, 10 writes/s, 5 rounds of 20 s phases, SQLite
    python bench/webhooks.py --seconds 60 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench

It starts `python -m app serve` (one process, its delivery worker in a process beside it) over a temp copy
of data/, a receiver on 127.0.0.1 (bench/receiver.py: a raw protocol in a process of its own, answering 204
at once, its CPU counted apart as a partner's) and wrk (or a Python reader) GETting filtered claim lists as
fast as they come back. Phases A and B alternate, and differ in deliveries only: both make 100 webhooks that
hear of every write and write at the same rate (each write queues 100 deliveries in its transaction), but
A's webhooks are paused (`active: false`), so nothing is sent; B's are active (1,000 deliveries a second).
Each phase's webhooks are deleted after it. The lag is from the change's `at` (taken when its transaction
starts) to the receiver reading the request; both on this machine's clock. Reads are reported per round,
with the median and the spread (min-max), so the noise between rounds of one phase is in view; CPU is
reported for serve's HTTP process, its delivery worker (per delivery) and the receiver, each apart.
Everything is on 127.0.0.1 and bounded in time.

With `--pin`, serve's HTTP process has the first CPU to itself and everything else (the delivery worker,
the receiver, wrk, the writers) runs on the others: the layout of a deployment whose `deliver` runs on
hardware of its own, so what B changes for the reads is the worker's claims and records in the database,
not its share of the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import NamedTuple

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import wrk  # noqa: E402
from bench.receiver import Receiver  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Row(NamedTuple):
    """One phase of one round: what it did, and the CPU seconds each party spent (the worker's and the
    receiver's until the phase's deliveries had all arrived)."""

    reads: int
    writes: int
    server_cpu: float
    worker_cpu: float
    receiver_cpu: float
    received: int
    expected: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queued_times(base: str, partner: dict, webhook_ids: list[str]) -> dict[str, float]:
    """When each of a sample of webhooks' deliveries was queued (by event id), from their delivery records:
    to split the lag into write to queued (the write's own transaction, up to its outbox rows) and queued to
    receipt (waiting for the worker, and the send)."""
    found = {}
    for webhook_id in webhook_ids:
        answer = httpx.get(f"{base}/v1/webhooks/{webhook_id}/deliveries", params={"limit": 100}, headers=partner)
        for delivery in answer.json()["items"]:
            found[delivery["event_id"]] = datetime.fromisoformat(
                delivery["queued_at"].replace("Z", "+00:00")
            ).timestamp()
    return found


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


def delivery_workers(pid: int) -> list[int]:
    """serve's children that run `deliver` (its delivery worker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                if b"deliver" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
    return found


def move_to(pid: int, cpus: set[int]) -> None:
    """Put every thread of a running process on these CPUs (the affinity is per thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def split_cpus(pin: bool) -> tuple[set[int], set[int]] | None:
    """With `--pin`: (serve's CPUs, everyone else's), the first allowed CPU against the rest."""
    if not pin:
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise SystemExit("--pin needs at least 2 CPUs")
    return {allowed[0]}, set(allowed[1:])


def subscribe(base: str, partner: dict, port: int, count: int, *, active: bool) -> list[str]:
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
        if not active:
            paused = httpx.patch(f"{base}/v1/webhooks/{made[-1]}", json={"active": False}, headers=partner, timeout=60)
            assert paused.status_code == 200, paused.text
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
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of phase A and phase B")
    parser.add_argument("--readers", type=int, default=8, help="reader connections")
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of a temp SQLite file")
    parser.add_argument("--server-log", type=Path, help="write the server's log here (default: dropped)")
    parser.add_argument(
        "--worker",
        choices=["serve", "separate"],
        default="serve",
        help="serve's own delivery worker (default), or serve with WEBHOOK_WORKER=false and one `deliver` started here",
    )
    parser.add_argument(
        "--worker-policy",
        choices=["nice", "idle"],
        default="nice",
        help="the worker as serve starts it (nice 5), or also moved to SCHED_IDLE (runs only on an idle CPU)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="serve's HTTP process on the first CPU alone; the worker, receiver, wrk and writers on the rest",
    )
    args = parser.parse_args()
    seconds = min(args.seconds, 300.0)
    rounds = max(1, min(args.rounds, 20))
    cpus = split_cpus(args.pin)
    if cpus:  # children take this process's CPUs when they start: the receiver, wrk and `deliver` get the rest
        os.sched_setaffinity(0, cpus[1])

    with tempfile.TemporaryDirectory() as folder:
        receiver = Receiver(folder)  # forked first, before this process has threads
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
        if cpus:  # serve (and what it starts) takes the first CPU; this process has no threads yet
            os.sched_setaffinity(0, cpus[0])
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**env, "WEBHOOK_WORKER": "false" if separate else "true"},
            stdout=subprocess.DEVNULL,
            stderr=args.server_log.open("w") if args.server_log else subprocess.DEVNULL,
        )
        if cpus:
            os.sched_setaffinity(0, cpus[1])
        worker = (
            subprocess.Popen([sys.executable, "-m", "app", "deliver"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
            if separate
            else None
        )
        base = f"http://127.0.0.1:{port}"
        rows: dict[str, list[Row]] = {"A": [], "B": []}
        records: list[tuple[str, float, float]] = []
        queued: dict[str, float] = {}
        try:
            wait_for_server(base, server)
            claims = [
                c["id"] for c in httpx.get(base + "/v1/claims", params={"limit": 100}, timeout=60).json()["items"]
            ]
            writers = Writers(base, keys["editor"], claims, args.rate, args.writers)
            workers = [worker.pid] if worker else delivery_workers(server.pid)
            if cpus:
                for pid in workers:
                    move_to(pid, cpus[1])
            if args.worker_policy == "idle":
                for pid in workers:
                    os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
            hooks: list[str] = []
            for _ in range(rounds):
                for name in ("A", "B"):
                    hooks = subscribe(base, keys["partner"], receiver.port, args.webhooks, active=name == "B")
                    before = receiver.count
                    cpu = (cpu_of([server.pid]), cpu_of(workers), receiver.cpu())
                    reads, writes = phase(base, writers, seconds, args.readers)
                    served = cpu_of([server.pid]) - cpu[0]
                    expected = writes * args.webhooks if name == "B" else 0
                    drain_deadline = time.monotonic() + 120
                    while receiver.count - before < expected and time.monotonic() < drain_deadline:
                        time.sleep(0.1)
                    received = receiver.count - before
                    rows[name].append(
                        Row(
                            reads, writes, served, cpu_of(workers) - cpu[1], receiver.cpu() - cpu[2], received, expected
                        )
                    )
                    if name == "B" and len(rows["B"]) == 1:
                        queued = queued_times(base, keys["partner"], hooks[:10])
                    for hook in hooks:  # the next phase makes its own, from now
                        httpx.delete(f"{base}/v1/webhooks/{hook}", headers=keys["partner"], timeout=60)
            records = receiver.collect()
        finally:
            for process in (server, worker):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)

    report(args, seconds, separate, cpus, rows, records, queued)


def spread(values: list[float]) -> str:
    """The median, and the range around it."""
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def report(args, seconds: float, separate: bool, cpus, rows: dict, records: list, queued: dict) -> None:
    where = "one `deliver` process started beside it" if separate else "serve's delivery worker (a process beside it)"
    print(f"backend: {'postgresql' if args.postgres else 'sqlite'}; one serve process (1 HTTP worker), {where}")
    if cpus:
        print(
            f"pinned: serve's HTTP process on CPU {sorted(cpus[0])}; the delivery worker, receiver, wrk and writers"
            f" on CPU {sorted(cpus[1])}"
        )
    print(
        f"{args.webhooks} webhooks hearing of every write in both phases (paused in A); {args.rate:g} writes/s asked;"
        f" phases of {seconds:.0f} s; load average before the report: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'phase':<10} {'writes/s':>9} {'reads/s':>8} {'serve CPU s/s':>14} {'worker CPU s':>13}"
        f" {'receiver CPU s':>15} {'delivered':>16}"
    )
    for i in range(len(rows["A"])):
        for name in ("A", "B"):
            row = rows[name][i]
            print(
                f"{name}, {i + 1:<7} {row.writes / seconds:>9.1f} {row.reads / seconds:>8.0f}"
                f" {row.server_cpu / seconds:>14.2f} {row.worker_cpu:>13.2f} {row.receiver_cpu:>15.2f}"
                f" {f'{row.received:,} of {row.expected:,}':>16}"
            )
    rate = {name: [row.reads / seconds for row in rows[name]] for name in rows}
    print(f"reads/s, median (min-max): A {spread(rate['A'])}, B {spread(rate['B'])}")
    ratio = statistics.median(rate["B"]) / max(statistics.median(rate["A"]), 1)
    pairs = [b / max(a, 1) - 1 for a, b in zip(rate["A"], rate["B"], strict=True)]
    per_cpu = {name: [row.reads / max(row.server_cpu, 1e-9) for row in rows[name]] for name in rows}
    cost = statistics.median(per_cpu["B"]) / max(statistics.median(per_cpu["A"]), 1e-9) - 1
    print(
        f"reads per CPU-second of serve's HTTP process, median (min-max): A {spread(per_cpu['A'])},"
        f" B {spread(per_cpu['B'])}: {cost * 100:+.1f}%"
    )
    print(
        f"reads B against A: {(ratio - 1) * 100:+.1f}% (medians); round by round"
        f" {', '.join(f'{p * 100:+.0f}%' for p in pairs)}; A's own spread"
        f" {(max(rate['A']) - min(rate['A'])) / max(statistics.median(rate['A']), 1) * 100:.0f}% of its median"
    )
    writes_b = sum(row.writes for row in rows["B"]) / (seconds * len(rows["B"]))
    met = "met" if writes_b >= 0.95 * args.rate else "NOT met"
    print(f"writes in phase B: {writes_b:.1f}/s (target {args.rate:g}/s: {met})")
    received, expected = sum(row.received for row in rows["B"]), sum(row.expected for row in rows["B"])
    print(f"deliveries: {received:,} of {expected:,} received ({received / max(expected, 1) * 100:.1f}%)")
    worker_b = sum(row.worker_cpu for row in rows["B"])
    worker_a = sum(row.worker_cpu for row in rows["A"]) / (seconds * len(rows["A"]))
    receiver_b = sum(row.receiver_cpu for row in rows["B"])
    print(
        f"worker CPU: {worker_b / max(received, 1) * 1e6:.0f} us per delivery in B (phase and drain);"
        f" {worker_a:.3f} s/s in A (nothing to send); receiver: {receiver_b / max(received, 1) * 1e6:.0f} us"
        " per request"
    )
    lags = [arrived - at for _, at, arrived in records]
    if lags:
        print(
            f"lag write->receipt: p50 {percentile(lags, 0.5) * 1000:.0f} ms, "
            f"p90 {percentile(lags, 0.9) * 1000:.0f} ms, "
            f"p99 {percentile(lags, 0.99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms, "
            f"mean {statistics.fmean(lags) * 1000:.0f} ms"
        )
    to_queue = [queued[m] - at for m, at, _ in records if m in queued]
    to_receipt = [arrived - queued[m] for m, _, arrived in records if m in queued]
    if to_queue:
        print(
            f"of which (a sample of {len(to_queue)}): write->queued p50 {percentile(to_queue, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(to_queue, 0.99) * 1000:.0f} ms; queued->receipt p50 "
            f"{percentile(to_receipt, 0.5) * 1000:.0f} ms, p99 {percentile(to_receipt, 0.99) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
