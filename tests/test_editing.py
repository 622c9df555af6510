"""The editors' write API through HTTP: keys and scopes, bodies, the status workflow, If-Match, referential
integrity, review dates and the OpenAPI description of every write."""

from datetime import UTC, datetime, timedelta

import pytest

from app.auth.keys import Scope, create_key
from app.content.resources import RESOURCES
from app.editing.examples import CREATE

PROBLEM = "application/problem+json"


def make_key(db, scope: str = "editor", name: str = "jane") -> dict[str, str]:
    with db.write() as conn:
        return {"X-API-Key": create_key(conn, scope=Scope(scope), name=name)}


@pytest.fixture
def editor(seeded_db):
    return make_key(seeded_db)


def new_condition(client, editor, slug="coeliac-disease", **fields):
    body = {"slug": slug, "name": "Coeliac disease", "parent": "autoimmune-disorders", **fields}
    response = client.post("/v1/conditions", json=body, headers=editor)
    assert response.status_code == 201, response.text
    return response


def log_end(client) -> str:
    """The change-log cursor after the newest entry."""
    cursor = None
    while True:
        page = client.get("/v1/changes", params={"limit": 100, **({"since": cursor} if cursor else {})}).json()
        if not page["items"]:
            return page["next_cursor"] or cursor
        cursor = page["next_cursor"]


# ---- keys and scopes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", RESOURCES.values(), ids=lambda s: s.plural)
def test_every_write_needs_an_editor_key(client, seeded_db, spec):
    partner = make_key(seeded_db, "partner", "acme")
    item = f"/v1/{spec.plural}/anything"
    for method, url, body in (
        ("POST", f"/v1/{spec.plural}", CREATE[spec.name]),
        ("PATCH", item, {}),
        ("DELETE", item, None),
    ):
        anonymous = client.request(method, url, json=body)
        assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
        assert client.request(method, url, json=body, headers=partner).status_code == 403
        unknown = client.request(method, url, json=body, headers={"X-API-Key": "hck_nope_nope"})
        assert unknown.status_code == 401


@pytest.mark.parametrize("spec", RESOURCES.values(), ids=lambda s: s.plural)
def test_each_resource_takes_its_documented_example(client, editor, spec):
    response = client.post(f"/v1/{spec.plural}", json=CREATE[spec.name], headers=editor)
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["status"] == "draft" and item["revision"] == 1
    key = item[spec.key_field]
    assert response.headers["location"].endswith(f"/v1/{spec.plural}/{key}")
    read = client.get(f"/v1/{spec.plural}/{key}", headers=editor)
    assert read.status_code == 200 and read.headers["etag"] == response.headers["etag"]
    assert client.get(f"/v1/{spec.plural}/{key}").status_code == 404, "a draft is not public"


# ---- bodies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["id", "revision", "created_at", "updated_at", "nonsense"])
def test_server_owned_and_unknown_fields_are_refused(client, editor, field):
    body = {**CREATE["claim"], field: "x"}
    response = client.post("/v1/claims", json=body, headers=editor)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert field in {e["field"] for e in response.json()["errors"]}
    patch = client.patch("/v1/conditions/dysbiosis", json={field: "x"}, headers=editor)
    assert patch.status_code == 422


def test_the_key_of_a_record_cannot_be_patched(client, editor):
    assert client.patch("/v1/conditions/dysbiosis", json={"slug": "other"}, headers=editor).status_code == 422


def test_claims_get_a_server_made_id_and_slugs_are_checked(client, editor):
    first = client.post("/v1/claims", json=CREATE["claim"], headers=editor).json()
    second = client.post("/v1/claims", json=CREATE["claim"], headers=editor).json()
    assert first["id"] != second["id"]
    bad = client.post("/v1/conditions", json={"slug": "Not A Slug", "name": "x"}, headers=editor)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "slug"
    new_condition(client, editor)
    again = client.post("/v1/conditions", json={"slug": "coeliac-disease", "name": "x"}, headers=editor)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM


def test_a_claim_naming_an_unknown_condition_is_422_naming_it(client, editor):
    response = client.post("/v1/claims", json={**CREATE["claim"], "conditions": ["gout"]}, headers=editor)
    assert response.status_code == 422
    body = response.json()
    assert "gout" in body["detail"] and body["errors"][0]["field"] == "conditions"
    patch = client.patch("/v1/claims/fmt-restores-microbial-balance", json={"therapies": ["leeches"]}, headers=editor)
    assert patch.status_code == 422 and "leeches" in patch.json()["detail"]


def test_patch_merges_and_checks_the_whole_record(client, editor):
    before = client.get("/v1/conditions/dysbiosis", headers=editor).json()
    response = client.patch("/v1/conditions/dysbiosis", json={"synonyms": ["microbial imbalance"]}, headers=editor)
    assert response.status_code == 200
    after = response.json()
    assert after["synonyms"] == ["microbial imbalance"] and after["name"] == before["name"]
    assert after["revision"] == before["revision"] + 1 and after["updated_at"] > before["updated_at"]
    assert after["created_at"] == before["created_at"]
    cleared = client.patch("/v1/conditions/dysbiosis", json={"name": None}, headers=editor)
    assert cleared.status_code == 422 and cleared.json()["errors"][0]["field"] == "name"


def test_an_unchanged_patch_changes_nothing(client, editor):
    before = client.get("/v1/therapies/probiotics", headers=editor)
    for body in ({}, {"name": before.json()["name"]}):
        response = client.patch("/v1/therapies/probiotics", json=body, headers=editor)
        assert response.status_code == 200 and response.headers["etag"] == before.headers["etag"]
        assert response.json()["revision"] == before.json()["revision"]


def test_an_oversized_body_is_413(client_413):
    client, editor = client_413
    response = client.post("/v1/conditions", json={"slug": "big", "name": "x" * 3000}, headers=editor)
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM


@pytest.fixture
def client_413(seeded_db):
    from tests.conftest import client_for

    with client_for(seeded_db, max_body_bytes=2000) as test_client:
        yield test_client, make_key(seeded_db)


# ---- status workflow -------------------------------------------------------------------------------------


def test_draft_publish_retract(client, editor):
    since = log_end(client)
    new_condition(client, editor)
    drafts = client.get("/v1/conditions", params={"status": "draft"}, headers=editor).json()["items"]
    assert [c["slug"] for c in drafts] == ["coeliac-disease"]
    assert "coeliac-disease" not in [c["slug"] for c in client.get("/v1/conditions?limit=100").json()["items"]]
    assert client.get("/v1/changes", params={"since": since}).json()["items"] == [], "drafts are not public"

    published = client.patch("/v1/conditions/coeliac-disease", json={"status": "published"}, headers=editor)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert client.get("/v1/conditions/coeliac-disease").status_code == 200

    no_reason = client.patch("/v1/conditions/coeliac-disease", json={"status": "retracted"}, headers=editor)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "retraction_reason"
    retracted = client.patch(
        "/v1/conditions/coeliac-disease",
        headers=editor,
        json={"status": "retracted", "retraction_reason": "Duplicate of another record."},
    )
    assert retracted.status_code == 200
    assert client.get("/v1/conditions/coeliac-disease").status_code == 404
    assert "coeliac-disease" not in [c["slug"] for c in client.get("/v1/conditions?limit=100").json()["items"]]
    kept = client.get("/v1/conditions/coeliac-disease", headers=editor).json()
    assert kept["status"] == "retracted" and kept["retraction_reason"] == "Duplicate of another record."
    log = [(c["key"], c["op"]) for c in client.get("/v1/changes", params={"since": since}).json()["items"]]
    assert log == [("coeliac-disease", "upsert"), ("coeliac-disease", "delete")]

    again = client.patch("/v1/conditions/coeliac-disease", json={"status": "published"}, headers=editor).json()
    assert again["retraction_reason"] is None, "leaving retraction clears the reason"
    stray = client.patch("/v1/conditions/coeliac-disease", json={"retraction_reason": "why"}, headers=editor)
    assert stray.status_code == 422


# ---- If-Match --------------------------------------------------------------------------------------------


def test_a_stale_if_match_is_412_and_changes_nothing(client, editor):
    read = client.get("/v1/experts/houshang-aminian", headers=editor)
    tag = read.headers["etag"]
    assert not tag.startswith("W/"), "a strong tag"
    first = client.patch(
        "/v1/experts/houshang-aminian", json={"location": "Boston"}, headers={**editor, "If-Match": tag}
    )
    assert first.status_code == 200 and first.headers["etag"] != tag
    stale = client.patch(
        "/v1/experts/houshang-aminian", json={"location": "Paris"}, headers={**editor, "If-Match": tag}
    )
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    assert stale.headers["etag"] == first.headers["etag"]
    assert client.get("/v1/experts/houshang-aminian", headers=editor).json()["location"] == "Boston"
    assert client.delete("/v1/experts/houshang-aminian", headers={**editor, "If-Match": tag}).status_code == 412
    current = client.patch(
        "/v1/experts/houshang-aminian",
        json={"location": "Paris"},
        headers={**editor, "If-Match": f'"other", {first.headers["etag"]}'},
    )
    assert current.status_code == 200
    assert (
        client.patch(
            "/v1/experts/houshang-aminian", json={"location": "Rome"}, headers={**editor, "If-Match": "*"}
        ).status_code
        == 200
    )


def test_writes_without_if_match_apply_to_the_current_record(client, editor):
    new_condition(client, editor)
    client.patch("/v1/conditions/coeliac-disease", json={"synonyms": ["celiac disease"]}, headers=editor)
    blind = client.patch("/v1/conditions/coeliac-disease", json={"description": "Gluten."}, headers=editor)
    assert blind.status_code == 200 and blind.json()["synonyms"] == ["celiac disease"], "other fields kept"
    assert client.delete("/v1/conditions/coeliac-disease", headers=editor).status_code == 204
    assert client.get("/v1/conditions/coeliac-disease", headers=editor).status_code == 404


def test_editor_reads_revalidate_with_the_revision_tag(client, editor):
    first = client.get("/v1/claims/fmt-restores-microbial-balance", headers=editor)
    again = client.get(
        "/v1/claims/fmt-restores-microbial-balance",
        headers={**editor, "If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304


# ---- referential integrity and deletes -------------------------------------------------------------------


def test_deleting_a_condition_claims_use_is_409_saying_how_many(client, editor):
    new_condition(client, editor)
    for _ in range(2):
        body = {**CREATE["claim"], "conditions": ["coeliac-disease"]}
        assert client.post("/v1/claims", json=body, headers=editor).status_code == 201
    response = client.delete("/v1/conditions/coeliac-disease", headers=editor)
    assert response.status_code == 409 and response.headers["content-type"] == PROBLEM
    assert response.json()["detail"].startswith("2 claims still use this condition")
    assert client.get("/v1/conditions/coeliac-disease", headers=editor).status_code == 200
    assert client.delete("/v1/conditions/multiple-sclerosis", headers=editor).status_code == 409
    assert client.delete("/v1/conditions/gout", headers=editor).status_code == 404


def test_deleting_a_published_record_leaves_a_tombstone(client, editor):
    new_condition(client, editor, status="published")
    since = log_end(client)
    assert client.delete("/v1/conditions/coeliac-disease", headers=editor).status_code == 204
    log = client.get("/v1/changes", params={"since": since}).json()["items"]
    assert [(c["key"], c["op"], c["data"]) for c in log] == [("coeliac-disease", "delete", None)]


# ---- review dates ----------------------------------------------------------------------------------------


def test_review_overdue_lists_topics_and_sources_due_before_today(client, editor):
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    client.patch(
        "/v1/topics/fecal-microbiota-transplantation",
        headers=editor,
        json={"next_review_due": yesterday, "last_reviewed_at": "2025-01-01", "reviewed_by": "Jane"},
    )
    client.patch("/v1/topics/introduction", json={"next_review_due": tomorrow}, headers=editor)
    client.patch("/v1/sources/gut-microbiome-autoimmune", json={"next_review_due": yesterday}, headers=editor)
    topics = client.get("/v1/topics", params={"review": "overdue"}).json()["items"]
    assert [t["slug"] for t in topics] == ["fecal-microbiota-transplantation"]
    assert topics[0]["reviewed_by"] == "Jane"
    filtered = client.get("/v1/topics", params={"review": "overdue", "therapy": "probiotics"}).json()["items"]
    assert filtered == []
    sources = client.get("/v1/sources", params={"review": "overdue"}).json()["items"]
    assert [s["slug"] for s in sources] == ["gut-microbiome-autoimmune"]
    assert client.get("/v1/topics", params={"review": "someday"}).status_code == 422


# ---- OpenAPI ---------------------------------------------------------------------------------------------


def test_every_write_is_documented_with_body_errors_and_example(client):
    paths = client.get("/openapi.json").json()["paths"]
    for spec in RESOURCES.values():
        item = paths[f"/v1/{spec.plural}/{{{spec.key_field}}}"]
        for operation, errors in (
            (paths[f"/v1/{spec.plural}"]["post"], {"401", "403", "413", "422"}),
            (item["patch"], {"401", "403", "404", "412", "413", "422"}),
            (item["delete"], {"401", "403", "404", "409", "412"}),
        ):
            assert operation["summary"] and operation["description"]
            assert errors <= set(operation["responses"])
            for status in errors:
                assert "example" in operation["responses"][status]["content"][PROBLEM]
            if "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]
                assert body["schema"]["$ref"] and body["example"]
        assert "requestBody" in item["patch"]
        assert "404" in paths[f"/v1/{spec.plural}/{{{spec.key_field}}}/revisions"]["get"]["responses"]
    review = [p for p in paths["/v1/topics"]["get"]["parameters"] if p["name"] == "review"]
    assert review and "overdue" in review[0]["description"]
