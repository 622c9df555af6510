"""`serve` runs the webhook delivery worker in a process of its own beside its HTTP workers: deliveries go
out, `/metrics` counts them with the HTTP workers' own figures, a companion that dies is started again,
and one whose `serve` ends, however it ends, stops too."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from app.ops.companion import DELIVERY_NICE
from tests.test_serving import free_port
from tests.test_webhook_crash import kill, start
from tests.test_webhooks import claim_about, make_key
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads children from /proc")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def companion_of(server_pid: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(server_pid):
            if " deliver " in command_line(child) + " ":
                return child
        time.sleep(0.05)
    raise AssertionError("no delivery worker beside serve")


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for match in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M):
        if all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()) or not wanted:
            total += float(match.group(2))
    return total


def test_serve_delivers_from_a_companion_process_and_counts_it_in_metrics(seeded_db, tmp_path):
    url = seeded_db.engine.url.render_as_string(hide_password=False)
    editor, partner = make_key(seeded_db, "editor", "jane"), make_key(seeded_db, "partner", "acme")
    ops = make_key(seeded_db, "ops", "scraper")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with receiver() as target:
        server = start(url, port, worker=True, log=log)
        try:
            worker = companion_of(server.pid)
            assert worker != server.pid
            assert niceness(worker) == niceness(server.pid) + DELIVERY_NICE  # reads come first
            made = httpx.post(base + "/v1/webhooks", json={"url": target.url}, headers=partner, timeout=30)
            assert made.status_code == 201, made.text
            written = httpx.post(
                base + "/v1/claims", json=claim_about("multiple-sclerosis", "Sent."), headers=editor, timeout=30
            )
            assert written.status_code == 201
            (got,) = target.wait_for(1, timeout=20)
            assert got.event["data"]["key"] == written.json()["id"]
            # The HTTP worker sent nothing itself; its /metrics counts the companion's sends all the same.
            assert wait_until(
                lambda: (
                    sample(
                        httpx.get(base + "/metrics", headers=ops).text, "webhook_deliveries_total", outcome="success"
                    )
                    >= 1
                ),
                timeout=10,
            )
            metrics = httpx.get(base + "/metrics", headers=ops).text
            assert sample(metrics, "http_requests_total", route="/v1/claims", method="POST") >= 1
        finally:
            server.terminate()
            server.wait(timeout=30)
        assert wait_until(lambda: not alive(worker), timeout=5), "the companion outlived a stopped serve"
    # One delivery worker in all: the companion's, none in the HTTP worker's event loop.
    assert log.read_text().count("webhook worker worker-") == 2, log.read_text()  # its "started", "stopped"


def test_a_companion_that_dies_is_started_again_and_one_whose_serve_is_killed_exits(seeded_db):
    url = seeded_db.engine.url.render_as_string(hide_password=False)
    editor, partner = make_key(seeded_db, "editor", "jane"), make_key(seeded_db, "partner", "acme")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with receiver() as target:
        server = start(url, port, worker=True)
        try:
            first = companion_of(server.pid)
            os.kill(first, signal.SIGKILL)
            assert wait_until(lambda: any(c != first for c in children(server.pid)), timeout=15)
            second = companion_of(server.pid)
            assert second != first
            httpx.post(base + "/v1/webhooks", json={"url": target.url}, headers=partner, timeout=30)
            written = httpx.post(
                base + "/v1/claims", json=claim_about("multiple-sclerosis", "Again."), headers=editor, timeout=30
            )
            assert written.status_code == 201
            assert len(target.wait_for(1, timeout=20)) == 1  # the restarted companion delivers
        finally:
            kill(server)  # SIGKILL: no chance to stop its companion
        assert wait_until(lambda: not alive(second), timeout=5), "the companion outlived a killed serve"
