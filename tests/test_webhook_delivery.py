"""Delivery: retries on the schedule (scaled down), order kept behind a failing event, 410 and the last
failed retry disable the webhook with a reason its owner can read, a slow receiver is cut off at the
timeout, redirects are not followed, and the address guard refuses loopback and private targets (literal,
through a hostname, and when a name resolves elsewhere at send time) while the setting is off."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.webhooks import ssrf
from app.webhooks.delivery import SCHEDULE, Worker, new_client, retry_delay
from tests.conftest import client_for, make_settings
from tests.test_webhooks import FAST, make_key, publish
from tests.webhook_receiver import receiver, wait_until


@pytest.fixture
def editor(seeded_db):
    return make_key(seeded_db, "editor", "jane")


@pytest.fixture
def partner(seeded_db):
    return make_key(seeded_db, "partner", "acme")


def deliveries(client, partner, webhook_id):
    return client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=partner).json()["items"]


def deliver_once(db, **overrides) -> int:
    url = db.engine.url.render_as_string(hide_password=False)
    worker = Worker(db, make_settings(url, **{**FAST, **overrides}))

    async def go() -> int:
        async with new_client() as client:
            return await worker.run_once(client)

    return asyncio.run(go())


def test_the_schedule_is_the_specifications_and_scales():
    assert SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    for made, delay in enumerate(SCHEDULE):
        assert 0.9 * delay * 0.5 <= retry_delay(made, 0.5) <= 1.1 * delay * 0.5
    assert retry_delay(len(SCHEDULE), 1.0) is None


def test_a_failing_receiver_gets_the_event_on_a_later_retry_and_order_holds(seeded_db, editor, partner):
    with receiver(statuses=[500, 503]) as target, client_for(seeded_db, **FAST) as client:
        made = client.post("/v1/webhooks", json={"url": target.url}, headers=partner).json()
        first = publish(client, editor, "multiple-sclerosis", "Tried three times.")
        second = publish(client, editor, "multiple-sclerosis", "Waits behind the first.")
        received = target.wait_for(4)
        items = wait_until(lambda: [d for d in deliveries(client, partner, made["id"]) if d["status"] == "succeeded"])
    assert [r.event["data"]["key"] for r in received] == [first, first, first, second]
    assert len({r.headers["webhook-id"] for r in received[:3]}) == 1, "one delivery keeps its webhook-id"
    by_key = {d["seq"]: d for d in items}
    assert sorted(d["attempts"] for d in by_key.values()) == [1, 3]


def test_410_gone_disables_the_webhook_with_its_reason(seeded_db, editor, partner):
    with receiver(statuses=[410]) as target, client_for(seeded_db, **FAST) as client:
        made = client.post("/v1/webhooks", json={"url": target.url}, headers=partner).json()
        publish(client, editor, "multiple-sclerosis", "Gone.")
        target.wait_for(1)
        webhook = wait_until(
            lambda: (w := client.get(f"/v1/webhooks/{made['id']}", headers=partner).json())["active"] is False and w
        )
        publish(client, editor, "multiple-sclerosis", "Never sent.")
        time.sleep(0.3)
        assert len(target.received) == 1
    assert "410" in webhook["disabled_reason"]
    statuses = [d["status"] for d in deliveries(client, partner, made["id"])]
    assert statuses == ["pending", "failed"]


def test_after_the_last_retry_fails_the_webhook_is_disabled_and_says_why(seeded_db, editor, partner):
    with receiver(default=500) as target, client_for(seeded_db, **{**FAST, "webhook_retry_scale": 0.00001}) as client:
        made = client.post("/v1/webhooks", json={"url": target.url}, headers=partner).json()
        publish(client, editor, "multiple-sclerosis", "Never accepted.")
        target.wait_for(len(SCHEDULE))
        webhook = wait_until(
            lambda: (w := client.get(f"/v1/webhooks/{made['id']}", headers=partner).json())["active"] is False and w
        )
    assert len(target.received) == len(SCHEDULE)
    assert f"failed {len(SCHEDULE)} times" in webhook["disabled_reason"] and "HTTP 500" in webhook["disabled_reason"]
    [delivery] = deliveries(client, partner, made["id"])
    assert (
        delivery["status"] == "failed" and delivery["last_status_code"] == 500 and delivery["next_attempt_at"] is None
    )


def test_a_slow_receiver_is_cut_off_at_the_timeout(seeded_db, editor, partner):
    with receiver(delay=3.0) as target, client_for(seeded_db, **{**FAST, "webhook_worker": False}) as client:
        made = client.post("/v1/webhooks", json={"url": target.url}, headers=partner).json()
        publish(client, editor, "multiple-sclerosis", "Slowly.")
        started = time.monotonic()
        assert deliver_once(seeded_db, webhook_timeout_seconds=0.5) == 1
        elapsed = time.monotonic() - started
        [delivery] = deliveries(client, partner, made["id"])
    assert elapsed < 2.0, elapsed
    assert delivery["status"] == "pending" and "no answer within 0.5 s" in delivery["last_error"]


def test_redirects_are_not_followed(seeded_db, editor, partner):
    with receiver() as inside, receiver(statuses=[302], location=inside.url) as outside:
        with client_for(seeded_db, **{**FAST, "webhook_worker": False}) as client:
            made = client.post("/v1/webhooks", json={"url": outside.url}, headers=partner).json()
            publish(client, editor, "multiple-sclerosis", "Redirected.")
            deliver_once(seeded_db)
            [delivery] = deliveries(client, partner, made["id"])
        assert len(outside.received) == 1 and inside.received == []
    assert delivery["last_status_code"] == 302 and "not followed" in delivery["last_error"]
    assert delivery["status"] == "pending", "a redirect is a failure, retried later"


# ---- the address guard -------------------------------------------------------------------------------


REFUSED = [
    "https://127.0.0.1/hook",
    "https://127.8.9.10:8443/hook",
    "https://[::1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "http://partner.example/hook",
    "https://user:pw@partner.example/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_targets_are_refused_at_creation_naming_url(seeded_db, partner, url, monkeypatch):
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["8.8.8.8"])  # never connected to: nothing is sent
    with client_for(seeded_db, webhook_worker=False) as client:
        answer = client.post("/v1/webhooks", json={"url": url}, headers=partner)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "url"


def test_a_hostname_resolving_inside_is_refused_and_nothing_is_sent(seeded_db, partner, monkeypatch):
    with receiver() as target:
        port = target.url.split(":")[2].split("/")[0]
        monkeypatch.setattr(
            ssrf, "resolve", lambda host, port: ["127.0.0.1"] if host == "hooks.partner.example" else []
        )
        with client_for(seeded_db, webhook_worker=False) as client:
            answer = client.post(
                "/v1/webhooks", json={"url": f"https://hooks.partner.example:{port}/hook"}, headers=partner
            )
        assert answer.status_code == 422 and "127.0.0.1" in answer.json()["errors"][0]["message"]
        assert target.received == []


def test_a_name_that_resolves_inside_at_send_time_is_refused(seeded_db, editor, partner, monkeypatch):
    """DNS rebinding: public when the webhook is made, loopback when the event is sent."""
    with receiver() as target:
        port = target.url.split(":")[2].split("/")[0]
        answers = {"hooks.partner.example": ["8.8.8.8"]}
        monkeypatch.setattr(ssrf, "resolve", lambda host, port: answers.get(host, []))
        with client_for(seeded_db, webhook_worker=False) as client:
            made = client.post(
                "/v1/webhooks", json={"url": f"https://hooks.partner.example:{port}/hook"}, headers=partner
            )
            assert made.status_code == 201, made.text
            answers["hooks.partner.example"] = ["127.0.0.1"]  # before anything is sent
            publish(client, editor, "multiple-sclerosis", "Rebound.")
            deliver_once(seeded_db, webhook_allow_private_targets=False)
            [delivery] = deliveries(client, partner, made.json()["id"])
        assert target.received == []
    assert delivery["last_error"].startswith("refused") and "127.0.0.1" in delivery["last_error"]


PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "fc00::/7"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PRIVATE_NETWORKS).flatmap(lambda n: st.ip_addresses(network=n)))
def test_no_address_in_a_private_network_passes_the_guard(address):
    host = f"[{address}]" if address.version == 6 else str(address)
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.check_url(f"https://{host}/hook", allow_private=False)
    assert not ssrf.is_public(ipaddress.ip_address(address))


def test_a_slow_target_holds_back_its_own_events_only(seeded_db, editor, partner):
    """One worker sends to many webhooks at once: while a slow target is still answering its first event,
    a quick one hears of the next two; the slow one then gets its events, in order, after the first."""
    options = {**FAST, "webhook_timeout_seconds": 20.0}
    with receiver(delays=[8.0]) as slow, receiver() as quick, client_for(seeded_db, **options) as client:
        for target in (slow, quick):
            assert client.post("/v1/webhooks", json={"url": target.url}, headers=partner).status_code == 201
        keys = [publish(client, editor, "multiple-sclerosis", "First.")]
        assert wait_until(lambda: slow.in_flight.get("/hook") == 1 and len(quick.received) == 1)
        keys += [publish(client, editor, "multiple-sclerosis", f"Next {i}.") for i in range(2)]
        quick.wait_for(3)
        with slow.lock:
            still_answering, slow_count = slow.in_flight.get("/hook"), len(slow.received)
        slow_events = [r.event["data"]["key"] for r in slow.wait_for(3, timeout=30)]
    assert [e["data"]["key"] for e in quick.events()] == keys
    assert (still_answering, slow_count) == (1, 1), "the quick target waited for the slow one"
    assert slow_events == keys, "the slow target's events, in order, once it answered"
    assert slow.most_in_flight["/hook"] == 1
