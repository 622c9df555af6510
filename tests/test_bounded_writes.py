"""Bounded writes: every list of a write shape has a cap (a 422 naming the field past it), and the search
vocabulary built from names and synonyms grows linearly with them, so one long list cannot make the next
search cost quadratic memory."""

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update

from app.content.resources import RESOURCES
from app.core.db import content_state
from app.search.terms import MAX_ALTERNATIVES, Vocabulary, parse, vocabulary
from tests.test_editing import make_key
from tests.test_search import write

PROBLEM = "application/problem+json"

# (resource, field, one valid item): each list a client may send, and the cap the write shape declares.
LISTS = [
    ("condition", "synonyms", "a name"),
    ("condition", "codes", {"system": "mesh", "code": "D0001"}),
    ("therapy", "synonyms", "a name"),
    ("expert", "credentials", "MD"),
    ("topic", "conditions", "rheumatoid-arthritis"),
    ("topic", "therapies", "probiotics"),
    ("claim", "conditions", "rheumatoid-arthritis"),
    ("claim", "therapies", "probiotics"),
    ("quote", "claims", "some-claim"),
]


def _cap(resource: str, field: str) -> int:
    schema = RESOURCES[resource].write_schema.model_json_schema()
    return schema["properties"][field]["maxItems"]


@pytest.mark.parametrize(("resource", "field", "item"), LISTS)
def test_every_list_of_a_write_shape_declares_a_cap(client, resource, field, item):
    cap = _cap(resource, field)
    assert 0 < cap <= 200
    document = client.get("/openapi.json").json()
    create = document["components"]["schemas"][f"{RESOURCES[resource].write_schema.__name__[:-2]}Create"]
    assert create["properties"][field]["maxItems"] == cap


@pytest.mark.parametrize(("resource", "field", "item"), LISTS)
def test_a_list_past_its_cap_is_a_422_naming_the_field(client, seeded_db, resource, field, item):
    editor = make_key(seeded_db)
    spec = RESOURCES[resource]
    key = "rheumatoid-arthritis" if resource == "condition" else None
    if key is None:
        key = client.get(f"/v1/{spec.plural}", params={"limit": 1}).json()["items"][0][spec.key_field]
    items = [item] * (_cap(resource, field) + 1)
    response = client.patch(f"/v1/{spec.plural}/{key}", json={field: items}, headers=editor)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in response.text


def test_five_thousand_synonyms_are_refused(client, seeded_db):
    editor = make_key(seeded_db)
    synonyms = [f"name {n}" for n in range(5000)]
    response = client.patch("/v1/conditions/rheumatoid-arthritis", json={"synonyms": synonyms}, headers=editor)
    assert response.status_code == 422 and "synonyms" in response.text
    assert "name 4999" not in client.get("/v1/conditions/rheumatoid-arthritis").text


def _vocabulary_memory(db, synonyms: int) -> tuple[int, int]:
    """Peak bytes allocated while building the vocabulary, and its stored references, with one condition
    holding `synonyms` distinct synonyms (put in its row directly: the write shapes refuse that many, and
    this measures how the vocabulary grows, whatever the cap)."""
    table = RESOURCES["condition"].table
    with db.write() as conn:
        names = [f"zz{n} ra" for n in range(synonyms)]
        conn.execute(update(table).where(table.c.key == "rheumatoid-arthritis").values(synonyms=names))
    with db.read() as conn:
        tracemalloc.start()
        try:
            vocab = Vocabulary.load(conn)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak, vocab.size()


def test_the_vocabulary_grows_linearly_with_synonyms(seeded_db):
    small_peak, small_size = _vocabulary_memory(seeded_db, 500)
    large_peak, large_size = _vocabulary_memory(seeded_db, 2000)
    # Four times the synonyms: about four times the memory (quadratic growth would be sixteen).
    assert large_size - small_size <= 2 * 1500 + 10, (small_size, large_size)
    assert large_peak < 6 * small_peak, (small_peak, large_peak)


def test_a_search_after_a_long_synonym_list_costs_what_any_search_costs(client, seeded_db):
    synonyms = ["RA", *(f"zz{n} rheumatism" for n in range(99))]
    statements = []

    def count(conn, cursor, statement, *args):
        if "webhook_" not in statement:  # the delivery worker's polls, not the search's
            statements.append(statement)

    def search_statements(q: str) -> tuple[int, dict]:
        statements.clear()
        event.listen(seeded_db.engine, "before_cursor_execute", count)
        try:
            response = client.get("/v1/search", params={"q": q})
        finally:
            event.remove(seeded_db.engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return len(statements), response.json()

    write(seeded_db, "condition", "rheumatoid-arthritis", synonyms=["RA", "zz0 rheumatism"])
    short, _ = search_statements("RA")  # a new content version: the vocabulary is loaded again
    write(seeded_db, "condition", "rheumatoid-arthritis", synonyms=synonyms)
    long, after = search_statements("RA")
    assert ("condition", "rheumatoid-arthritis") in [(h["resource"], h["key"]) for h in after["items"]]
    # The same statements whatever the number of synonyms (give or take the content-version peeks, which
    # depend on timing, not on the vocabulary).
    assert long <= short + 2, (short, long)
    with seeded_db.read() as conn:
        groups = parse("RA", vocabulary(conn, content_state(conn)))
    assert len(groups) == 1 and len(groups[0]) == MAX_ALTERNATIVES


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(
        st.lists(st.text(alphabet="abcd ", min_size=1, max_size=6), min_size=1, max_size=6),
        min_size=1,
        max_size=8,
    ),
    typed=st.text(alphabet="abcd ", max_size=12),
)
def test_alternatives_are_the_shortest_other_names_of_every_record_named(records, typed):
    from app.search.terms import words

    groups, names = [], {}
    for record in records:
        phrases = {p for p in (tuple(words(v)) for v in record) if p}
        if phrases:
            for phrase in phrases:
                names.setdefault(phrase, []).append(len(groups))
            groups.append(tuple(sorted(phrases, key=lambda p: (len(p), p))))
    vocab = Vocabulary(tuple(groups), {k: tuple(v) for k, v in names.items()}, max(map(len, names), default=0))
    for group in parse(typed, vocab):
        phrase = group[0]
        everything = set().union(*(set(groups[g]) for g in names.get(phrase, ()))) - {phrase}
        expected = sorted(everything, key=lambda p: (len(p), p))[: MAX_ALTERNATIVES - 1]
        assert group == [phrase, *expected]
