"""Starting and stopping the servers under test, each in its own process group on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"

# The condition query as a Datasette user would write it (join and sort), and the same given the facets
# index, which holds each condition's claims (descendants included) in list order.
JOIN_SQL = """select c.key as id, c.text, c.updated_at from claims c
join claim_conditions cc on cc.claim_pk = c.pk
join conditions k on k.pk = cc.condition_pk
where k.key = :condition and c.status = 'published'
order by c.updated_at desc limit 20"""
INDEXED_SQL = """select c.key as id, c.text, c.updated_at from facets f
join claims c on c.pk = f.record_pk
where f.resource = 'claim' and f.facet = 'condition:' || :condition and f.status = 'published'
order by f.record_pk limit 20"""


# The process group of each running server, by base URL: for the CPU time its processes spend.
GROUPS: dict[str, int] = {}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(base: str) -> float:
    """CPU time (user + system) spent so far by every process of the server at `base` (its workers too):
    the cost of what it answered, much steadier on a busy machine than its throughput."""
    group, total = GROUPS[base], 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


@contextmanager
def server(command: list[str], ready_path: str, port: int, env: dict[str, str] | None = None):
    """Run `command` until the block ends; yields its base URL."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 (open for the server's lifetime, closed below)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    try:
        try:
            _wait(base + ready_path, process)
        except RuntimeError:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-3000:])
            raise
        GROUPS[base] = process.pid
        yield base
    finally:
        GROUPS.pop(base, None)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def uvicorn(app: str, workers: int, env: dict[str, str] | None = None, ready_path: str = "/"):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    return server(command, ready_path, port, env)


def ours(database: Path, workers: int, env: dict[str, str] | None = None):
    """The API as `python -m app serve` runs it, with the rate limits out of the way (and `env` on top)."""
    env = {
        **(env or {}),
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "warning",
        "RATE_LIMIT_ANONYMOUS": "1000000000/minute",
        "RATE_LIMIT_PARTNER": "1000000000/minute",
    }
    port = free_port()
    command = [sys.executable, "-m", "app", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    return server(command, "/healthz", port, env)


def datasette(database: Path):
    """Datasette serving the same file, with both versions of the condition query as canned queries: in
    immutable mode (no change checks, a pool of readers) with 4 SQL threads, as a tuned deployment runs."""
    port = free_port()
    metadata = {
        "databases": {
            database.stem: {
                "queries": {
                    "claims_for_condition": {"sql": JOIN_SQL},
                    "claims_for_condition_indexed": {"sql": INDEXED_SQL},
                }
            }
        }
    }
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115 (removed below)
    json.dump(metadata, handle)
    handle.close()
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        "--immutable",
        str(database),
        "--host",
        HOST,
        "--port",
        str(port),
        "--metadata",
        handle.name,
        "--setting",
        "sql_time_limit_ms",
        "5000",
        "--setting",
        "num_sql_threads",
        "4",
    ]

    @contextmanager
    def running():
        try:
            with server(command, "/-/versions.json", port) as base:
                yield base
        finally:
            Path(handle.name).unlink(missing_ok=True)

    return running()
