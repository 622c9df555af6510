"""Publication is a closure: a public response never contains, references, counts, filters by or reveals an
unpublished record. These are the attack's findings, one test each; the property test over random stores
is in tests/test_closure_property.py."""

from __future__ import annotations

import pytest
from lxml import etree

from app.auth.keys import Scope, create_key
from app.content.resources import RESOURCES
from app.editing.examples import CREATE
from tests.conftest import client_for

NO_LIMITS = {
    "rate_limit_anonymous": "1000000/minute",
    "rate_limit_editor": "1000000/minute",
    "rate_limit_partner": "1000000/minute",
}


@pytest.fixture
def api(seeded_db):
    with client_for(seeded_db, **NO_LIMITS) as client:
        yield client


@pytest.fixture
def editor(seeded_db) -> dict[str, str]:
    with seeded_db.write() as conn:
        return {"X-API-Key": create_key(conn, scope=Scope.editor, name="closure-tester")}


def a_topic(api) -> str:
    return api.get("/v1/topics", params={"limit": 1}).json()["items"][0]["slug"]


def test_a_published_quote_of_a_draft_expert_leaves_both_feeds_up(api, editor):
    """Defect 1: the feeds answered 500 to everyone (TypeError on the missing expert)."""
    expert = {**CREATE["expert"], "slug": "dr-hidden", "name": "Hidden Person", "status": "draft"}
    assert api.post("/v1/experts", json=expert, headers=editor).status_code == 201
    quote = {"expert": "dr-hidden", "topic": a_topic(api), "text": "A hidden remark.", "status": "published"}
    assert api.post("/v1/quotes", json=quote, headers=editor).status_code == 201
    for path in ("/v1/feed.json", "/v1/feed.atom"):
        response = api.get(path)
        assert response.status_code == 200, response.text[:300]
        assert "Hidden Person" not in response.text and "dr-hidden" not in response.text
        assert "A hidden remark." not in response.text, "a quote is shown with who said it, or not at all"
    etree.fromstring(api.get("/v1/feed.atom").content)
    # the same connection still serves (the keep-alive connection was dropped after the 500)
    assert api.get("/v1/claims").status_code == 200


@pytest.mark.parametrize("spec", RESOURCES.values(), ids=lambda spec: spec.name)
def test_if_none_match_star_on_a_missing_record_is_404_not_304(api, spec):
    """Defect 15: `If-None-Match: *` matches a current representation only; there is none to match."""
    response = api.get(f"/v1/{spec.plural}/no-such-record", headers={"If-None-Match": "*"})
    assert response.status_code == 404, response.status_code
    for path in ("/topics/no-such-topic", "/v1/feed.json?topic=no-such-topic"):
        assert api.get(path, headers={"If-None-Match": "*"}).status_code in (404, 422)
