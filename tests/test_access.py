"""Who may do what: every write of content needs an editor key (a webhook, any key), partners never see
drafts, revoked keys are refused, keys are compared in constant time and never written to a log."""

from __future__ import annotations

import inspect
import io
import logging

import pytest

import app.auth.keys as keys_module
from app.auth.keys import Scope, authenticate, create_key, revoke_key
from app.content.resources import RESOURCES
from app.content.store import writing
from app.ops.requests import access_log
from tests.conftest import client_for
from tests.test_hostile_input import NO_LIMITS, fill, routes

SAFE = {"GET", "HEAD", "OPTIONS"}
WEBHOOKS = "/v1/webhooks"  # a partner's own subscriptions: any key may write them, no key may not
# A POST that is a read: the Infobutton request sent as a form (HL7's URL-based guide allows it for long
# requests). It is public like its GET.
READ_POSTS = {("POST", "/v1/infobutton")}
DRAFT_ID = "draft-claim-quokka"
DRAFT_TEXT = "Quokkas cure everything, says an unpublished draft."


def make_key(db, scope: Scope, name: str = "tester") -> str:
    with db.write() as conn:
        return create_key(conn, scope=scope, name=name)


@pytest.fixture
def api(seeded_db):
    with client_for(seeded_db, **NO_LIMITS) as client:
        yield client


def test_every_write_route_needs_an_editor_key(api, seeded_db):
    partner = make_key(seeded_db, Scope.partner)
    unsafe = [
        (method, path)
        for path, methods in routes(api.app)
        for method in sorted(methods - SAFE)
        if not path.startswith(WEBHOOKS) and (method, path) not in READ_POSTS
    ]
    assert unsafe, "the app has write routes"
    for method, path in unsafe:
        url = fill(path, "fecal-microbiota-transplantation")
        anonymous = api.request(method, url, json={})
        assert anonymous.status_code == 401, f"{method} {path} without a key: {anonymous.status_code}"
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert "www-authenticate" in anonymous.headers
        forbidden = api.request(method, url, json={}, headers={"X-API-Key": partner})
        assert forbidden.status_code == 403, f"{method} {path} with a partner key: {forbidden.status_code}"
        assert forbidden.headers["content-type"] == "application/problem+json"


def test_every_webhook_route_needs_a_key(api):
    webhook_routes = [
        (method, path)
        for path, methods in routes(api.app)
        if path.startswith(WEBHOOKS)
        for method in sorted((methods - SAFE) | (methods & {"GET"}))
    ]
    assert len(webhook_routes) >= 9
    for method, path in webhook_routes:
        anonymous = api.request(method, fill(path, "wh_0000"), json={})
        assert anonymous.status_code == 401, f"{method} {path} without a key: {anonymous.status_code}"
        assert "www-authenticate" in anonymous.headers


def test_history_routes_are_for_editors_only(api, seeded_db):
    partner = make_key(seeded_db, Scope.partner)
    history = [path for path, methods in routes(api.app) if "GET" in methods and path.endswith("/revisions")]
    for path in history:
        url = fill(path, "fecal-microbiota-transplantation")
        assert api.get(url).status_code == 401, path
        assert api.get(url, headers={"X-API-Key": partner}).status_code == 403, path


@pytest.fixture
def with_draft(seeded_db):
    """A draft claim (and a published claim later moved back to draft), written through the one write path."""
    claim = RESOURCES["claim"]
    with seeded_db.read() as conn:
        topic = conn.execute(RESOURCES["topic"].table.select().limit(1)).first().key
    body = {
        "topic": topic,
        "text": DRAFT_TEXT,
        "source_excerpt": "Quokkas",
        "status": "draft",
        "evidence": {"kind": "background", "strength": "very-low"},
    }
    with writing(seeded_db, "test") as writer:
        writer.put("claim", DRAFT_ID, claim.write_schema.model_validate(body))
        once_public = body | {
            "status": "published",
            "text": "Published for a while.",
            "source_excerpt": "FMT",
        }
        writer.put("claim", "unpublished-quokka", claim.write_schema.model_validate(once_public))
    with writing(seeded_db, "test") as writer:
        writer.put("claim", "unpublished-quokka", claim.write_schema.model_validate(body))
    return seeded_db


def test_partners_and_the_public_never_see_drafts(api, with_draft):
    partner = make_key(with_draft, Scope.partner)
    editor = make_key(with_draft, Scope.editor)
    assert api.get(f"/v1/claims/{DRAFT_ID}", headers={"X-API-Key": editor}).status_code == 200  # it is there
    checked = 0
    for path, methods in routes(api.app):
        if "GET" not in methods or path.endswith("/revisions") or path in ("/metrics",):
            continue
        for key in sorted({DRAFT_ID, "unpublished-quokka"}) if "{" in path else [""]:
            url = fill(path, key)
            for headers in ({"X-API-Key": partner}, {}):
                response = api.get(url, params={"limit": 100} if "{" not in path else None, headers=headers)
                assert response.status_code < 500, url
                if "{" in path and path.startswith("/v1/claims/"):
                    assert response.status_code == 404, f"{url}: {response.status_code}"
                assert DRAFT_TEXT not in response.text and "Quokkas" not in response.text, url
                if DRAFT_ID not in url:  # a 404 names the key it was asked for
                    assert DRAFT_ID not in response.text, url
                if key == "unpublished-quokka" and path.startswith("/v1/claims/"):
                    assert "Published for a while" not in response.text, url
                checked += 1
    for query in ("quokkas", "Quokkas cure everything"):
        hits = api.get("/v1/search", params={"q": query}, headers={"X-API-Key": partner})
        assert hits.status_code == 200 and hits.json()["items"] == [], query
    assert api.get("/v1/claims", params={"status": "draft"}, headers={"X-API-Key": partner}).status_code == 403
    assert checked > 20


def test_the_change_log_tombstones_a_record_moved_back_to_draft(api, with_draft):
    partner = make_key(with_draft, Scope.partner)
    items, cursor = [], None
    while True:
        page = api.get(
            "/v1/changes",
            params={"limit": 100, **({"since": cursor} if cursor else {})},
            headers={"X-API-Key": partner},
        ).json()
        items += page["items"]
        if not page["items"]:
            break
        cursor = page["next_cursor"]
    mine = [(c["op"], c["data"]) for c in items if c["key"] == "unpublished-quokka"]
    assert [op for op, _ in mine] == ["upsert", "delete"] and mine[-1][1] is None
    assert all(c["key"] != DRAFT_ID for c in items)


def test_a_revoked_key_is_401_everywhere_public_reads_included(api, seeded_db):
    for scope in (Scope.partner, Scope.editor):
        key = make_key(seeded_db, scope)
        assert api.get("/v1/topics", headers={"X-API-Key": key}).status_code == 200
        with seeded_db.write() as conn:
            assert revoke_key(conn, key.split("_")[1])
        for method, path in (
            ("GET", "/v1/topics"),
            ("GET", "/healthz"),
            ("GET", "/v1/feed.json"),
            ("POST", "/v1/claims"),
            ("GET", "/v1/claims/nope"),
        ):
            response = api.request(method, path, headers={"X-API-Key": key}, json={} if method == "POST" else None)
            assert response.status_code == 401, f"{scope} {method} {path}: {response.status_code}"
            assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "nonsense",
        "hck_",
        "hck__",
        "hck_abcd_",
        "hck_00000000_wrong",
        "hck_" + "a" * 5000,
        "hck_\u00e9\u00e9_x",
    ],
)
def test_malformed_and_unknown_keys_are_401(api, presented):
    response = api.get("/v1/topics", headers={"X-API-Key": presented.encode("utf-8")})
    assert response.status_code == 401


def test_a_key_with_the_right_prefix_and_a_wrong_secret_fails(seeded_db):
    key = make_key(seeded_db, Scope.editor)
    prefix = key.split("_")[1]
    with seeded_db.read() as conn:
        assert authenticate(conn, key) is not None
        assert authenticate(conn, f"hck_{prefix}_{'x' * 27}") is None
        assert authenticate(conn, key[:-1]) is None


def test_keys_are_compared_in_constant_time(seeded_db, monkeypatch):
    source = inspect.getsource(authenticate)
    assert "hmac.compare_digest" in source and "==" not in source.split("compare_digest", 1)[1].split("\n")[0]
    calls = []
    real = keys_module.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    key = make_key(seeded_db, Scope.partner)
    with seeded_db.read() as conn:
        assert authenticate(conn, key) is not None
        assert authenticate(conn, key[:-2] + "zz") is None
    assert len(calls) == 2


def test_keys_are_stored_hashed(seeded_db):
    key = make_key(seeded_db, Scope.editor)
    secret = key.split("_", 2)[2]
    with seeded_db.read() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM api_keys").fetchall()
    assert rows and all(secret not in " ".join(map(str, row)) for row in rows)


def test_keys_never_reach_a_log(api, seeded_db, caplog):
    editor = make_key(seeded_db, Scope.editor)
    partner = make_key(seeded_db, Scope.partner)
    revoked = make_key(seeded_db, Scope.partner)
    with seeded_db.write() as conn:
        revoke_key(conn, revoked.split("_")[1])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s %(args)s"))
    access_log.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    try:
        for key in (editor, partner, revoked, "hck_deadbeef_not-a-real-secret-at-all"):
            headers = {"X-API-Key": key}
            api.get("/v1/topics", headers=headers)
            api.get("/v1/nowhere", headers=headers)
            api.post("/v1/claims", json={"text": "x"}, headers=headers)
            api.get("/v1/claims", params={"limit": 0}, headers=headers)
    finally:
        access_log.removeHandler(handler)
    logged = stream.getvalue() + "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records)
    assert "request" in stream.getvalue()  # the access log did log these requests
    for key in (editor, partner, revoked, "hck_deadbeef_not-a-real-secret-at-all"):
        assert key not in logged and key.split("_", 2)[2] not in logged
