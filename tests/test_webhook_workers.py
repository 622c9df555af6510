"""Several delivery workers (`python -m app deliver` processes) share the outbox while writes go on: every
delivery arrives exactly once, each webhook's events in seq order, and never two of one webhook at once.
On PostgreSQL the workers claim with SELECT ... FOR UPDATE SKIP LOCKED; on SQLite in BEGIN IMMEDIATE."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import client_for
from tests.test_serving import ROOT
from tests.test_webhooks import FAST, make_key, publish
from tests.webhook_receiver import receiver

WEBHOOKS = 8
WRITES = 25
WORKERS = 2


def start_worker(url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "warning",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_POLL_SECONDS": "0.05",
        "WEBHOOK_TIMEOUT_SECONDS": "5",
    }
    env.pop("DATABASE_READ_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "app", "deliver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_two_workers_never_send_one_delivery_twice_at_once_and_never_skip_one(seeded_db):
    url = seeded_db.engine.url.render_as_string(hide_password=False)
    editor, partner = make_key(seeded_db, "editor", "jane"), make_key(seeded_db, "partner", "acme")
    with receiver(delay=0.01) as target, client_for(seeded_db, **{**FAST, "webhook_worker": False}) as client:
        made = [
            client.post("/v1/webhooks", json={"url": f"{target.url}/{i}"}, headers=partner).json()
            for i in range(WEBHOOKS)
        ]
        workers = [start_worker(url) for _ in range(WORKERS)]
        try:
            keys = [publish(client, editor, "multiple-sclerosis", f"Shared {i}.") for i in range(WRITES)]
            received = target.wait_for(WEBHOOKS * WRITES, timeout=120)
            time.sleep(0.5)  # anything sent twice would arrive now
            received = list(target.received)
        finally:
            for worker in workers:
                os.kill(worker.pid, signal.SIGTERM)
            errors = [worker.communicate(timeout=30)[1].decode() for worker in workers]
        pending = [
            d
            for webhook in made
            for d in client.get(f"/v1/webhooks/{webhook['id']}/deliveries?limit=100", headers=partner).json()["items"]
            if d["status"] != "succeeded"
        ]
    assert all(worker.returncode == 0 for worker in workers), errors
    assert len(received) == WEBHOOKS * WRITES, "each delivery exactly once"
    assert len({r.headers["webhook-id"] for r in received}) == WEBHOOKS * WRITES
    for i in range(WEBHOOKS):
        mine = [r.event["data"] for r in received if r.path == f"/hook/{i}"]
        assert [d["key"] for d in mine] == keys, f"webhook {i}: every event, in write order"
        assert [d["seq"] for d in mine] == sorted(d["seq"] for d in mine)
        assert target.most_in_flight[f"/hook/{i}"] == 1, "never two sends of one webhook at once"
    assert pending == []
