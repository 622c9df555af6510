"""Revisions: every change of a record is kept with who and when, listed newest first for editors only,
and any revision can be restored with a PATCH of its `data`."""

import pytest

from tests.test_editing import make_key, new_condition


@pytest.fixture
def editor(seeded_db):
    return make_key(seeded_db, name="jane")


def history(client, editor, path, **params):
    response = client.get(f"{path}/revisions", params=params, headers=editor)
    assert response.status_code == 200, response.text
    return response


def test_every_change_is_a_revision_with_actor_newest_first(client, seeded_db, editor):
    other = make_key(seeded_db, name="omar")
    new_condition(client, editor, synonyms=["celiac disease"])
    client.patch("/v1/conditions/coeliac-disease", json={"description": "Gluten."}, headers=other)
    client.patch("/v1/conditions/coeliac-disease", json={"status": "published"}, headers=editor)
    client.patch("/v1/conditions/coeliac-disease", json={}, headers=editor)  # unchanged: no revision
    items = history(client, editor, "/v1/conditions/coeliac-disease").json()["items"]
    assert [(i["revision"], i["op"], i["actor"]) for i in items] == [
        (3, "updated", "jane"),
        (2, "updated", "omar"),
        (1, "created", "jane"),
    ]
    assert items[0]["data"]["status"] == "published" and items[2]["data"]["status"] == "draft"
    assert items[1]["data"]["description"] == "Gluten." and items[2]["data"]["description"] is None
    assert items[0]["at"] >= items[1]["at"] >= items[2]["at"]
    assert not {"slug", "revision", "created_at", "updated_at"} & set(items[0]["data"]), "the write shape"


def test_revisions_page_with_cursor_and_link(client, editor):
    new_condition(client, editor)
    for n in range(4):
        client.patch("/v1/conditions/coeliac-disease", json={"description": f"v{n}"}, headers=editor)
    seen, params = [], {"limit": 2}
    while True:
        response = history(client, editor, "/v1/conditions/coeliac-disease", **params)
        page = response.json()
        seen += [i["revision"] for i in page["items"]]
        if not page["next_cursor"]:
            assert "link" not in response.headers
            break
        assert 'rel="next"' in response.headers["link"]
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert seen == [5, 4, 3, 2, 1]
    bad = client.get("/v1/conditions/coeliac-disease/revisions", params={"cursor": "nope"}, headers=editor)
    assert bad.status_code == 422


def test_revisions_are_for_editors_only(client, seeded_db):
    path = "/v1/claims/fmt-restores-microbial-balance/revisions"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=make_key(seeded_db, "partner", "acme")).status_code == 403
    assert client.get(path, headers=make_key(seeded_db)).json()["items"][0]["revision"] == 1
    assert client.get("/v1/claims/no-such-claim/revisions", headers=make_key(seeded_db)).status_code == 404


def test_a_patch_with_a_revisions_data_restores_it(client, editor):
    original = client.get("/v1/claims/fmt-restores-microbial-balance", headers=editor).json()
    client.patch(
        "/v1/claims/fmt-restores-microbial-balance",
        headers=editor,
        json={
            "text": "Rewritten.",
            "conditions": ["multiple-sclerosis"],
            "evidence": {"kind": "studies", "strength": "low"},
        },
    )
    client.patch(
        "/v1/claims/fmt-restores-microbial-balance",
        headers=editor,
        json={"status": "retracted", "retraction_reason": "Wrong."},
    )
    items = history(client, editor, "/v1/claims/fmt-restores-microbial-balance").json()["items"]
    first = items[-1]
    assert first["revision"] == 1
    restored = client.patch("/v1/claims/fmt-restores-microbial-balance", json=first["data"], headers=editor)
    assert restored.status_code == 200
    now = restored.json()
    assert now["revision"] == 4 and now["status"] == "published" and now["retraction_reason"] is None
    for field in ("text", "conditions", "therapies", "evidence", "topic", "expert", "source_excerpt"):
        assert now[field] == original[field], field
    assert client.get("/v1/claims/fmt-restores-microbial-balance").status_code == 200, "public again"


def test_a_deleted_records_history_stays_and_can_bring_it_back(client, editor):
    first_tag = new_condition(client, editor, description="Kept.").headers["etag"]
    assert client.delete("/v1/conditions/coeliac-disease", headers=editor).status_code == 204
    items = history(client, editor, "/v1/conditions/coeliac-disease").json()["items"]
    assert [(i["revision"], i["op"]) for i in items] == [(2, "deleted"), (1, "created")]
    again = client.post("/v1/conditions", json={"slug": "coeliac-disease", **items[0]["data"]}, headers=editor)
    assert again.status_code == 201 and again.json()["description"] == "Kept."
    assert again.json()["revision"] == 1 and again.headers["etag"] != first_tag, "a new record, a new tag"
    stale = client.patch(
        "/v1/conditions/coeliac-disease", json={"name": "x"}, headers={**editor, "If-Match": first_tag}
    )
    assert stale.status_code == 412
