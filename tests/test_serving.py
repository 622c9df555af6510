"""`python -m app serve` as deployed: its listening sockets, a real server with two workers, and the
per-worker limit on requests in flight."""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.ops.serving import listening_sockets
from tests.conftest import client_for

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT spreads connections on Linux only")
def test_one_port_gets_several_listening_sockets_and_a_taken_port_is_refused():
    port = free_port()
    sockets = listening_sockets("127.0.0.1", port)
    try:
        assert len(sockets) > 1 and {s.getsockname()[1] for s in sockets} == {port}
        for sock in sockets:
            sock.listen()  # as the workers do
        with pytest.raises(OSError):  # a second server on the same port is an error, not a silent share
            listening_sockets("127.0.0.1", port)
    finally:
        for sock in sockets:
            sock.close()


def test_serve_answers_many_new_connections_with_two_workers(seeded_db):
    port = free_port()
    url = seeded_db.engine.url.render_as_string(hide_password=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ANONYMOUS": "100000/minute"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)

        def fetch(_):  # a new connection each time
            return httpx.get(base + "/v1/claims", params={"condition": "rheumatoid-arthritis"}, timeout=30)

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(fetch, range(128)))
        assert {a.status_code for a in answers} == {200}
        assert len({a.content for a in answers}) == 1
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()[-2000:]


def test_past_the_in_flight_limit_a_worker_answers_503_problem_at_once(seeded_db):
    with client_for(seeded_db, max_requests_in_flight=0) as full:
        refused = full.get("/v1/claims")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/overloaded") and refused.headers["x-request-id"]
        assert full.get("/healthz").status_code == 200  # probes are never refused
    with client_for(seeded_db, max_requests_in_flight=1) as one_at_a_time:
        assert [one_at_a_time.get("/v1/claims").status_code for _ in range(3)] == [200, 200, 200]
