"""The read model (each published record's public read shape kept as JSON bytes by the write path) is
always what a fresh render would give: after any sequence of writes (renames, status changes of records
others embed, new references, new types, moves to another source, creations, deletions), every kept
document equals a fresh render, no unpublished record has one, and what the API serves from it (list
pages, details) is byte for byte what it would build without it."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select

from app.content import readmodel
from app.content.documents import content_of, load_documents
from app.content.queries import Filters, detail_bytes, get_one, list_page
from app.content.resources import RESOURCES
from app.content.store import writing
from app.content.vocab import Domain, Status, TherapyType
from app.core.errors import ContentError, InUse, NotFoundError, UnknownReference
from tests.conftest import _database

LABELS = st.text(alphabet="abcdefghij KLMNO-", min_size=1, max_size=24).map(lambda s: s.strip() or "x")


def _keys(conn, resource: str) -> list[str]:
    table = RESOURCES[resource].table
    return list(conn.execute(select(table.c.key).order_by(table.c.pk)).scalars())


def _one_write(db, data) -> None:
    """One random write through the one write path; a write the store refuses (a cycle, a record in use,
    a shape the schema refuses) changes nothing, as for an editor."""
    resource = data.draw(st.sampled_from(sorted(RESOURCES)), label="resource")
    spec = RESOURCES[resource]
    with db.read() as conn:
        keys = _keys(conn, resource)
        targets = {name: _keys(conn, ref.target) for name, ref in spec.refs.items()}
        linked = {name: _keys(conn, link.target) for name, link in spec.links.items()}
    key = data.draw(st.sampled_from(keys), label="key")
    action = data.draw(st.sampled_from(["status", "label", "ref", "links", "kind", "create", "delete"]), label="do")
    try:
        with writing(db, "test") as writer:
            pks = _pks(writer.conn, resource, [key])
            doc = load_documents(writer.conn, spec, list(pks.values()))[pks[key]]
            content = content_of(spec, doc)
            if action == "delete":
                writer.delete(resource, key)
                return
            if action == "status":
                content["status"] = data.draw(st.sampled_from([s.value for s in Status]), label="status")
                content["retraction_reason"] = "test" if content["status"] == Status.retracted else None
            elif action == "label":
                content[spec.label] = data.draw(LABELS, label="label")
            elif action == "ref" and targets:
                name = data.draw(st.sampled_from(sorted(targets)), label="ref")
                content[name] = data.draw(st.sampled_from(targets[name]), label="target")
            elif action == "links" and linked:
                name = data.draw(st.sampled_from(sorted(linked)), label="link")
                content[name] = data.draw(st.lists(st.sampled_from(linked[name]), max_size=4), label="targets")
            elif action == "kind":
                if resource == "therapy":
                    content["type"] = data.draw(st.sampled_from([t.value for t in TherapyType]), label="type")
                elif resource in ("expert", "topic"):
                    field = "specialties" if resource == "expert" else "domains"
                    domains = st.lists(st.sampled_from([d.value for d in Domain]), max_size=3, unique=True)
                    content[field] = data.draw(domains, label=field)
            if action == "create":
                key = f"{key[:150]}-{data.draw(st.integers(0, 10**6), label='n')}"
            writer.put(resource, key, spec.write_schema.model_validate(content))
    except (ContentError, InUse, UnknownReference, NotFoundError, ValidationError):
        pass


def _pks(conn, resource: str, keys: list[str]) -> dict[str, int]:
    table = RESOURCES[resource].table
    return dict(conn.execute(select(table.c.key, table.c.pk).where(table.c.key.in_(keys))).all())


def _served_as_built(conn) -> None:
    """Lists and details from the read model are the bytes the documents would give without it."""
    for spec in RESOURCES.values():
        built = list_page(conn, spec, Filters(), after=0, limit=100)
        kept = list_page(conn, spec, Filters(), after=0, limit=100, rendered=True)
        assert orjson.dumps(kept.items) == orjson.dumps(built.items), spec.name
        for item in built.items[:5]:
            key = item[spec.key_field]
            assert detail_bytes(conn, spec, key) == orjson.dumps(get_one(conn, spec, key)), (spec.name, key)


@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_kept_document_is_a_fresh_render_after_random_writes(templates, data):
    for _, db in _database(templates, "seeded", seeded=True):  # a fresh store per example
        for _ in range(data.draw(st.integers(1, 6), label="writes")):
            _one_write(db, data)
        with db.read() as conn:
            assert readmodel.stale(conn) == []
            _served_as_built(conn)


def test_renaming_a_condition_re_renders_the_claims_that_embed_it(client, seeded_db):
    claims = client.get("/v1/claims", params={"condition": "rheumatoid-arthritis"}).json()["items"]
    assert claims
    with writing(seeded_db, "test") as writer:
        spec = RESOURCES["condition"]
        pk = _pks(writer.conn, "condition", ["rheumatoid-arthritis"])["rheumatoid-arthritis"]
        content = content_of(spec, load_documents(writer.conn, spec, [pk])[pk]) | {"name": "RA, renamed"}
        writer.put("condition", "rheumatoid-arthritis", spec.write_schema.model_validate(content))
    again = client.get("/v1/claims", params={"condition": "rheumatoid-arthritis"}).json()["items"]
    names = {c["name"] for claim in again for c in claim["conditions"] if c["slug"] == "rheumatoid-arthritis"}
    assert names == {"RA, renamed"}
    detail = client.get(f"/v1/claims/{claims[0]['id']}").json()
    assert "RA, renamed" in {c["name"] for c in detail["conditions"]}


def test_an_unpublished_record_has_no_kept_document_and_is_not_served(client, seeded_db):
    first = client.get("/v1/claims").json()["items"][0]["id"]
    spec = RESOURCES["claim"]
    with writing(seeded_db, "test") as writer:
        pk = _pks(writer.conn, "claim", [first])[first]
        content = content_of(spec, load_documents(writer.conn, spec, [pk])[pk]) | {"status": "draft"}
        writer.put("claim", first, spec.write_schema.model_validate(content))
    with seeded_db.read() as conn:
        kept = conn.execute(
            select(func.count())
            .select_from(readmodel.READ)
            .where(readmodel.READ.c.resource == "claim", readmodel.READ.c.record_pk == pk)
        ).scalar_one()
    assert kept == 0
    assert client.get(f"/v1/claims/{first}").status_code == 404
    assert first not in {c["id"] for c in client.get("/v1/claims", params={"limit": 100}).json()["items"]}


def test_a_record_made_where_another_was_deleted_in_the_same_write_gets_its_document(seeded_db):
    """SQLite gives a new row the highest pk plus one: a write that deletes the newest claim and then makes
    another hands the new one the deleted one's pk. It is a new record, and gets its document."""
    spec = RESOURCES["claim"]
    table = spec.table
    with seeded_db.read() as conn:
        newest = conn.execute(select(table.c.key, table.c.pk).order_by(table.c.pk.desc()).limit(1)).one()
        content = content_of(spec, load_documents(conn, spec, [newest.pk])[newest.pk])
    content["status"] = Status.published.value
    content["retraction_reason"] = None
    with writing(seeded_db, "test") as writer:
        writer.delete("claim", newest.key)
        writer.put("claim", "made-in-its-place", spec.write_schema.model_validate(content))
    with seeded_db.read() as conn:
        assert readmodel.stale(conn) == []
        made = get_one(conn, spec, "made-in-its-place")
        assert detail_bytes(conn, spec, "made-in-its-place") == orjson.dumps(made)
        _served_as_built(conn)


def test_rebuild_gives_the_same_documents(seeded_db):
    with seeded_db.read() as conn:
        before = dict(
            ((r, p), bytes(b))
            for r, p, b in conn.execute(
                select(readmodel.READ.c.resource, readmodel.READ.c.record_pk, readmodel.READ.c.body)
            ).all()
        )
    with seeded_db.write() as conn:
        counts = readmodel.rebuild(conn)
    with seeded_db.read() as conn:
        after = dict(
            ((r, p), bytes(b))
            for r, p, b in conn.execute(
                select(readmodel.READ.c.resource, readmodel.READ.c.record_pk, readmodel.READ.c.body)
            ).all()
        )
    assert before and after == before
    assert sum(counts.values()) == len(after)


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_a_store_without_kept_documents_still_answers_in_full(client, seeded_db, resource):
    """A store filled before the read model and not yet rebuilt: bodies are rendered on the way."""
    spec = RESOURCES[resource]
    expected = client.get(f"/v1/{spec.plural}", params={"limit": 100}).content
    with seeded_db.write() as conn:
        conn.execute(readmodel.READ.delete())
    client.app.state.response_cache.clear()
    assert client.get(f"/v1/{spec.plural}", params={"limit": 100}).content == expected
