"""Webhooks end to end: a partner subscribes, an editor publishes and retracts, a receiver on 127.0.0.1
gets both events in order, signed so that the `standardwebhooks` library (somebody else's receiver code)
accepts them, and nothing about other conditions. Also the subscription API: ownership, the secret shown
once, rotation with two signatures, pause, the deliveries list, redelivery and ping."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook

from app.auth.keys import Scope, create_key
from app.editing.examples import CREATE
from tests.conftest import client_for
from tests.test_observability import ops_headers
from tests.webhook_receiver import receiver, wait_until

FAST = {
    "webhook_allow_private_targets": True,
    "webhook_retry_scale": 0.001,
    "webhook_poll_seconds": 0.05,
    "webhook_timeout_seconds": 3.0,
}


def make_key(db, scope: str, name: str) -> dict[str, str]:
    with db.write() as conn:
        return {"X-API-Key": create_key(conn, scope=Scope(scope), name=name)}


@pytest.fixture
def app_client(seeded_db):
    with client_for(seeded_db, **FAST) as test_client:
        yield test_client


@pytest.fixture
def editor(seeded_db):
    return make_key(seeded_db, "editor", "jane")


@pytest.fixture
def partner(seeded_db):
    return make_key(seeded_db, "partner", "acme")


def claim_about(condition: str, text: str) -> dict:
    return {**CREATE["claim"], "conditions": [condition], "text": text, "status": "published"}


def publish(client, editor, condition: str, text: str) -> str:
    response = client.post("/v1/claims", json=claim_about(condition, text), headers=editor)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def retract(client, editor, key: str) -> None:
    body = {"status": "retracted", "retraction_reason": "The study was withdrawn."}
    response = client.patch(f"/v1/claims/{key}", json=body, headers=editor)
    assert response.status_code == 200, response.text


def verify(secret: str, received) -> dict:
    """The library raises unless the signature and timestamp are good; returns the parsed body."""
    return Webhook(secret).verify(received.body, received.headers)


def test_a_partner_hears_of_its_condition_only_signed_and_in_order(app_client, editor, partner):
    with receiver() as target:
        made = app_client.post(
            "/v1/webhooks",
            json={"url": target.url, "filters": {"condition": ["multiple-sclerosis"]}},
            headers=partner,
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert secret.startswith("whsec_") and made.json()["resources"] == ["claim", "topic", "quote"]

        other = publish(app_client, editor, "rheumatoid-arthritis", "A claim about RA only.")
        key = publish(app_client, editor, "multiple-sclerosis", "A claim about MS.")
        retract(app_client, editor, key)
        retract(app_client, editor, other)
        received = target.wait_for(2)
        time.sleep(0.5)  # time for anything unwanted to arrive too
        received = target.received

    assert len(received) == 2, [r.event for r in received]
    first, second = (verify(secret, r) for r in received)
    assert first["type"] == "claim.upsert" and second["type"] == "claim.delete"
    assert first["data"]["key"] == second["data"]["key"] == key
    assert first["data"]["data"]["text"] == "A claim about MS." and first["data"]["data"]["status"] == "published"
    assert second["data"]["reason"] == "retracted" and "data" not in second["data"]
    assert first["data"]["seq"] < second["data"]["seq"]
    assert received[0].headers["webhook-id"] != received[1].headers["webhook-id"]
    # The cursor resumes the change log right after the event: the next change there is the retraction.
    after_first = app_client.get("/v1/changes", params={"since": first["data"]["cursor"], "limit": 1}).json()
    assert after_first["items"][0]["key"] == key and after_first["items"][0]["op"] == "delete"


def test_a_parent_condition_filter_includes_descendants_and_codes_work(app_client, editor, partner):
    with receiver() as target:
        body = {"url": target.url, "filters": {"condition": ["autoimmune-disorders"]}}
        by_parent = app_client.post("/v1/webhooks", json=body, headers=partner)
        assert by_parent.status_code == 201, by_parent.text
        key = publish(app_client, editor, "multiple-sclerosis", "MS is autoimmune.")
        events = [r.event for r in target.wait_for(1)]
    assert [e["data"]["key"] for e in events] == [key]


def test_the_secret_is_shown_once_and_keys_see_only_their_own(app_client, seeded_db, partner):
    other = make_key(seeded_db, "partner", "someone-else")
    made = app_client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=partner).json()
    read = app_client.get(f"/v1/webhooks/{made['id']}", headers=partner)
    assert read.status_code == 200 and "secret" not in read.json() and made["secret"] not in read.text
    listed = app_client.get("/v1/webhooks", headers=partner).json()["items"]
    assert [w["id"] for w in listed] == [made["id"]] and "secret" not in listed[0]
    assert app_client.get("/v1/webhooks", headers=other).json() == {"items": []}
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/deliveries"),
        ("POST", "/ping"),
        ("POST", "/rotate-secret"),
    ):
        body = {} if method in ("PATCH", "POST") else None
        answer = app_client.request(method, f"/v1/webhooks/{made['id']}{path}", json=body, headers=other)
        assert answer.status_code == 404, (method, path, answer.text)
    assert app_client.get("/v1/webhooks").status_code == 401
    assert app_client.delete(f"/v1/webhooks/{made['id']}", headers=partner).status_code == 204
    assert app_client.get(f"/v1/webhooks/{made['id']}", headers=partner).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1/x", "filters": {"condition": ["no-such-condition"]}}, "filters.condition"),
        ({"url": "http://127.0.0.1/x", "filters": {"therapy_type": ["magic"]}}, "filters.therapy_type"),
        ({"url": "http://127.0.0.1/x", "filters": {"lang": ["en"]}, "resources": ["expert"]}, "resources"),
        ({"url": "http://127.0.0.1/x", "since": "not-a-cursor"}, "since"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
    ],
)
def test_bad_subscriptions_are_422_naming_the_field(app_client, partner, body, field):
    answer = app_client.post("/v1/webhooks", json=body, headers=partner)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_rotation_signs_with_both_secrets_during_the_grace(app_client, editor, partner):
    with receiver() as target:
        made = app_client.post("/v1/webhooks", json={"url": target.url}, headers=partner).json()
        rotated = app_client.post(f"/v1/webhooks/{made['id']}/rotate-secret", headers=partner)
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new != made["secret"] and rotated.json()["previous_secret_valid_until"]
        publish(app_client, editor, "multiple-sclerosis", "Signed twice.")
        received = target.wait_for(1)[0]
    signatures = received.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    verify(new, received)
    verify(made["secret"], received)


def test_a_paused_webhook_keeps_events_and_sends_them_on_resume(app_client, editor, partner):
    with receiver() as target:
        made = app_client.post("/v1/webhooks", json={"url": target.url, "events": ["upsert"]}, headers=partner).json()
        paused = app_client.patch(f"/v1/webhooks/{made['id']}", json={"active": False}, headers=partner)
        assert paused.status_code == 200 and paused.json()["active"] is False
        keys = [publish(app_client, editor, "multiple-sclerosis", f"Paused {i}.") for i in range(3)]
        time.sleep(0.4)
        assert target.received == []
        pending = app_client.get(f"/v1/webhooks/{made['id']}/deliveries", headers=partner).json()["items"]
        assert [d["status"] for d in pending] == ["pending"] * 3
        app_client.patch(f"/v1/webhooks/{made['id']}", json={"active": True}, headers=partner)
        events = [r.event for r in target.wait_for(3)]
    assert [e["data"]["key"] for e in events] == keys

    def recorded() -> list[dict] | None:
        items = app_client.get(f"/v1/webhooks/{made['id']}/deliveries", headers=partner).json()["items"]
        return items if all(d["status"] != "pending" for d in items) else None

    done = wait_until(recorded) or []
    assert [d["status"] for d in done] == ["succeeded"] * 3 and all(d["last_status_code"] == 204 for d in done)


def test_since_replays_the_log_and_redeliver_sends_again_with_the_same_id(app_client, editor, partner):
    start = app_client.get("/v1/changes", params={"limit": 100}).json()
    while start["items"]:
        start = app_client.get("/v1/changes", params={"since": start["next_cursor"], "limit": 100}).json()
    key = publish(app_client, editor, "multiple-sclerosis", "Before the subscription.")
    with receiver() as target:
        made = app_client.post(
            "/v1/webhooks", json={"url": target.url, "since": start["next_cursor"]}, headers=partner
        ).json()
        first = target.wait_for(1)
        assert [r.event["data"]["key"] for r in first] == [key]
        delivery = app_client.get(f"/v1/webhooks/{made['id']}/deliveries", headers=partner).json()["items"][0]
        again = app_client.post(
            f"/v1/webhooks/{made['id']}/redeliver", json={"delivery_id": delivery["id"]}, headers=partner
        )
        assert again.json() == {"queued": 1}
        second = target.wait_for(2)
    assert second[1].headers["webhook-id"] == second[0].headers["webhook-id"] == delivery["event_id"]
    assert app_client.post(f"/v1/webhooks/{made['id']}/redeliver", json={}, headers=partner).status_code == 422


def test_ping_reports_what_the_target_answered(app_client, partner):
    with receiver(statuses=[500]) as target:
        made = app_client.post("/v1/webhooks", json={"url": target.url}, headers=partner).json()
        failed = app_client.post(f"/v1/webhooks/{made['id']}/ping", headers=partner).json()
        ok = app_client.post(f"/v1/webhooks/{made['id']}/ping", headers=partner).json()
        assert verify(made["secret"], target.received[1])["type"] == "webhook.ping"
    assert failed["delivered"] is False and failed["status_code"] == 500
    assert ok["delivered"] is True and ok["status_code"] == 204


def test_metrics_count_deliveries_and_lag(app_client, editor, partner):
    with receiver() as target:
        app_client.post("/v1/webhooks", json={"url": target.url}, headers=partner)
        publish(app_client, editor, "multiple-sclerosis", "Counted.")
        target.wait_for(1)

        def counted() -> str | None:
            text = app_client.get("/metrics", headers=ops_headers(app_client)).text
            return text if 'webhook_deliveries_total{outcome="success"}' in text else None

        text = wait_until(counted) or ""
    assert 'webhook_deliveries_total{outcome="success"}' in text
    assert "webhook_delivery_lag_seconds_count" in text


def test_delete_events_say_why_and_filters_still_match_a_record_deleted_for_good(app_client, editor, partner):
    with receiver() as target:
        filtered = {"url": target.url + "/ms", "filters": {"condition": ["multiple-sclerosis"]}, "events": ["delete"]}
        assert app_client.post("/v1/webhooks", json=filtered, headers=partner).status_code == 201
        everything = {"url": target.url + "/all", "events": ["delete"], "resources": ["claim"]}
        assert app_client.post("/v1/webhooks", json=everything, headers=partner).status_code == 201
        drafted = publish(app_client, editor, "multiple-sclerosis", "Back to draft.")
        deleted = publish(app_client, editor, "multiple-sclerosis", "Deleted for good.")
        unrelated = publish(app_client, editor, "rheumatoid-arthritis", "Deleted, not about MS.")
        assert app_client.patch(f"/v1/claims/{drafted}", json={"status": "draft"}, headers=editor).status_code == 200
        for key in (deleted, unrelated):
            assert app_client.delete(f"/v1/claims/{key}", headers=editor).status_code == 204
        target.wait_for(5)
        time.sleep(0.3)
        received = {(r.path, r.event["data"]["key"]): r.event["data"]["reason"] for r in target.received}
    assert received == {
        ("/hook/ms", drafted): "unpublished",
        ("/hook/ms", deleted): "deleted",
        ("/hook/all", drafted): "unpublished",
        ("/hook/all", deleted): "deleted",
        ("/hook/all", unrelated): "deleted",
    }
