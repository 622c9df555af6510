"""One way of paging: every list, search, revisions and changes pages the same way, and every `Link` to a
next page is on the public base URL when one is configured."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.pagination import split_page
from tests.conftest import client_for
from tests.test_editing import make_key

BASE = "https://api.example.org"


@given(rows=st.lists(st.integers(), max_size=30), limit=st.integers(min_value=1, max_value=25))
def test_a_page_is_the_first_rows_and_says_whether_more_follow(rows, limit):
    page, more = split_page(rows, limit)
    assert list(page) == rows[:limit]
    assert more == (len(rows) > limit)


def next_url(response) -> str:
    link = response.headers["Link"]
    assert link.endswith('>; rel="next"'), link
    return link[1 : -len('>; rel="next"')]


def walk(client, path: str, params: dict, headers: dict | None = None, cursor: str = "cursor") -> list:
    """Every item of a list, following `next_cursor`; each Link must name the next page's URL."""
    items, params = [], dict(params)
    while True:
        response = client.get(path, params=params, headers=headers or {})
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        following = body["next_cursor"]
        if "Link" not in response.headers:
            return items
        url = next_url(response)
        assert url.startswith(BASE + path + "?"), url
        assert f"{cursor}={following}" in url
        params[cursor] = following


def test_every_list_links_its_next_page_on_the_public_base_url(seeded_db):
    key = make_key(seeded_db, name="jane")
    with client_for(seeded_db, public_base_url=BASE + "/") as client:
        for path in ("/v1/claims", "/v1/topics", "/v1/conditions", "/v1/therapies", "/v1/experts"):
            everything = client.get(path, params={"limit": 100}).json()["items"]
            assert walk(client, path, {"limit": 2}) == everything, path
        found = walk(client, "/v1/search", {"q": "gut", "limit": 2})
        assert len(found) > 2
        for n in range(3):
            response = client.patch(
                "/v1/conditions/rheumatoid-arthritis", json={"description": f"Take {n}."}, headers=key
            )
            assert response.status_code == 200, response.text
        revisions = walk(client, "/v1/conditions/rheumatoid-arthritis/revisions", {"limit": 1}, key)
        assert [r["revision"] for r in revisions] == sorted({r["revision"] for r in revisions}, reverse=True)
        assert len(revisions) >= 3


def test_without_a_public_base_url_links_follow_the_request(client):
    response = client.get("/v1/claims", params={"limit": 1})
    assert next_url(response).startswith("http://testserver/v1/claims?")
