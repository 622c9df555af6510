"""The hot path (kept public answers) with and without compression: requests/s and bytes per answer.

Runs this tree's app and, with `--before DIR`, the app from another checkout (for example the commit before
compression), each as one uvicorn worker on 127.0.0.1 over the same database (the seed content), and
drives each with wrk in alternating rounds (the machine may be shared and noisy: alternating spreads the
noise over both; the medians are reported). Every request sends `Accept-Encoding: gzip, deflate, br,
zstd`, as browsers do; `identity` rows send none.

    .venv/bin/python bench/compression.py --before ../old-checkout --rounds 3 --seconds 5
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import servers, wrk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PATHS = [
    "/v1/claims?limit=100",
    "/v1/topics?limit=100",
    "/v1/quotes?limit=100",
    "/v1/conditions?limit=100",
    "/v1/feed.json",
    "/v1/feed.atom",
]
BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def seeded_database(directory: Path) -> Path:
    path = directory / "seed.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "LOG_LEVEL": "warning"}
    subprocess.run([sys.executable, "-m", "app", "import", str(ROOT / "data")], cwd=ROOT, env=env, check=True)
    return path


@contextmanager
def app_server(tree: Path, database: Path):
    port = servers.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "warning",
        "RATE_LIMIT_ANONYMOUS": "100000000/minute",
        "PYTHONPATH": str(tree),
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", servers.HOST, "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, cwd=tree, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    base = f"http://{servers.HOST}:{port}"
    try:
        servers._wait(base + "/healthz", process)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def sizes(base: str, headers: dict[str, str]) -> int:
    """Bytes on the wire for one of each path (and makes each a kept answer)."""
    total = 0
    for path in PATHS:
        request = urllib.request.Request(base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            total += len(response.read())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    wrk.require_wrk()
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    with tempfile.TemporaryDirectory() as scratch:
        database = seeded_database(Path(scratch))
        runs: dict[str, list[float]] = {}
        wire: dict[str, int] = {}
        with app_server(trees["after"], database) as after, contextlib_maybe(trees.get("before"), database) as before:
            targets = {"after, compressed": (after, BROWSER), "after, identity": (after, {})}
            if before:
                targets = {"before": (before, BROWSER), **targets}
            for name, (base, headers) in targets.items():
                wire[name] = sizes(base, headers)
                wrk.run(name, base, PATHS, seconds=1, connections=args.connections, threads=1, headers=headers)
            for _ in range(args.rounds):
                for name, (base, headers) in targets.items():
                    result = wrk.run(
                        name,
                        base,
                        PATHS,
                        seconds=args.seconds,
                        connections=args.connections,
                        threads=1,
                        headers=headers,
                    )
                    if result.errors:
                        raise SystemExit(f"{name}: {result.errors} errors")
                    runs.setdefault(name, []).append(result.rps)
    print(f"{'target':<20} {'median req/s':>13} {'runs':>28} {'bytes for the 6 paths':>22}")
    for name, rates in runs.items():
        shown = ", ".join(f"{r:.0f}" for r in rates)
        print(f"{name:<20} {statistics.median(rates):>13.0f} {shown:>28} {wire[name]:>22}")


@contextmanager
def contextlib_maybe(tree: Path | None, database: Path):
    if tree is None:
        yield None
        return
    with app_server(tree, database) as base:
        yield base


if __name__ == "__main__":
    main()
