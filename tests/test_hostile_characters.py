"""Characters XML 1.0 cannot hold, huge integers and crafted cursors never reach a 500. Such a character is
refused at the door: in a query parameter (a 422 naming the parameter) and in any JSON body (a 422 naming
the field), so nothing stored or echoed can break the Atom feed. Routes, parameters and write fields are
found by walking the app and its OpenAPI document, so a new one is tried too."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.editing.examples import CREATE
from tests.test_hostile_input import NO_LIMITS, assert_problem, fill, get_paths, query_parameters, write_routes

# Characters XML 1.0 cannot hold: C0 controls but tab, newline and carriage return; U+FFFE, U+FFFF.
NOT_XML = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + ["\ufffe", "\uffff"]
HUGE = ["2147483648", "9223372036854775808", "18446744073709551616", "9" * 40]
FEEDS = ("/v1/feed.json", "/v1/feed.atom")


def problem_names(response, location: str) -> set[str | None]:
    return {error.get("field") for error in response.json().get("errors", []) if error.get("location") == location}


@pytest.fixture
def api(seeded_db):
    from tests.conftest import client_for

    with client_for(seeded_db, **NO_LIMITS) as client:
        yield client


@pytest.fixture
def editor(seeded_db) -> dict[str, str]:
    from app.auth.keys import Scope, create_key

    with seeded_db.write() as conn:
        return {"X-API-Key": create_key(conn, scope=Scope.editor, name="xml-tester")}


def feeds_still_serve(api) -> None:
    for path in FEEDS:
        response = api.get(path)
        assert response.status_code == 200, (path, response.text[:300])
    etree.fromstring(api.get("/v1/feed.atom").content)  # well-formed XML


# ---- query parameters --------------------------------------------------------------------------------


@settings(max_examples=12, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(char=st.sampled_from(NOT_XML), prefix=st.sampled_from(["", "en", "a-"]))
def test_a_character_xml_cannot_hold_in_any_query_parameter_is_a_422_naming_it(api, char, prefix):
    tried = 0
    for path in get_paths(api.app):
        for param in query_parameters(api.app, path) or [{"name": "q"}]:
            name = param["name"]
            url = f"{fill(path)}?{name}={quote(prefix + char, safe='')}"
            response = api.get(url)
            assert_problem(response, 422, context=url)
            assert name in problem_names(response, "query"), (url, response.text)
            tried += 1
    assert tried > 50


def test_the_atom_feed_with_such_a_language_is_a_422_not_a_500(api):
    for value in ("%01", "%0B", "%EF%BF%BE", "%EF%BF%BF", "en%1F"):
        for path in FEEDS:
            response = api.get(f"{path}?lang={value}")
            assert_problem(response, 422, context=f"{path}?lang={value}")
            assert problem_names(response, "query") == {"lang"}
    feeds_still_serve(api)


def test_huge_integers_in_every_integer_parameter_are_422(api, editor):
    api.headers.update(editor)  # the editors' routes too
    tried = 0
    for path in get_paths(api.app):
        for param in query_parameters(api.app, path):
            if param["schema"].get("type") != "integer":
                continue
            for value in HUGE:
                tried += 1
                response = api.get(fill(path), params={param["name"]: value})
                assert_problem(response, 422, context=f"{path}?{param['name']}={value}")
    assert tried


def crafted(scope: str, position: Any) -> str:
    raw = json.dumps({"s": scope, "p": position}, separators=(",", ":")).encode()  # orjson stops at 64 bits
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def paged_scopes(api) -> list[tuple[str, str, str]]:
    """(path, parameter, cursor scope) of every paged public endpoint, scope read from a real cursor."""
    found = []
    for path in get_paths(api.app):
        if "{" in path:
            continue
        names = {p["name"] for p in query_parameters(api.app, path)}
        parameter = "cursor" if "cursor" in names else "since" if "since" in names else None
        if parameter is None:
            continue
        params = {"limit": 1} if "limit" in names else {}
        if path == "/v1/search":
            params["q"] = "microbiome"
        response = api.get(path, params=params)
        body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        cursor = body.get("next_cursor") or body.get("next_since")
        if cursor is None and parameter == "cursor":
            link = response.headers.get("link", "")
            cursor = link.split(f"{parameter}=")[1].split(">")[0].split("&")[0] if f"{parameter}=" in link else None
        if cursor is None:
            continue
        padded = cursor + "=" * (-len(cursor) % 4)
        scope = orjson.loads(base64.urlsafe_b64decode(padded))["s"]
        found.append((path, parameter, scope))
    return found


@pytest.mark.parametrize("position", [2**31, 2**63, 2**64, 10**40, -1])
def test_a_crafted_cursor_past_any_real_position_is_a_422_on_every_paged_endpoint(api, position):
    scopes = paged_scopes(api)
    assert {path for path, _, _ in scopes} >= {"/v1/claims", "/v1/feed.json", "/v1/search"}
    for path, parameter, scope in scopes:
        if parameter == "since" and position in (2**31,):
            continue  # the change log's numbers are 64-bit: a seq past 2^31 is a real position
        params = {parameter: crafted(scope, position)}
        if path == "/v1/search":
            params["q"] = "microbiome"
        response = api.get(path, params=params)
        assert_problem(response, 422, context=f"{path} {position}")
        assert parameter in problem_names(response, "query")


# ---- write fields ------------------------------------------------------------------------------------


def string_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Where the strings of an example body are (`("evidence", "stated_as")`, `("synonyms", 0)`)."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in string_paths(item, (*path, index))]
    return []


def with_char(body: Any, path: tuple, char: str) -> Any:
    body = orjson.loads(orjson.dumps(body))
    holder = body
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = holder[path[-1]][:3] + char + holder[path[-1]][3:]
    return body


@settings(max_examples=20, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(char=st.sampled_from(NOT_XML))
def test_a_character_xml_cannot_hold_in_any_write_field_is_a_422_naming_it(api, editor, char):
    tried = 0
    for resource, example in CREATE.items():
        plural = {"therapy": "therapies"}.get(resource, resource + "s")
        for path in string_paths(example):
            body = with_char(example, path, char)
            field = ".".join(str(part) for part in path)
            response = api.post(f"/v1/{plural}", json=body, headers=editor)
            assert_problem(response, 422, context=f"{plural} {field}")
            assert problem_names(response, "body") == {field}, response.text
            tried += 1
    assert tried > 20
    feeds_still_serve(api)


def test_every_write_route_refuses_such_a_character_before_anything_is_stored(api, editor):
    before = api.get("/v1/changes").json()
    for method, path in write_routes(api.app):
        response = api.request(
            method, fill(path, "dysbiosis"), json={"name": "a\u0001b", "url": "\ufffe"}, headers=editor
        )
        assert_problem(response, 404, 422, context=f"{method} {path}")
        if response.status_code == 422:
            assert problem_names(response, "body") & {"name", "url"}, response.text
    assert api.get("/v1/changes").json() == before
    feeds_still_serve(api)


def test_the_attack_of_the_issue_cannot_break_the_atom_feed(api, editor):
    """A claim containing U+0001 and an expert job title with U+FFFE were accepted and broke the feed."""
    claim = {**CREATE["claim"], "text": "Fibre \u0001 helps.", "status": "published"}
    assert api.post("/v1/claims", json=claim, headers=editor).status_code == 422
    expert = {**CREATE["expert"], "job_title": "Chief \ufffe", "status": "published"}
    assert api.post("/v1/experts", json=expert, headers=editor).status_code == 422
    feeds_still_serve(api)
