"""An honest client's wait for a build slot while many addresses keep builds queued, in process: the slots
taken in turn by address (`app.api.fairshare.FairSlots`) against arrival order (anyio's `CapacityLimiter`,
what the worker used before), in the same run, alternating.

    python bench/fairshare.py --attackers 20 --queued 3 --build-ms 10 --rounds 3

Each of `attackers` addresses keeps `queued` builds waiting or running (a new one as soon as one ends: a
client inside its rate budget sending cache misses); a build holds its slot for `build-ms` in a thread. The
honest client asks for one build every 50 ms; its wait (queued to slot) is what is printed."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.api.fairshare import FairSlots  # noqa: E402

SLOTS = 4  # CONCURRENT_BUILDS' default


class Fifo:
    """Arrival order: the limiter the builds waited on before."""

    def __init__(self, limit: int) -> None:
        self.limiter = anyio.CapacityLimiter(limit)

    def slot(self, _address: str):
        return self.limiter


async def run(slots, attackers: int, queued: int, build_s: float, seconds: float) -> list[float]:
    waits: list[float] = []
    stop = time.monotonic() + seconds

    async def build(address: str) -> float:
        asked = time.perf_counter()
        async with slots.slot(address):
            waited = time.perf_counter() - asked
            await anyio.to_thread.run_sync(time.sleep, build_s)
        return waited

    async def attacker(address: str) -> None:
        while time.monotonic() < stop:
            await build(address)

    async def honest() -> None:
        await asyncio.sleep(0.2)  # the attackers' queue first
        while time.monotonic() < stop:
            waits.append(await build("honest"))
            await asyncio.sleep(0.05)

    async with anyio.create_task_group() as group:
        for n in range(attackers):
            for _ in range(queued):
                group.start_soon(attacker, f"127.0.1.{n}")
        group.start_soon(honest)
    return waits


def figures(waits: list[float]) -> tuple[float, float, float]:
    ordered = sorted(w * 1000 for w in waits)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attackers", type=int, default=20)
    parser.add_argument("--queued", type=int, default=3)
    parser.add_argument("--build-ms", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{args.attackers} addresses x {args.queued} builds queued, {SLOTS} slots, builds of {args.build_ms} ms; "
        "honest client's wait for a slot, ms (p50 / p99 / max)"
    )
    results: dict[str, list[float]] = {"arrival order": [], "in turn by address": []}
    for _ in range(args.rounds):
        for name, slots in (("arrival order", Fifo(SLOTS)), ("in turn by address", FairSlots(SLOTS))):
            waits = asyncio.run(run(slots, args.attackers, args.queued, args.build_ms / 1000, args.seconds))
            results[name] += waits
            p50, p99, top = figures(waits)
            print(f"  {name:20} {len(waits):4} builds  {p50:7.1f} / {p99:7.1f} / {top:7.1f}")
    before, after = figures(results["arrival order"]), figures(results["in turn by address"])
    print(
        f"all rounds: arrival order {before[0]:.1f} / {before[1]:.1f} / {before[2]:.1f}; in turn "
        f"{after[0]:.1f} / {after[1]:.1f} / {after[2]:.1f}; p99 ratio {before[1] / max(after[1], 0.001):.1f}x"
    )


if __name__ == "__main__":
    main()
