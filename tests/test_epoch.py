"""The store's epoch: made with a new store, renewed by every restore, and carried by every cursor and public
tag, so that nothing handed out before a restore is read as a place or a state of the store after it."""

from __future__ import annotations

import base64
import json
import shutil
import uuid

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.db import Database, store_epoch
from app.core.migrate import upgrade
from app.ops.backup import backup, restore
from tests.conftest import POSTGRES_URL, PostgresTemplates, client_for, make_settings
from tests.test_backup import write_claims
from tests.test_editing import make_key
from tests.test_webhooks import FAST

PROBLEM = "application/problem+json"


def can_restore() -> bool:
    return not POSTGRES_URL or bool(shutil.which("pg_dump") and shutil.which("pg_restore"))


needs_restore = pytest.mark.skipif(not can_restore(), reason="PostgreSQL backups need pg_dump and pg_restore")


def epoch_of(db: Database):
    with db.read() as conn:
        return store_epoch(conn)


def forge(scope: str, position, epoch=None, *, with_epoch: bool = True) -> str:
    fields = {"s": scope, "p": position}
    if with_epoch:
        fields["e"] = epoch
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()


def assert_stale(response, parameter: str) -> None:
    assert response.status_code == 410, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["type"].endswith("/stale-cursor") and problem["status"] == 410
    assert problem["errors"][0]["field"] == parameter
    assert "restored" in problem["detail"]


@needs_restore
def test_after_a_restore_no_tag_or_cursor_of_before_is_taken_for_the_new_content(seeded_db, tmp_path):
    """The defect: back up, publish A, restore, publish B. B's change takes A's number; a client holding A's
    tag must get B (200, not 304), and a partner resuming from A's cursor must be told, not skip B. One
    running app throughout (its kept responses too), and a fresh one after."""
    before = epoch_of(seeded_db)
    assert before.origin == "migration"
    with client_for(seeded_db) as client:
        start = client.get("/v1/changes", params={"limit": 100})
        while start.json()["items"]:
            start = client.get("/v1/changes", params={"limit": 100, "since": start.json()["next_cursor"]})
        at_backup = start.json()["next_cursor"]
        legacy = forge("changes", decode(at_backup)["p"], with_epoch=False)  # as cursors were before epochs
        assert client.get("/v1/changes", params={"since": legacy}).status_code == 200
        saved = backup(seeded_db, tmp_path / "saved.db")

        write_claims(seeded_db, "epoch-a", 1)
        claims_a = client.get("/v1/claims", params={"limit": 100})
        changes_a = client.get("/v1/changes", params={"since": at_backup})
        export_a = client.get("/v1/export")
        feed_a = client.get("/v1/feed.json")
        assert [item["key"] for item in changes_a.json()["items"]] == ["epoch-a-0"]
        cursor_a = changes_a.json()["next_cursor"]
        for response in (claims_a, export_a, feed_a):  # kept by this app, so a 304 would come from the cache
            assert client.get(response.url, headers={"If-None-Match": response.headers["etag"]}).status_code == 304

        restore(seeded_db, saved.path)
        after = epoch_of(seeded_db)
        assert after.name != before.name and after.origin == "restore" and after.made_at > before.made_at
        write_claims(seeded_db, "epoch-b", 1)  # takes the number A had
        with seeded_db.read() as conn:
            assert conn.exec_driver_sql("SELECT max(seq) FROM changes").scalar() == decode(cursor_a)["p"]

        for app_client in (client, client_for(seeded_db)):
            claims_b = app_client.get(claims_a.url, headers={"If-None-Match": claims_a.headers["etag"]})
            assert claims_b.status_code == 200, "a tag from before the restore matched the new content"
            assert app_client.get("/v1/claims/epoch-b-0").status_code == 200
            assert app_client.get("/v1/claims/epoch-a-0").status_code == 404
            for response in (export_a, feed_a):
                again = app_client.get(response.url, headers={"If-None-Match": response.headers["etag"]})
                assert again.status_code == 200 and again.headers["etag"] != response.headers["etag"]
            # A's cursor, the cursor of the backup's own moment and one from before epochs: all refused.
            for stale in (cursor_a, at_backup, legacy):
                assert_stale(app_client.get("/v1/changes", params={"since": stale}), "since")
            # Started again, the log gives B, and its cursors are of the new epoch.
            fresh = app_client.get("/v1/changes", params={"limit": 100})
            assert fresh.status_code == 200 and decode(fresh.json()["next_cursor"])["e"] == after.name
        newest = client.get("/v1/changes", params={"since": at_after(client)})
        assert newest.status_code == 200


def decode(cursor: str) -> dict:
    return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def at_after(client) -> str:
    """The cursor at the end of the log, followed from the start."""
    page = client.get("/v1/changes", params={"limit": 100})
    while page.json()["items"]:
        page = client.get("/v1/changes", params={"limit": 100, "since": page.json()["next_cursor"]})
    return page.json()["next_cursor"]


@needs_restore
def test_a_list_cursor_of_before_a_restore_is_refused_on_every_paged_list(seeded_db, tmp_path):
    with client_for(seeded_db) as client:
        pages = {
            "/v1/claims": client.get("/v1/claims", params={"limit": 1}),
            "/v1/feed.json": client.get("/v1/feed.json", params={"limit": 1}),
            "/v1/search": client.get("/v1/search", params={"q": "microbiota", "limit": 1}),
        }
        cursors = {path: response.json()["next_cursor"] for path, response in pages.items() if path != "/v1/feed.json"}
        cursors["/v1/feed.json"] = forge("feed", 1, epoch_of(seeded_db).name)
        assert all(cursors.values())
        saved = backup(seeded_db, tmp_path / "saved.db")
        restore(seeded_db, saved.path)
        for path, cursor in cursors.items():
            params = {"cursor": cursor, **({"q": "microbiota"} if path == "/v1/search" else {})}
            assert_stale(client.get(path, params=params), "cursor")


def _new_store(templates, tmp_path) -> tuple[Database, callable]:
    """A store made anew, by migrating an empty database (not by copying another store)."""
    if isinstance(templates, PostgresTemplates):
        name = f"{templates.prefix}_new_{uuid.uuid4().hex[:8]}"
        url = templates._create(name)
        return Database.from_settings(make_settings(url)), lambda: templates.drop(name)
    url = f"sqlite:///{tmp_path / f'new-{uuid.uuid4().hex}.db'}"
    return Database.from_settings(make_settings(url)), lambda: None


def test_every_new_store_has_an_epoch_of_its_own(templates, tmp_path):
    made = []
    for _ in range(2):
        db, cleanup = _new_store(templates, tmp_path)
        try:
            upgrade(db)
            upgrade(db)  # running the migrations again keeps the store's epoch
            made.append(epoch_of(db))
        finally:
            db.dispose()
            cleanup()
    assert made[0].name != made[1].name
    assert all(len(e.name) >= 8 and e.origin == "migration" for e in made)


SCOPES = ["claims", "topics", "changes", "feed", "search", "claims-revisions", "", "changes:claim"]
ENDPOINTS = [
    ("/v1/claims", "cursor", {}),
    ("/v1/topics", "cursor", {}),
    ("/v1/changes", "since", {}),
    ("/v1/changes", "since", {"resource": "claim"}),
    ("/v1/feed.json", "cursor", {}),
    ("/v1/feed.atom", "cursor", {}),
    ("/v1/search", "cursor", {"q": "gut"}),
]
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.floats(),
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    scope=st.sampled_from(SCOPES),
    position=st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.integers(0, 50), json_values),
    epoch=st.one_of(st.sampled_from(["CURRENT", "CURRENT", "", "AAAAAAAAAAA"]), json_values),
    with_epoch=st.booleans(),
)
def test_forged_cursors_are_refused_cleanly_and_only_the_current_epochs_are_read(
    client_and_epoch, endpoint, scope, position, epoch, with_epoch
):
    """Any scope, position and epoch: a 200 only for a cursor this list could have handed out in this
    epoch; a forged epoch is a 410, anything else malformed a 422; never a 500."""
    client, current = client_and_epoch
    path, parameter, extra = endpoint
    epoch = current if epoch == "CURRENT" else epoch
    response = client.get(path, params={parameter: forge(scope, position, epoch, with_epoch=with_epoch), **extra})
    assert response.status_code in (200, 410, 422), response.text
    expected_scope = {"/v1/changes": "changes", "/v1/feed.json": "feed", "/v1/feed.atom": "feed"}.get(
        path, path.removeprefix("/v1/")
    )
    limit = 2**63 - 1 if path == "/v1/changes" else 2**31 - 1
    well_formed = (
        (scope == expected_scope or (extra.get("resource") and scope in ("changes", "changes:claim")))
        and isinstance(position, int)
        and not isinstance(position, bool)
        and 0 <= position <= limit
        and (not with_epoch or (isinstance(epoch, str) and len(epoch) <= 16))
    )
    if not well_formed:
        assert response.status_code == 422
    elif with_epoch and epoch != current:
        assert response.status_code == 410  # a store with this epoch never handed it out
    else:
        assert response.status_code == 200  # this epoch's own, or one from before epochs (never restored)
    if response.status_code != 200:
        assert response.headers["content-type"].startswith(PROBLEM)


@pytest.fixture(scope="module")
def client_and_epoch(templates):
    url, cleanup = templates.fresh("seeded", seeded=True)
    db = Database.from_settings(make_settings(url))
    try:
        with client_for(db) as client:
            yield client, epoch_of(db).name
    finally:
        db.dispose()
        cleanup()


@needs_restore
def test_an_editors_tag_from_before_a_restore_does_not_match_the_revision_that_took_its_number(seeded_db, tmp_path):
    """If-Match names one state: after a restore, the record's revision numbers are handed out again, and a
    tag of the undone revision must be a 412, not a licence to overwrite an edit the editor never saw."""
    editor = make_key(seeded_db)
    url = "/v1/experts/houshang-aminian"
    with client_for(seeded_db) as client:
        saved = backup(seeded_db, tmp_path / "saved.db")
        undone = client.patch(url, json={"location": "Boston"}, headers=editor)
        assert undone.status_code == 200
        restore(seeded_db, saved.path)
        redone = client.patch(url, json={"location": "Paris"}, headers=editor)
        assert redone.status_code == 200 and redone.json()["revision"] == undone.json()["revision"]
        assert redone.headers["etag"] != undone.headers["etag"]
        refused = client.patch(url, json={"location": "Oslo"}, headers={**editor, "If-Match": undone.headers["etag"]})
        assert refused.status_code == 412
        assert client.get(url, headers=editor).json()["location"] == "Paris"
        current = client.get(url, headers=editor).headers["etag"]
        assert current == redone.headers["etag"]
        taken = client.patch(url, json={"location": "Oslo"}, headers={**editor, "If-Match": current})
        assert taken.status_code == 200


def test_a_webhook_since_of_another_epoch_is_refused_naming_the_field(seeded_db):
    partner = make_key(seeded_db, scope="partner", name="acme")
    with client_for(seeded_db, **FAST) as client:
        current = client.get("/v1/changes", params={"limit": 1}).json()["next_cursor"]
        other = forge("changes", decode(current)["p"], "AAAAAAAAAAA")
        body = {"url": "http://127.0.0.1:9/x"}
        refused = client.post("/v1/webhooks", json={**body, "since": other}, headers=partner)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "since"
        assert "restored" in refused.json()["detail"]
        made = client.post("/v1/webhooks", json={**body, "since": current}, headers=partner)
        assert made.status_code == 201, made.text
        hook = made.json()["id"]
        again = client.post(f"/v1/webhooks/{hook}/redeliver", json={"since": other}, headers=partner)
        assert again.status_code == 422 and again.json()["errors"][0]["field"] == "since"
