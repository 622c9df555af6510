"""A server killed with SIGKILL after a write but before its event was acknowledged delivers it after the
restart: once killed before any send (the outbox row was committed with the change), once killed in the
middle of a send (the lease it held runs out and the restarted server sends again, with the same id)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from tests.test_serving import ROOT, free_port
from tests.test_webhooks import claim_about, make_key
from tests.webhook_receiver import receiver

TIMEOUT = 1.0  # the send timeout of the servers here: their lease is 3 timeouts + 5 s


def start(url: str, port: int, *, worker: bool, log: Path | None = None) -> subprocess.Popen:
    """`serve` on `port`; with `log`, its log (at INFO) is written there."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "info" if log else "warning",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_WORKER": "true" if worker else "false",
        "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT),
        "WEBHOOK_POLL_SECONDS": "0.1",
        "WEBHOOK_RETRY_SCALE": "0.001",
    }
    env.pop("DATABASE_READ_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w") if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_a_server_killed_between_a_write_and_its_delivery_delivers_after_restart(seeded_db):
    url = seeded_db.engine.url.render_as_string(hide_password=False)
    editor, partner = make_key(seeded_db, "editor", "jane"), make_key(seeded_db, "partner", "acme")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The second event's first send hangs past the kill; every other answer is a quick 204.
    with receiver(delays=[0.0, 30.0]) as target:
        server = start(url, port, worker=False)
        try:
            made = httpx.post(base + "/v1/webhooks", json={"url": target.url}, headers=partner, timeout=30).json()
            first = httpx.post(
                base + "/v1/claims", json=claim_about("multiple-sclerosis", "One."), headers=editor, timeout=30
            )
            assert first.status_code == 201
        finally:
            kill(server)  # committed, never sent
        assert target.received == []

        server = start(url, port, worker=True)
        try:
            assert len(target.wait_for(1, timeout=20)) == 1
            second = httpx.post(
                base + "/v1/claims", json=claim_about("multiple-sclerosis", "Two."), headers=editor, timeout=30
            )
            assert second.status_code == 201
            assert len(target.wait_for(2, timeout=20)) == 2  # the send of "Two." is now hanging
        finally:
            kill(server)

        killed_at = time.monotonic()
        server = start(url, port, worker=True)
        try:
            received = target.wait_for(3, timeout=40)
            waited = time.monotonic() - killed_at
        finally:
            server.terminate()
            server.wait(timeout=20)

    keys = [r.event["data"]["key"] for r in received]
    assert keys == [first.json()["id"], second.json()["id"], second.json()["id"]]
    assert received[1].headers["webhook-id"] == received[2].headers["webhook-id"]
    for got in received:
        Webhook(made["secret"]).verify(got.body, got.headers)
    assert waited < 3 * TIMEOUT + 5 + 15, waited
