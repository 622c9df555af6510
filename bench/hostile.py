"""A hostile-client run: `python -m app serve` (one worker, a temp SQLite file, default limits) attacked
from loopback addresses for a bounded time, while an honest client reads a public list and the server's
memory is sampled.

    python bench/hostile.py --seconds 60

Attacks, each from loopback addresses of its own (127.0.0.0/8 only, every count bounded):
  slow bodies   keyless and public POSTs whose body arrives a byte every 4 s (the defect: 515 of them from
                5 addresses kept /v1/claims and /readyz at 503)
  slow heads    heads that arrive a header line every 4 s
  big heads     1 MiB heads that never end
  distinct URLs valid `Host`s of 250 bytes and `Accept`s of 4 KiB, all different (the cache's key and bound)
  invalid keys  as fast as answers come
  filters       the costly filter combinations, repeated
It prints the honest client's latency (p50, p99, max; every answer must be 200 within 1 s), each attack's
answers by status, and the server's resident memory before, at its highest and at the end."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.soak import Server, rss_kib  # noqa: E402

HONEST = "/v1/claims?condition=rheumatoid-arthritis"
FILTERS = [
    "/v1/claims?therapy_type=diet&therapy_type=probiotic&lang=en",
    "/v1/conditions?" + "&".join(f"therapy_type={t}" for t in ("probiotic", "prebiotic", "diet", "lifestyle")),
    "/v1/search?q=group&therapy_type=probiotic&therapy_type=diet&condition=autoimmune-disorders",
]


class HostileServer(Server):
    """The server with its default limits (the soak's lifts them)."""

    def __init__(self, workdir: Path, public_base_url: str = "") -> None:
        super().__init__(workdir)
        for name in ("RATE_LIMIT_ANONYMOUS", "RATE_LIMIT_PARTNER", "RATE_LIMIT_EDITOR"):
            self.env.pop(name, None)
        self.env["LOG_LEVEL"] = "warning"
        if public_base_url:  # as deployed behind a proxy: links from the setting, the Host no part of any answer
            self.env["PUBLIC_BASE_URL"] = public_base_url


async def answer_status(reader: asyncio.StreamReader) -> int | None:
    try:
        line = await reader.readline()
        return int(line.split()[1]) if line.startswith(b"HTTP/") else None
    except (OSError, ValueError, IndexError):
        return None


async def trickle(port: int, source: str, head: bytes, drip: bytes, until: float, seen: Counter, start: float) -> None:
    """After `start` seconds, send `head`, then `drip` every 4 s, until answered or the run ends; then connect
    again."""
    await asyncio.sleep(start)
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            seen["connect-failed"] += 1
            await asyncio.sleep(1)
            continue
        try:
            writer.write(head)
            status = None
            while time.monotonic() < until:
                try:
                    status = await asyncio.wait_for(answer_status(reader), 4)
                    break
                except TimeoutError:
                    writer.write(drip)
            seen[status if status is not None else "held-to-the-end"] += 1
        finally:
            writer.close()
        await asyncio.sleep(4)  # then again, at a slow client's pace


async def big_heads(port: int, source: str, until: float, seen: Counter) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            writer.write(b"GET /v1/topics HTTP/1.1\r\nHost: api.test\r\nX-Big: " + b"a" * (1024 * 1024))
            seen[await asyncio.wait_for(answer_status(reader), 10)] += 1
            writer.close()
        except (OSError, TimeoutError):
            seen["error"] += 1
        await asyncio.sleep(0.05)


async def requests(client: httpx.AsyncClient, until: float, seen: Counter, make) -> None:
    n = 0
    while time.monotonic() < until:
        n += 1
        path, headers = make(n)
        try:
            seen[(await client.get(path, headers=headers)).status_code] += 1
        except httpx.HTTPError:
            seen["error"] += 1


def distinct(n: int) -> tuple[str, dict[str, str]]:
    host = f"h{n}-" + "a" * 120 + "." + "b" * 120 + ".test"
    return "/v1/therapy-types", {"Host": host, "Accept": f"application/json, text/x-{n}-" + "j" * 4000}


def honest(port: int, seconds: float, results) -> None:
    """The honest client, in a process of its own (so the attackers' event loop never delays its clock)."""
    latencies, statuses, offsets = [], [], []
    begun = time.monotonic()
    until = begun + seconds
    transport = httpx.HTTPTransport(local_address="127.0.0.1")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=30) as client:
        n = 0
        while time.monotonic() < until:
            n += 1
            started = time.perf_counter()
            try:  # a distinct page size each time for 50 requests, so most are built, not served as kept
                status = client.get(f"{HONEST}&limit={n % 50 + 1}").status_code
            except httpx.HTTPError:
                status = 0
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
            offsets.append(time.monotonic() - begun)
            time.sleep(0.6)  # inside the anonymous budget (120 a minute)
    results.put((latencies, statuses, offsets))


async def sample_memory(pid: int, until: float, samples: list[int]) -> None:
    while time.monotonic() < until:
        if (kib := rss_kib(pid)) is not None:
            samples.append(kib)
        await asyncio.sleep(1)


def client_from(port: int, source: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=30)


async def attack(port: int, pid: int, seconds: float, slow: int) -> dict:
    until = time.monotonic() + seconds
    seen: dict[str, Counter] = {
        name: Counter() for name in ("slow-bodies", "slow-heads", "big-heads", "distinct", "bad-keys", "filters")
    }
    honest_seen: Counter = Counter()
    memory: list[int] = [rss_kib(pid) or 0]
    body_heads = [
        b"POST /v1/claims HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n{",
        b"POST /v1/infobutton HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 999\r\n\r\nmainSearchCriteria.v.dn=",
    ]
    httpx.get(f"http://127.0.0.1:{port}{HONEST}", timeout=30)  # a cold server's first answer is not measured
    results: multiprocessing.Queue = multiprocessing.Queue()
    measuring = multiprocessing.Process(target=honest, args=(port, seconds, results))
    measuring.start()
    tasks = [sample_memory(pid, until, memory)]
    for n in range(slow):  # from 5 addresses, as the attack that found the defect
        source = f"127.0.0.{2 + n % 5}"
        # spread over the first 4 s, as clients that each send a byte every 4 s would be
        tasks.append(trickle(port, source, body_heads[n % 2], b"x", until, seen["slow-bodies"], 4 * n / slow))
    for n in range(slow // 5):
        head, drip = b"GET /v1/topics HTTP/1.1\r\n", b"X-A: b\r\n"
        tasks.append(trickle(port, "127.0.0.7", head, drip, until, seen["slow-heads"], 20 * n / slow))
    tasks.append(big_heads(port, "127.0.0.8", until, seen["big-heads"]))
    clients = [client_from(port, f"127.0.1.{n}") for n in range(1, 21)]  # twenty addresses' budgets
    clients.append(bad := client_from(port, "127.0.0.9"))
    clients.append(costly := client_from(port, "127.0.0.10"))
    for client in clients[:20]:
        tasks.append(requests(client, until, seen["distinct"], distinct))
    tasks.append(requests(bad, until, seen["bad-keys"], lambda n: ("/v1/topics", {"X-API-Key": f"hck_{n:08x}_x"})))
    tasks.append(requests(costly, until, seen["filters"], lambda n: (FILTERS[n % len(FILTERS)], {})))
    try:
        await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.aclose()
    memory.append(rss_kib(pid) or 0)
    latencies, statuses, offsets = results.get(timeout=120)
    measuring.join(10)
    honest_seen.update(statuses)
    return {"seen": seen, "latencies": latencies, "offsets": offsets, "honest": honest_seen, "memory": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--slow", type=int, default=500, help="slow-body connections (slow heads: a fifth)")
    parser.add_argument("--public-base-url", default="", help="PUBLIC_BASE_URL for the server (default: unset)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = HostileServer(Path(folder), args.public_base_url)
        server.start()
        try:
            assert server.process is not None
            result = asyncio.run(attack(server.port, server.process.pid, args.seconds, args.slow))
        finally:
            server.stop()
    order = result["latencies"]
    slowest = sorted(range(len(order)), key=lambda i: -order[i])[:3]
    lat = sorted(order)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    base = f", PUBLIC_BASE_URL={args.public_base_url}" if args.public_base_url else ", PUBLIC_BASE_URL unset"
    print(f"hostile-client run: {args.seconds:g} s, {args.slow} slow bodies from 5 addresses, one worker, SQLite{base}")
    print(
        f"honest public list ({HONEST}&limit=N, every 0.6 s): {len(lat)} requests, statuses "
        f"{dict(result['honest'])}, p50 {statistics.median(lat) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {lat[-1] * 1000:.0f} ms"
    )
    print(
        "  slowest: "
        + ", ".join(f"{order[i] * 1000:.0f} ms at {result['offsets'][i]:.1f} s" for i in slowest)
        + "; after the first 5 s (attackers' budgets spent): max "
        + f"{max([x for x, t in zip(order, result['offsets'], strict=True) if t > 5] or [0]) * 1000:.0f} ms"
    )
    for name, counts in result["seen"].items():
        print(f"  {name:12} {dict(sorted(counts.items(), key=str))}")
    memory = result["memory"]
    print(
        f"server resident memory: {memory[0] / 1024:.0f} MB before, {max(memory) / 1024:.0f} MB at most, "
        f"{memory[-1] / 1024:.0f} MB at the end"
    )
    ok = lat[-1] < 1.0 and set(result["honest"]) == {200}
    print("PASS" if ok else "FAIL: the honest client waited 1 s or more, or was refused")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
