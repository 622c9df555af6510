"""The change log: replaying it from the start gives exactly the published content, whatever the sequence
of writes (property-based), with tombstones for what leaves public view, and under concurrent writers."""

from __future__ import annotations

import contextlib
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.content import schemas
from app.content.documents import content_of, load_documents, pks_by_key
from app.content.resources import RESOURCES, WRITE_ORDER
from app.content.store import ContentError, writing
from app.content.visibility import public_documents
from app.content.vocab import EvidenceKind, EvidenceStrength, Status, TherapyType
from app.importer.run import import_path
from tests.conftest import DATA_DIR, client_for

Store = dict[tuple[str, str], dict[str, Any]]


# ---- what a partner does ------------------------------------------------------------------------------


def apply_change(store: Store, change: dict[str, Any]) -> None:
    if change["op"] == "upsert":
        store[(change["resource"], change["key"])] = change["data"]
    else:
        assert change["op"] == "delete" and change["data"] is None
        store.pop((change["resource"], change["key"]), None)


def follow_changes(client, store: Store, since: str | None = None) -> str:
    """Apply every change after `since` to `store`; returns the cursor to resume from."""
    while True:
        params = {"limit": 100} | ({"since": since} if since else {})
        response = client.get("/v1/changes", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        for change in page["items"]:
            apply_change(store, change)
        assert page["next_cursor"]
        since = page["next_cursor"]
        if not page["items"]:
            return since


def published_state(db) -> Store:
    """What the store holds in public view, as documents: references to unpublished records left out, as
    the change log carries them (publication is a closure; see app.content.visibility)."""
    state: Store = {}
    with db.read() as conn:
        for resource in WRITE_ORDER:
            spec = RESOURCES[resource]
            pks = (
                conn.execute(select(spec.table.c.pk).where(spec.table.c.status == Status.published.value))
                .scalars()
                .all()
            )
            for doc in public_documents(conn, spec, list(load_documents(conn, spec, pks).values())):
                state[(resource, doc[spec.key_field])] = doc
    return state


def write(db, action) -> None:
    with writing(db, "test") as writer:
        conn = writer.conn
        action(conn, writer)


def current_content(conn, resource: str, key: str) -> dict[str, Any] | None:
    spec = RESOURCES[resource]
    pk = pks_by_key(conn, resource, [key]).get(key)
    return content_of(spec, load_documents(conn, spec, [pk])[pk]) if pk else None


def put_changed(db, resource: str, key: str, **changes) -> None:
    def action(conn, writer):
        content = current_content(conn, resource, key) | changes
        writer.put(resource, key, RESOURCES[resource].write_schema(**content))

    write(db, action)


# ---- the proofs ---------------------------------------------------------------------------------------


def test_replaying_the_log_from_the_start_gives_what_the_api_lists(client, seeded_db):
    replayed: Store = {}
    follow_changes(client, replayed)
    assert replayed == published_state(seeded_db)
    for spec in RESOURCES.values():
        listed, cursor = [], None
        while True:
            page = client.get(f"/v1/{spec.plural}", params={"limit": 100} | ({"cursor": cursor} if cursor else {}))
            listed += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        mine = {key: doc for (resource, key), doc in replayed.items() if resource == spec.name}
        assert sorted(item[spec.key_field] for item in listed) == sorted(mine), spec.name
        for item in listed:
            doc = mine[item[spec.key_field]]
            for name, value in doc.items():
                shown = item[name]
                if name in spec.refs:
                    key_field = RESOURCES[spec.refs[name].target].key_field
                    shown = shown[key_field] if shown else None
                elif name in spec.links:
                    key_field = RESOURCES[spec.links[name].target].key_field
                    shown = [ref[key_field] for ref in shown]
                assert shown == value, (spec.name, item[spec.key_field], name)


def test_changes_after_the_newest_keep_the_cursor_and_pages_are_oldest_first(client, seeded_db):
    first = client.get("/v1/changes", params={"limit": 5}).json()
    assert len(first["items"]) == 5 and first["next_cursor"]
    end = follow_changes(client, {}, None)
    quiet = client.get("/v1/changes", params={"since": end})
    assert quiet.status_code == 200 and quiet.json() == {"items": [], "next_cursor": end}
    put_changed(
        seeded_db,
        "claim",
        first["items"][0]["key"]
        if first["items"][0]["resource"] == "claim"
        else client.get("/v1/claims").json()["items"][0]["id"],
        text="Reworded.",
    )
    fresh = client.get("/v1/changes", params={"since": end}).json()
    assert [(c["resource"], c["op"]) for c in fresh["items"]] == [("claim", "upsert")]
    assert fresh["items"][0]["data"]["text"] == "Reworded." and fresh["next_cursor"] != end


def test_moving_a_record_out_of_public_view_is_a_tombstone_and_back_is_an_upsert(client, seeded_db):
    end = follow_changes(client, {}, None)
    key = client.get("/v1/quotes").json()["items"][0]["id"]
    put_changed(seeded_db, "quote", key, status="retracted", retraction_reason="Misattributed.")
    put_changed(seeded_db, "quote", key, status="draft", retraction_reason=None)
    put_changed(seeded_db, "quote", key, status="published")
    items = client.get("/v1/changes", params={"since": end}).json()["items"]
    assert [(c["key"], c["op"], c["data"] is None) for c in items] == [
        (key, "delete", True),
        (key, "upsert", False),
    ]  # draft to draft is no public change


def test_resource_filter_and_whole_log_cursors(client, seeded_db):
    claims_only = client.get("/v1/changes", params={"resource": "claim", "limit": 100}).json()
    assert claims_only["items"] and {c["resource"] for c in claims_only["items"]} == {"claim"}
    whole = follow_changes(client, {}, None)
    again = client.get("/v1/changes", params={"resource": "claim", "since": whole}).json()
    assert again["items"] == []
    # A cursor made for one selection is refused for another, so nothing can be skipped unseen.
    other = client.get("/v1/changes", params={"resource": "quote", "since": claims_only["next_cursor"]})
    assert other.status_code == 422


@pytest.mark.parametrize("since", ["garbage", "eyJzIjoiY2xhaW1zIiwicCI6M30", "", "x" * 201])
def test_a_bad_cursor_is_a_422_problem(client, since):
    response = client.get("/v1/changes", params={"since": since})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_changes_answer_conditional_requests(client, seeded_db):
    first = client.get("/v1/changes")
    assert first.headers["etag"] and first.headers["last-modified"]
    assert client.get("/v1/changes", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    whole = client.get("/v1/changes", params={"limit": 100})
    assert whole.json()["items"] and not whole.headers.get("link")  # it reaches the newest change
    put_changed(seeded_db, "condition", "rheumatoid-arthritis", description="Changed.")
    # The first page shows the same changes as before (the new one is further on): still current.
    assert client.get("/v1/changes", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    changed = client.get("/v1/changes", params={"limit": 100}, headers={"If-None-Match": whole.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["items"][-1]["key"] == "rheumatoid-arthritis"


def test_an_import_that_drops_a_record_from_data_deletes_it(client, seeded_db, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "sources" / "gut-microbiome-autoimmune.yaml"
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    dropped = content["quotes"].pop()["id"]
    path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")
    end = follow_changes(client, {}, None)
    import_path(seeded_db, Path(data), prune=True)
    items = client.get("/v1/changes", params={"since": end}).json()["items"]
    assert {"resource": "quote", "key": dropped, "op": "delete", "data": None} in [
        {k: c[k] for k in ("resource", "key", "op", "data")} for c in items
    ]
    assert client.get(f"/v1/quotes/{dropped}").status_code == 404


def test_concurrent_writers_leave_a_log_that_replays_to_the_final_state(seeded_db):
    claim_keys = [c["id"] for c in client_for(seeded_db).get("/v1/claims", params={"limit": 8}).json()["items"]]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for round_ in range(3):
                slug = f"writer-{n}-{round_}"
                write(
                    seeded_db,
                    lambda conn, w, slug=slug: w.put(
                        "condition",
                        slug,
                        schemas.ConditionIn(name=f"Condition {slug}", parent="autoimmune-disorders"),
                    ),
                )
                put_changed(seeded_db, "claim", claim_keys[n % len(claim_keys)], text=f"Claim by {n} in {round_}")
                put_changed(seeded_db, "claim", claim_keys[0], text=f"Shared claim, {n} {round_}")
                if round_ % 2:
                    put_changed(seeded_db, "condition", slug, status="draft")
                if round_ == 2:
                    write(seeded_db, lambda conn, w: w.delete("condition", f"writer-{n}-0"))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with client_for(seeded_db, rate_limit_anonymous="100000/minute") as api:
        replayed: Store = {}
        follow_changes(api, replayed)
    assert replayed == published_state(seeded_db)
    assert ("condition", "writer-0-0") not in replayed and ("condition", "writer-0-2") in replayed


# ---- property: any sequence of writes ---------------------------------------------------------------

POOL = {resource: [f"{resource[:2]}{n}" for n in range(4)] for resource in RESOURCES}
words = st.text(alphabet="abcdefgh <&\"'", min_size=1, max_size=12).filter(str.strip)


def existing(conn, resource: str, namespace: str) -> list[str]:
    table = RESOURCES[resource].table
    return sorted(conn.execute(select(table.c.key).where(table.c.key.startswith(f"{namespace}-"))).scalars())


def payload_for(draw, conn, resource: str, key: str, namespace: str):
    """A write shape for `resource`, pointing only at records of this example that exist, or None."""

    def mine(target: str) -> list[str]:
        return existing(conn, target, namespace)

    def some(target: str) -> list[str]:
        return draw(st.lists(st.sampled_from(mine(target)), unique=True, max_size=2)) if mine(target) else []

    status = draw(st.sampled_from([Status.published, Status.published, Status.draft]))
    base = {"status": status}
    if resource == "condition":
        below = [k for k in mine("condition") if k < key]  # parents sort first: never a cycle
        return schemas.ConditionIn(
            **base,
            name=draw(words),
            parent=draw(st.sampled_from([None, *below])),
            synonyms=draw(st.lists(words, max_size=2, unique=True)),
        )
    if resource == "therapy":
        return schemas.TherapyIn(**base, name=draw(words), type=draw(st.sampled_from(list(TherapyType))))
    if resource == "expert":
        return schemas.ExpertIn(**base, name=draw(words), credentials=draw(st.lists(words, max_size=1)))
    if resource == "source":
        return schemas.SourceIn(**base, title=draw(words), language=draw(st.sampled_from(["en", "de"])))
    if resource == "topic":
        if not mine("source"):
            return None
        return schemas.TopicIn(
            **base,
            source=draw(st.sampled_from(mine("source"))),
            title=draw(words),
            summary=draw(words),
            body=draw(words),
            conditions=some("condition"),
            therapies=some("therapy"),
        )
    if resource == "claim":
        if not mine("topic"):
            return None
        return schemas.ClaimIn(
            **base,
            topic=draw(st.sampled_from(mine("topic"))),
            text=draw(words),
            source_excerpt=draw(words),
            conditions=some("condition"),
            therapies=some("therapy"),
            expert=draw(st.sampled_from([None, *mine("expert")])),
            evidence={
                "kind": draw(st.sampled_from(list(EvidenceKind))),
                "strength": draw(st.sampled_from(list(EvidenceStrength))),
            },
        )
    if not (mine("topic") and mine("expert")):
        return None
    return schemas.QuoteIn(
        **base,
        expert=draw(st.sampled_from(mine("expert"))),
        topic=draw(st.sampled_from(mine("topic"))),
        text=draw(words),
        claims=some("claim"),
    )


@pytest.fixture
def api(empty_db):
    with client_for(empty_db, rate_limit_anonymous="100000/minute") as test_client:
        yield test_client


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_sequence_of_writes_replays_to_the_published_state(empty_db, api, data):
    """One store across examples, each example writing under keys of its own (so what it draws depends
    only on its own earlier draws): the log must replay to the current state whatever came before."""
    namespace = f"n{uuid.uuid4().hex[:8]}"
    for _ in range(data.draw(st.integers(1, 14), label="writes")):
        resource = data.draw(st.sampled_from(WRITE_ORDER), label="resource")
        key = f"{namespace}-{data.draw(st.sampled_from(POOL[resource]), label='key')}"
        action = data.draw(st.sampled_from(["put", "put", "status", "delete"]), label="action")

        def act(conn, writer, resource=resource, key=key, action=action):
            if action == "put":
                payload = payload_for(data.draw, conn, resource, key, namespace)
                if payload is not None:
                    writer.put(resource, key, payload)
            elif action == "status" and (content := current_content(conn, resource, key)):
                status = data.draw(st.sampled_from(list(Status)), label="status")
                reason = "Withdrawn." if status == Status.retracted else None
                writer.put(
                    resource,
                    key,
                    RESOURCES[resource].write_schema(**content | {"status": status, "retraction_reason": reason}),
                )
            elif action == "delete" and current_content(conn, resource, key):
                writer.delete(resource, key)

        # A write refused as a whole (a record in use) leaves nothing behind: its transaction rolls back.
        with contextlib.suppress(ContentError):
            write(empty_db, act)
    replayed: Store = {}
    follow_changes(api, replayed)
    assert replayed == published_state(empty_db)


def test_a_text_without_words_replays_to_its_stored_grade(empty_db, api):
    """Found by the replay property: a topic or claim whose text has no words gets a reading grade of nulls
    only, which the store keeps as no grade; the logged document must say the same (and writing the same
    content again is no change)."""
    published = {"status": Status.published}
    source = schemas.SourceIn(**published, title="src", language="en")
    topic = schemas.TopicIn(**published, source="s1", title="t", summary="e", body="&< &")
    claim = schemas.ClaimIn(
        **published,
        topic="t1",
        text="& <",
        source_excerpt="&",
        evidence={"kind": list(EvidenceKind)[0], "strength": list(EvidenceStrength)[0]},
    )

    def act(conn, writer):
        writer.put("source", "s1", source)
        writer.put("topic", "t1", topic)
        writer.put("claim", "c1", claim)

    write(empty_db, act)
    replayed: Store = {}
    cursor = follow_changes(api, replayed)
    assert replayed == published_state(empty_db)
    assert replayed[("topic", "t1")]["reading_grade"] is None
    with writing(empty_db, "test") as writer:
        assert writer.put("topic", "t1", topic).op == "unchanged"
    assert follow_changes(api, replayed, cursor) == cursor
