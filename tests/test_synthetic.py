"""The synthetic-content generator: deterministic, referentially sound, written through the real write
path (so the API answers over it), and skewed as real content is."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from app.content.resources import RESOURCES
from app.core.db import content_version
from app.models import Change, Facet, Revision
from app.synthetic import Generator, generate
from tests.conftest import client_for

CLAIMS = 300


def _documents(claims: int, seed: int) -> list[tuple[str, str, dict]]:
    return [
        (resource, key, doc.model_dump(mode="json"))
        for resource, items in Generator(claims, seed).batches(100)
        for key, doc in items
    ]


def test_the_same_seed_gives_the_same_documents_and_another_seed_others():
    first, again, other = _documents(CLAIMS, 3), _documents(CLAIMS, 3), _documents(CLAIMS, 4)
    assert first == again
    assert [doc for _, _, doc in first] != [doc for _, _, doc in other]
    counts = Counter(resource for resource, _, _ in first)
    assert counts["claim"] == CLAIMS
    assert counts["topic"] == CLAIMS // 10 and counts["quote"] == CLAIMS // 20
    assert counts["expert"] == CLAIMS // 500 + 5 and counts["source"] == CLAIMS // 200 + 1


def test_every_reference_names_a_record_written_before_it():
    seen: dict[str, set[str]] = {name: set() for name in RESOURCES}
    for resource, key, doc in _documents(CLAIMS, 1):
        spec = RESOURCES[resource]
        for name, ref in spec.refs.items():
            if doc.get(name):
                assert doc[name] in seen[ref.target] or (ref.target == resource and doc[name] != key), (
                    resource,
                    key,
                )
        for name, link in spec.links.items():
            assert set(doc[name]) <= seen[link.target], (resource, key, name)
        seen[resource].add(key)


def test_a_generated_store_fills_the_log_revisions_and_facets(empty_db):
    counts = generate(empty_db, CLAIMS, seed=2, batch=120)
    with empty_db.read() as conn:
        for resource, count in counts.items():
            table = RESOURCES[resource].table
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == count
        records = sum(counts.values())
        assert conn.execute(select(func.count()).select_from(Revision.__table__)).scalar_one() == records
        assert conn.execute(select(func.count()).select_from(Change.__table__)).scalar_one() == records
        assert content_version(conn) >= records
        facets = Facet.__table__
        faceted = conn.execute(
            select(func.count(func.distinct(facets.c.record_pk))).where(facets.c.resource == "claim")
        ).scalar_one()
        assert faceted == CLAIMS
        # Skew: the most popular condition holds many times the claims of the median one.
        per_condition = sorted(
            conn.execute(
                select(func.count())
                .select_from(RESOURCES["claim"].links["conditions"].table)
                .group_by(RESOURCES["claim"].links["conditions"].table.c.condition_pk)
            ).scalars()
        )
        assert per_condition[-1] >= 5 * per_condition[len(per_condition) // 2]


def test_generating_again_with_the_same_seed_changes_nothing(empty_db):
    generate(empty_db, 60, seed=5)
    with empty_db.read() as conn:
        before = content_version(conn)
    generate(empty_db, 60, seed=5)
    with empty_db.read() as conn:
        assert content_version(conn) == before


def test_the_api_answers_condition_queries_over_a_generated_store(empty_db):
    generate(empty_db, CLAIMS, seed=2)
    with empty_db.read() as conn:
        link = RESOURCES["claim"].links["conditions"].table
        conditions = RESOURCES["condition"].table
        top, expected = conn.execute(
            select(conditions.c.key, func.count())
            .join(link, link.c.condition_pk == conditions.c.pk)
            .group_by(conditions.c.key)
            .order_by(func.count().desc(), conditions.c.key)
            .limit(1)
        ).one()
        root = conn.execute(
            select(conditions.c.key).where(conditions.c.parent_pk.is_(None)).order_by(conditions.c.pk).limit(1)
        ).scalar_one()
    with client_for(empty_db) as client:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"condition": top, "limit": 100} | ({"cursor": cursor} if cursor else {})
            response = client.get("/v1/claims", params=params)
            assert response.status_code == 200
            body = response.json()
            for item in body["items"]:
                assert item["source"] is not None and item["topic"] is not None
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) >= expected  # descendants' claims are included too
        assert client.get("/v1/claims", params={"condition": root}).status_code == 200
        assert client.get("/v1/claims", params={"therapy_type": "probiotic"}).json()["items"]
        claim = seen[0]
        assert client.get(f"/v1/claims/{claim}").json()["id"] == claim
