"""The read API over the seed content: filters, pagination, caching, errors."""

import pytest


def keys(page, field="id"):
    return [item[field] for item in page["items"]]


def test_rheumatoid_arthritis_claims_by_slug_and_by_codes_agree(client):
    by_slug = client.get("/v1/claims", params={"condition": "rheumatoid-arthritis"}).json()
    assert by_slug["items"], "the seed says something about rheumatoid arthritis"
    for code in ("icd10cm:M06.9", "mesh:D001172", "snomedct:69896004"):
        assert keys(client.get("/v1/claims", params={"condition": code}).json()) == keys(by_slug)
    for item in by_slug["items"]:
        assert "rheumatoid-arthritis" in [c["slug"] for c in item["conditions"]]


def test_a_parent_condition_includes_its_descendants(client):
    parent = set(keys(client.get("/v1/claims", params={"condition": "autoimmune-disorders", "limit": 100}).json()))
    for child in ("rheumatoid-arthritis", "multiple-sclerosis", "inflammatory-bowel-disease"):
        assert set(keys(client.get("/v1/claims", params={"condition": child, "limit": 100}).json())) <= parent


def test_repeated_filter_is_or_and_different_filters_are_and(client):
    def ids(**params):
        return set(keys(client.get("/v1/claims", params={**params, "limit": 100}).json()))

    probiotic, prebiotic = ids(therapy_type="probiotic"), ids(therapy_type="prebiotic")
    assert probiotic and prebiotic
    assert ids(therapy_type=["probiotic", "prebiotic"]) == probiotic | prebiotic
    autoimmune = ids(condition="autoimmune-disorders")
    assert ids(condition="autoimmune-disorders", therapy_type="probiotic") == autoimmune & probiotic


def test_claims_about_probiotics_carry_evidence_and_verbatim_excerpt(client):
    items = client.get("/v1/claims", params={"therapy": "probiotics", "limit": 100}).json()["items"]
    assert items
    for item in items:
        assert "probiotics" in [t["slug"] for t in item["therapies"]]
        assert item["evidence"]["strength"] in ("high", "moderate", "low", "very-low")
        assert item["source_excerpt"]


def test_pages_follow_next_cursor_and_link_header_without_gaps_or_repeats(client):
    everything = keys(client.get("/v1/claims", params={"limit": 100}).json())
    seen, url, params = [], "/v1/claims", {"limit": 7}
    while True:
        response = client.get(url, params=params)
        page = response.json()
        seen += keys(page)
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            break
        assert 'rel="next"' in response.headers["link"]
        url, params = response.headers["link"].split(">")[0].lstrip("<"), None
    assert seen == everything and len(set(seen)) == len(seen)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"limit": "12345678901234567890"},
        {"cursor": "garbage"},
        {"condition": "no-such-condition"},
        {"condition": "icd10cm:Z99.99"},
        {"therapy_type": "surgery"},
        {"therapy": "no-such-therapy"},
    ],
)
def test_bad_parameters_are_422_problems(client, params):
    response = client.get("/v1/claims", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["title"] and body["detail"] and body["errors"]


def test_a_cursor_from_another_list_is_refused(client):
    cursor = client.get("/v1/topics", params={"limit": 1}).json()["next_cursor"]
    assert client.get("/v1/claims", params={"cursor": cursor}).status_code == 422


def test_unknown_key_is_404_problem(client):
    response = client.get("/v1/conditions/gout")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_etag_and_304(client):
    first = client.get("/v1/claims", params={"condition": "multiple-sclerosis"})
    assert first.headers["etag"] and "max-age" in first.headers["cache-control"]
    again = client.get(
        "/v1/claims", params={"condition": "multiple-sclerosis"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    other = client.get(
        "/v1/claims", params={"condition": "rheumatoid-arthritis"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert other.status_code == 200


def test_cors_allows_any_origin_to_read(client):
    response = client.get("/v1/topics", headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_every_response_says_nosniff(client):
    for path in ("/v1/topics", "/v1/topics/nope", "/nowhere", "/healthz"):
        assert client.get(path).headers["x-content-type-options"] == "nosniff"


def test_details_embed_related_items(client):
    ms = client.get("/v1/conditions/multiple-sclerosis").json()
    assert ms["parent"]["slug"] == "autoimmune-disorders"
    assert {
        "system": "mesh",
        "code": "D009103",
        "version": "2026",
        "name": "Multiple Sclerosis",
        "category": False,
        "checked_against": "MeSH 2026",
    } in ms["codes"]
    assert ms["claim_count"] >= 1
    parent = client.get("/v1/conditions/autoimmune-disorders").json()
    assert "rheumatoid-arthritis" in [c["slug"] for c in parent["children"]]
    topic = client.get("/v1/topics/fecal-microbiota-transplantation").json()
    assert topic["claims"] and topic["quotes"] and topic["source"]["slug"] == "gut-microbiome-autoimmune"


def test_quotes_say_whether_the_expert_speaks_within_their_specialty(client):
    quotes = client.get("/v1/quotes").json()["items"]
    assert len(quotes) == 4
    assert {q["specialty_fit"] for q in quotes} <= {"within", "near", "outside"}
    assert all(q["expert"]["name"] for q in quotes)


def test_therapy_types_have_counts(client):
    types = {t["type"]: t for t in client.get("/v1/therapy-types").json()}
    assert types["probiotic"]["therapy_count"] >= 1 and types["probiotic"]["claim_count"] >= 1
    assert types["microbiota-transplant"]["claim_count"] >= 1


def test_therapies_by_type_and_by_condition(client):
    diet = client.get("/v1/therapies", params={"therapy_type": "diet"}).json()["items"]
    assert diet and all(t["type"] == "diet" for t in diet)
    assert client.get("/v1/therapies", params={"condition": "autoimmune-disorders"}).json()["items"]


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_a_kept_public_response_never_outlives_its_content(client, seeded_db):
    from app.content.schemas import ConditionIn
    from app.content.store import writing

    first = client.get("/v1/conditions/dysbiosis")
    assert client.get("/v1/conditions/dysbiosis").content == first.content  # served again, unchanged
    before = client.get("/v1/claims", params={"condition": "dysbiosis"}).json()["items"]
    assert "Dysbiosis" in [c["name"] for item in before for c in item["conditions"]]
    with writing(seeded_db, "test") as writer:
        writer.put("condition", "dysbiosis", ConditionIn(name="Gut dysbiosis"))
    after = client.get("/v1/conditions/dysbiosis")
    assert after.json()["name"] == "Gut dysbiosis" and after.headers["etag"] != first.headers["etag"]
    claims = client.get("/v1/claims", params={"condition": "dysbiosis"}).json()["items"]
    assert "Gut dysbiosis" in [c["name"] for item in claims for c in item["conditions"]]


def test_the_response_cache_can_be_turned_off(seeded_db):
    from tests.conftest import client_for

    with client_for(seeded_db, response_cache_entries=0) as uncached:
        assert uncached.app.state.response_cache.max_entries == 0
        assert uncached.get("/v1/claims").status_code == 200
        assert uncached.get("/v1/claims").status_code == 200


def test_concurrent_requests_for_one_response_build_it_once(seeded_db):
    """Requests for a public response that is being built wait for that build and get what it kept."""
    if not seeded_db.is_sqlite:
        pytest.skip("on PostgreSQL the content version is read in the threadpool and builds are not coalesced")
    import anyio
    import httpx

    from app.main import create_app
    from tests.conftest import make_settings

    url = seeded_db.engine.url.render_as_string(hide_password=False)
    app = create_app(make_settings(url), db=seeded_db)
    built = []
    real = app.state.builds

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            results = []

            async def fetch():
                results.append(await client.get("/v1/claims", params={"condition": "autoimmune-disorders"}))

            async with anyio.create_task_group() as group:
                for _ in range(8):
                    group.start_soon(fetch)
        return results

    from app.content import lean, queries

    original, original_lean = queries.list_page, lean.read_page

    def counting(*args, **kwargs):
        built.append(1)
        return original(*args, **kwargs)

    def counting_lean(*args, **kwargs):  # the page built in front of the router (`content.lean`)
        built.append(1)
        return original_lean(*args, **kwargs)

    queries.list_page, lean.read_page = counting, counting_lean
    try:
        results = anyio.run(main)
    finally:
        queries.list_page, lean.read_page = original, original_lean
    assert real.limit >= 1
    assert [r.status_code for r in results] == [200] * 8
    assert len({r.content for r in results}) == 1
    assert len(built) == 1


def test_a_kept_public_response_is_served_again_without_routing(client, seeded_db):
    from prometheus_client import REGISTRY

    if not seeded_db.is_sqlite:
        pytest.skip("on PostgreSQL the content version is a network trip, so kept responses are found by the route")
    first = client.get("/v1/claims", params={"condition": "rheumatoid-arthritis"})
    head = client.head("/v1/claims", params={"condition": "rheumatoid-arthritis"})

    def served(route: str) -> float:
        return (
            REGISTRY.get_sample_value("http_requests_total", {"method": "GET", "route": route, "status": "200"}) or 0.0
        )

    before = served("/v1/claims"), served("unmatched")
    routes = client.app.router.routes
    client.app.router.routes = []  # nothing left to route to: only a kept response can answer
    try:
        again = client.get("/v1/claims", params={"condition": "rheumatoid-arthritis"})
        revalidated = client.get(
            "/v1/claims", params={"condition": "rheumatoid-arthritis"}, headers={"If-None-Match": first.headers["etag"]}
        )
        head_again = client.head("/v1/claims", params={"condition": "rheumatoid-arthritis"})
        cross_origin = client.get(
            "/v1/claims", params={"condition": "rheumatoid-arthritis"}, headers={"Origin": "https://app.example"}
        )
        other_query = client.get("/v1/claims", params={"condition": "multiple-sclerosis"})
    finally:
        client.app.router.routes = routes
    assert again.status_code == 200 and again.content == first.content
    same = ("etag", "cache-control", "vary", "content-type", "content-length", "x-content-type-options")
    assert {h: again.headers[h] for h in same} == {h: first.headers[h] for h in same}
    assert again.headers["x-request-id"] != first.headers["x-request-id"]  # still through the middleware
    assert revalidated.status_code == 304 and revalidated.headers["etag"] == first.headers["etag"]
    assert head_again.status_code == 200 and head_again.content == b""
    assert cross_origin.content == first.content and cross_origin.headers["access-control-allow-origin"] == "*"
    assert head_again.headers["content-length"] == head.headers["content-length"]
    assert other_query.status_code == 404  # never kept, so it went to the (now empty) router
    assert (served("/v1/claims"), served("unmatched")) == (before[0] + 2, before[1])  # named by its route


def test_a_kept_response_carries_nothing_of_the_request_that_made_it(client):
    first = client.get("/v1/topics", headers={"Origin": "https://app.example", "X-Request-ID": "first-caller"})
    assert first.headers["access-control-allow-origin"] == "*"
    later = client.get("/v1/topics")  # kept now: no Origin, so no CORS headers, and its own request id
    assert later.content == first.content and later.headers["etag"] == first.headers["etag"]
    assert "access-control-allow-origin" not in later.headers and later.headers["vary"].count("Origin") == 1
    assert later.headers["x-request-id"] != "first-caller"


def test_editors_and_dated_revalidations_always_reach_the_route(client, seeded_db):
    from datetime import timedelta
    from email.utils import format_datetime, parsedate_to_datetime

    from app.auth.keys import Scope, create_key

    with seeded_db.write() as conn:
        editor = {"X-API-Key": create_key(conn, scope=Scope.editor, name="ed")}
    public = client.get("/v1/claims/gut-microbiome-influences-health-beyond-digestion")
    assert public.status_code == 200 and public.headers["etag"].startswith('W/"')
    as_editor = client.get("/v1/claims/gut-microbiome-influences-health-beyond-digestion", headers=editor)
    assert as_editor.headers["etag"].startswith('"r') and as_editor.headers["cache-control"] == "private, no-cache"

    feed = client.get("/v1/feed.json")  # kept; a date, unlike an ETag, only the route can check
    a_second_later = format_datetime(
        parsedate_to_datetime(feed.headers["last-modified"]) + timedelta(seconds=1), usegmt=True
    )
    dated = client.get("/v1/feed.json", headers={"If-Modified-Since": a_second_later})
    assert dated.status_code == 304 and dated.headers["last-modified"] == feed.headers["last-modified"]
