"""HTTP as clients and caches expect it: a query parameter nobody reads is refused, not ignored; dates
compare at whole seconds, as HTTP dates are written."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.strict_query import accepted_query_parameters
from app.ops.routing import iter_routes
from app.partners.conditional import http_date
from tests.test_feeds import write_topic

GETS = [
    "/v1/claims",
    "/v1/claims/gut-microbiome-influences-health-beyond-digestion",
    "/v1/topics",
    "/v1/conditions/rheumatoid-arthritis",
    "/v1/therapy-types",
    "/v1/search?q=gut",
    "/v1/feed.json",
    "/v1/feed.atom",
    "/v1/changes",
    "/v1/export",
    "/healthz",
]


def test_a_misspelt_filter_is_a_422_naming_it_and_the_accepted_ones(client):
    everything = client.get("/v1/claims", params={"limit": 100}).json()["items"]
    response = client.get("/v1/claims", params={"conditon": "rheumatoid-arthritis", "limit": 100})
    assert response.status_code == 422 and len(everything) > 1
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/unknown-query-parameter")
    assert "'conditon'" in problem["detail"] and "condition, " in problem["detail"]
    [error] = problem["errors"]
    assert error["field"] == "conditon" and error["location"] == "query"
    assert "did you mean 'condition'?" in error["message"]
    for accepted in ("condition", "therapy_type", "limit", "cursor"):
        assert accepted in problem["detail"]


@pytest.mark.parametrize("path", GETS)
@pytest.mark.parametrize("extra", ["fields=id", "sort=-id", "page=2", "x"])
def test_every_endpoint_refuses_unknown_parameters(client, path, extra):
    joined = f"{path}{'&' if '?' in path else '?'}{extra}"
    assert client.get(path).status_code == 200
    response = client.get(joined)
    assert response.status_code == 422, joined
    assert response.json()["errors"][0]["field"] == extra.split("=")[0]


def test_several_unknown_parameters_are_all_named(client):
    problem = client.get("/v1/topics?sort=title&fields=slug&limit=5").json()
    assert sorted(e["field"] for e in problem["errors"]) == ["fields", "sort"]


def test_the_check_agrees_with_the_openapi_document(client):
    """What a route accepts is what the document lists for it: nothing documented is refused."""
    document = client.get("/openapi.json").json()
    routes = {path: r for path, methods, r in iter_routes(client.app.router.routes) if "GET" in methods}
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "get":
                continue
            documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert isinstance(routes[path], APIRoute)
            accepted = accepted_query_parameters(routes[path])
            # A route that opted out takes any parameter, so it refuses nothing it documents.
            assert accepted is None or accepted == documented, path
            checked += 1
    assert checked > 15


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12))
def test_any_name_a_route_does_not_read_is_refused(client, name):
    route = next(
        r for path, methods, r in iter_routes(client.app.router.routes) if path == "/v1/claims" and "GET" in methods
    )
    response = client.get("/v1/claims", params={name: "rheumatoid-arthritis"})
    if name in accepted_query_parameters(route):
        assert response.status_code != 422 or not response.json()["type"].endswith("/unknown-query-parameter")
    else:
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == name


def test_a_route_may_opt_out_and_take_any_parameter(seeded_db):
    from fastapi import APIRouter

    from app.api.strict_query import accepts_extra_query_parameters
    from app.main import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(str(seeded_db.engine.url)), db=seeded_db)
    router = APIRouter()

    @router.get("/v1/lenient")
    @accepts_extra_query_parameters
    async def lenient(known: str = "k") -> dict:
        return {"known": known}

    app.include_router(router)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        answer = client.get("/v1/lenient?known=a&mainSearchCriteria.v.c=M06.9&anything=1")
        assert answer.status_code == 200 and answer.json() == {"known": "a"}
        assert client.get("/v1/claims?anything=1").status_code == 422


@pytest.mark.parametrize("path", ["/v1/feed.json", "/v1/feed.atom", "/v1/changes", "/v1/export"])
def test_the_exact_last_modified_sent_back_is_a_304(client, path):
    first = client.get(path)
    stamp = first.headers["last-modified"]
    again = client.get(path, headers={"If-Modified-Since": stamp})
    assert again.status_code == 304, path
    earlier = format_datetime(parsedate_to_datetime(stamp) - timedelta(seconds=1), usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200


def test_a_change_after_the_date_is_never_hidden(client, seeded_db):
    first = client.get("/v1/feed.json")
    write_topic(seeded_db, "introduction", summary="Changed after the date was sent.")
    assert client.get("/v1/feed.json", headers={"If-Modified-Since": first.headers["last-modified"]}).status_code == 200
    current = client.get("/v1/feed.json").headers["last-modified"]
    assert parsedate_to_datetime(current) >= parsedate_to_datetime(first.headers["last-modified"])


@given(
    change=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    made_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(seconds=5)),
    later=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(seconds=3)),
)
def test_a_date_never_hides_a_change_made_after_the_response(change, made_after, later):
    """A response made at `made` showing a change at `change` is dated so that any change made after the
    response (`made + later`) compares, at whole seconds, as newer than the date sent back."""
    made = change + made_after
    stamp = parsedate_to_datetime(http_date(change.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), now=made))
    assert stamp <= change
    newer = (made + later).replace(microsecond=0)
    assert newer > stamp
    if made.replace(microsecond=0) > change.replace(microsecond=0):
        assert stamp == change.replace(microsecond=0)  # dated exactly once its second is over


def test_an_edit_elsewhere_still_revalidates_with_304(client, seeded_db):
    """A response's tag comes from what it shows: an edit to an expert leaves the conditions list and a
    claim by no one as they were (304), an edit to a condition changes the list (200, a new tag)."""
    from tests.test_changes import put_changed

    paths = ["/v1/conditions?limit=100", "/v1/therapies?limit=100", "/v1/therapy-types"]
    first = {path: client.get(path) for path in paths}
    put_changed(seeded_db, "expert", client.get("/v1/experts").json()["items"][0]["slug"], job_title="Changed")
    for path, response in first.items():
        again = client.get(path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.headers["etag"] == response.headers["etag"], path
        assert client.get(path).headers["etag"] == response.headers["etag"]  # and as kept again
    put_changed(seeded_db, "condition", "rheumatoid-arthritis", description="Described anew.")
    changed = client.get(paths[0], headers={"If-None-Match": first[paths[0]].headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first[paths[0]].headers["etag"]
    assert "Described anew." in changed.text
    assert client.get(paths[1], headers={"If-None-Match": first[paths[1]].headers["etag"]}).status_code == 304
