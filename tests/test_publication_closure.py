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


def changes_of(api) -> list[dict]:
    items, since = [], None
    while True:
        page = api.get("/v1/changes", params={"limit": 100} | ({"since": since} if since else {})).json()
        items += page["items"]
        if not page["items"]:
            return items
        since = page["next_cursor"]


def test_unpublished_records_leak_nowhere_the_attack_found_them(api, editor):
    """Defect 6: a draft expert's name in a quote's search title and snippet, draft slugs in search facets,
    draft keys in the change log and the export, a draft slug accepted as a filter, an ancestor filter and
    therapy_type revealing drafts."""
    topic = a_topic(api)
    posts = [
        ("experts", {**CREATE["expert"], "slug": "dr-secret", "name": "Zebulon Secretname", "status": "draft"}),
        ("conditions", {"slug": "draft-parent", "name": "Draft parent", "status": "draft"}),
        ("conditions", {"slug": "draft-child", "name": "Draft child", "parent": "dysbiosis", "status": "draft"}),
        ("therapies", {"slug": "draft-cure", "name": "Draft cure", "type": "precision-medicine", "status": "draft"}),
    ]
    for plural, body in posts:
        assert api.post(f"/v1/{plural}", json=body, headers=editor).status_code == 201, body
    # a published condition under the draft parent: its claims are not found through the draft
    body = {"slug": "public-child", "name": "Public child", "parent": "draft-parent", "status": "published"}
    assert api.post("/v1/conditions", json=body, headers=editor).status_code == 201
    claim = {
        **CREATE["claim"],
        "topic": topic,
        "text": "Zebulon fibre claim.",
        "conditions": ["draft-child", "public-child"],
        "therapies": ["draft-cure"],
        "expert": "dr-secret",
        "status": "published",
    }
    made = api.post("/v1/claims", json=claim, headers=editor)
    assert made.status_code == 201, made.text
    claim_id = made.json()["id"]
    quote = {"expert": "dr-secret", "topic": topic, "text": "Zebulon said so.", "status": "published"}
    assert api.post("/v1/quotes", json=quote, headers=editor).status_code == 201
    secrets = ("dr-secret", "Secretname", "draft-parent", "draft-child", "draft-cure", "Draft")
    search = api.get("/v1/search", params={"q": "Zebulon"})
    assert search.json()["items"], "the published claim and quote are found"
    public = [search.text, api.get("/v1/export").content.decode("latin-1"), api.get(f"/v1/claims/{claim_id}").text]
    import gzip

    public[1] = gzip.decompress(api.get("/v1/export").content).decode()
    public.append(str(changes_of(api)))
    for text in public:
        assert not [s for s in secrets if s in text], [s for s in secrets if s in text]
    unknown = api.get("/v1/claims", params={"condition": "no-such-condition"})
    for name, value in [("condition", "draft-child"), ("therapy", "draft-cure"), ("expert", "dr-secret")]:
        answer = api.get("/v1/claims", params={name: value})
        assert answer.status_code == unknown.status_code == 422, answer.text
        assert answer.json()["type"] == unknown.json()["type"]
    found = {c["id"] for c in api.get("/v1/claims", params={"condition": "dysbiosis", "limit": 100}).json()["items"]}
    assert claim_id not in found, "the draft child's place under dysbiosis is not revealed"
    found = {c["id"] for c in api.get("/v1/claims", params={"condition": "public-child", "limit": 100}).json()["items"]}
    assert claim_id in found
    found = {
        c["id"]
        for c in api.get("/v1/claims", params={"therapy_type": "precision-medicine", "limit": 100}).json()["items"]
    }
    assert claim_id not in found, "therapy_type does not reveal the draft therapy's type"


def test_publishing_a_referenced_record_is_a_new_content_version_of_what_names_it(api, editor):
    """Defect 7 and its general form: a write that changes what the public sees of other records gives
    each of them a change-log entry, so 304s and kept answers cannot stay stale."""
    topic = a_topic(api)
    body = {"slug": "quiet-therapy", "name": "Quiet therapy", "type": "precision-medicine", "status": "draft"}
    assert api.post("/v1/therapies", json=body, headers=editor).status_code == 201
    claim = {**CREATE["claim"], "topic": topic, "therapies": ["quiet-therapy"], "status": "published"}
    claim_id = api.post("/v1/claims", json=claim, headers=editor).json()["id"]
    listed = api.get("/v1/claims", params={"therapy_type": "precision-medicine"})
    assert claim_id not in listed.text
    seen = len(changes_of(api))
    # a draft's type change shows nowhere: no public change, and the list is still current
    changed = api.patch("/v1/therapies/quiet-therapy", json={"type": "exposure"}, headers=editor)
    assert changed.status_code == 200, changed.text
    assert len(changes_of(api)) == seen
    held = api.get("/v1/claims", params={"therapy_type": "exposure"})
    assert claim_id not in held.text
    # publishing it changes the claim's public form and facets: the claim gets its own entry
    published = api.patch("/v1/therapies/quiet-therapy", json={"status": "published"}, headers=editor)
    assert published.status_code == 200, published.text
    entries = changes_of(api)[seen:]
    assert {(e["resource"], e["key"]) for e in entries} >= {("therapy", "quiet-therapy"), ("claim", claim_id)}
    claim_entry = next(e for e in entries if e["key"] == claim_id)
    assert claim_entry["op"] == "upsert" and claim_entry["data"]["therapies"] == ["quiet-therapy"]
    again = api.get("/v1/claims", params={"therapy_type": "exposure"}, headers={"If-None-Match": held.headers["etag"]})
    assert again.status_code == 200 and claim_id in again.text
