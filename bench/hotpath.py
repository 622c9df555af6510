"""CPU per kept answer: one worker of the API with the hot path (`HOT_PATH`, app/api/hotpath.py) and one
without, and the FastAPI floor (bench/peers.py), each driven by wrk over the same random kept condition
pages in alternating rounds; the figure is the CPU time the server's processes spent over the requests
they answered, much steadier on a busy machine than throughput.

    python bench/hotpath.py [--size 10000] [--seconds 4] [--rounds 3] [--header 'If-None-Match: ...']
"""

from __future__ import annotations

import argparse
import random
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import servers, wrk  # noqa: E402
from bench.run import build, get, workload  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000, help="claims in the store")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--origin", help="send this Origin with every request")
    parser.add_argument("--revalidate", action="store_true", help="ask with the page's ETag: 304s")
    args = parser.parse_args()
    wrk.require_wrk()
    database, _ = build(args.size, seed=1)
    env = {"WEBHOOK_WORKER": "false"}
    with ExitStack() as stack:
        targets = {
            "hot path": stack.enter_context(servers.ours(database, workers=1, env={**env, "HOT_PATH": "true"})),
            "layers": stack.enter_context(servers.ours(database, workers=1, env={**env, "HOT_PATH": "false"})),
            "floor, ~20 KB": stack.enter_context(servers.uvicorn("bench.peers:floor_app", 1, ready_path="/v1/claims")),
        }
        pages = workload(database, targets["hot path"], random.Random(1))["ours: claims?condition=X"][:50]
        headers = {"Origin": args.origin} if args.origin else {}
        if args.revalidate:
            pages = pages[:1]
            headers["If-None-Match"] = get(targets["hot path"], pages[0])[1]["etag"]
        paths = {name: pages for name in targets}
        paths["floor, ~20 KB"] = [f"/v1/claims-full?condition=c{i}" for i in range(50)]
        for name, base in targets.items():  # warm: every page kept in the worker
            wrk.run("warm-up", base, paths[name], seconds=2, connections=args.connections, headers=headers)
        spent = {name: [0.0, 0] for name in targets}
        for _ in range(args.rounds):
            for name, base in targets.items():
                before = servers.cpu_seconds(base)
                result = wrk.run(
                    name, base, paths[name], seconds=args.seconds, connections=args.connections, headers=headers
                )
                spent[name][0] += servers.cpu_seconds(base) - before
                spent[name][1] += result.requests
    print(f"one worker, {args.connections} connections, {args.rounds} x {args.seconds:g} s, headers {headers}:")
    per = {name: seconds / max(1, requests) * 1e6 for name, (seconds, requests) in spent.items()}
    for name, micro in per.items():
        print(f"  {name:<16} {micro:7.1f} us CPU per answer ({spent[name][1]:,} answers)")
    hot = per["hot path"]
    print(f"  floor / hot path: {per['floor, ~20 KB'] / hot:.2f}x   layers / hot path: {per['layers'] / hot:.2f}x")


if __name__ == "__main__":
    main()
