"""Hostile input on every route: each is answered with the right 4xx as problem+json, never a 500, and
valid Unicode round-trips exactly. Routes are found by walking the app, so a new route is tried too."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import anyio
import orjson
import pytest

from app.api.middleware import BodySizeLimit
from app.auth.keys import Scope, create_key
from app.main import create_app
from app.ops.routing import iter_routes
from tests.conftest import client_for, make_settings

PROBLEM = "application/problem+json"
NO_LIMITS = {
    "rate_limit_anonymous": "1000000/minute",
    "rate_limit_editor": "1000000/minute",
    "rate_limit_partner": "1000000/minute",
}
WRITE_METHODS = {"POST", "PUT", "PATCH"}
READ_POSTS = {("POST", "/v1/infobutton")}  # the Infobutton request as a form: a read, with its own tests


def routes(app) -> list[tuple[str, set[str]]]:
    """(path, methods) of every endpoint of the app, static mounts aside."""
    merged: dict[str, set[str]] = {}
    for path, methods, _ in iter_routes(app.router.routes):
        merged.setdefault(path, set()).update(methods)
    return sorted(merged.items())


def fill(path: str, value: str = "nope") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def query_parameters(app, path: str, method: str = "get") -> list[dict]:
    operation = app.openapi()["paths"].get(path, {}).get(method, {})
    return [p for p in operation.get("parameters", []) if p["in"] == "query"]


@pytest.fixture
def editor_key(seeded_db) -> str:
    with seeded_db.write() as conn:
        return create_key(conn, scope=Scope.editor, name="hostile-tester")


@pytest.fixture
def api(seeded_db, editor_key):
    """An editor's client, so that routes behind the key (revisions) are tried too."""
    with client_for(seeded_db, **NO_LIMITS) as client:
        client.headers["X-API-Key"] = editor_key
        yield client


def assert_problem(response, *statuses: int, context: str = "") -> None:
    assert response.status_code in statuses, f"{context}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"] == PROBLEM, context
    body = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"], context


def drive(
    app,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    chunks: int = 1,
    chunk: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, dict[str, str], int]:
    """Call the ASGI app directly (the HTTP client refuses URLs over 64 KiB): (status, headers, body chunks
    the app pulled)."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < chunks}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers or [],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
        "app": app,
    }
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, pulled


def get_paths(app) -> Iterator[str]:
    for path, methods in routes(app):
        if "GET" in methods:
            yield path


def test_the_walk_finds_the_routes(api):
    paths = dict(routes(api.app))
    assert "GET" in paths["/v1/claims"] and "GET" in paths["/v1/claims/{id}"] and "GET" in paths["/healthz"]


def test_negative_and_20_digit_integers_are_422(api):
    tried = 0
    for path in get_paths(api.app):
        for param in query_parameters(api.app, path):
            if param["schema"].get("type") != "integer":
                continue
            for value in ("-1", "12345678901234567890", "-12345678901234567890", "1e3", ""):
                if value == "" and not param.get("required"):
                    continue
                tried += 1
                response = api.get(fill(path), params={param["name"]: value})
                assert_problem(response, 422, context=f"{path}?{param['name']}={value}")
    assert tried, "some route takes an integer (limit)"


def test_nul_bytes_lone_surrogates_and_bad_utf8_in_query_values_are_422(api):
    encodings = ["%00", "a%00b", "%ED%A0%80", "x%ED%B0%80y", "%FF", "%C0%80"]
    for path in get_paths(api.app):
        names = [p["name"] for p in query_parameters(api.app, path)] or ["q"]
        for turn, encoded in enumerate(encodings):  # each encoding in one parameter, taking turns
            name = names[turn % len(names)]
            response = api.get(f"{fill(path)}?{name}={encoded}")
            assert_problem(response, 422, context=f"{path}?{name}={encoded}")


def test_a_1mb_query_or_path_is_414_and_a_long_value_within_the_cap_is_not_a_500(api):
    for path in get_paths(api.app):
        status, headers, _ = drive(api.app, "GET", fill(path), query=b"q=" + b"a" * 1024 * 1024)
        assert status == 414 and headers["content-type"] == PROBLEM, path
        if "{" in path:
            status, headers, _ = drive(api.app, "GET", fill(path, "x" * 1024 * 1024))
            assert status == 414 and headers["content-type"] == PROBLEM, path
        names = [p["name"] for p in query_parameters(api.app, path)] or ["q"]
        for name in names:
            response = api.get(fill(path), params={name: "\u05e9" * 1500})
            assert response.status_code < 500, f"{path}?{name}=long: {response.status_code}"


def test_hostile_path_keys_are_4xx_problems(api):
    for path in get_paths(api.app):
        if "{" not in path:
            continue
        for key, statuses in (
            ("%00", (404,)),
            ("a%ED%A0%80", (404,)),
            ("x" * 201, (404, 422)),
            ("%F0%9F%A6%A0", (404,)),
            ("..%2F..%2Fetc%2Fpasswd", (404,)),
            ("x" * 9000, (414,)),
        ):
            assert_problem(api.get(fill(path, key)), *statuses, context=f"{path} with {key[:20]}")


@pytest.mark.parametrize(
    "path", ["/nowhere", "/v1/nothing", "/v1/claims/a/b/c", "/v2/claims", "/%00", "/v1/claims%2F..%2Fsecret"]
)
def test_unknown_paths_are_404_problems(api, path):
    assert_problem(api.get(path), 404, context=path)


def test_a_wrong_method_is_405_with_an_allow_header_naming_every_method(api):
    everything = {"GET", "POST", "PUT", "PATCH", "DELETE"}
    for path, methods in routes(api.app):
        for method in sorted(everything - methods):
            response = api.request(method, fill(path))
            assert_problem(response, 405, context=f"{method} {path}")
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert methods <= allowed and method not in allowed, f"{method} {path}: Allow {allowed}"


def test_head_answers_like_get_without_a_body(api):
    get, head = api.get("/v1/claims"), api.head("/v1/claims")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]


# ---- bodies -------------------------------------------------------------------------------------------


def write_routes(app) -> list[tuple[str, str]]:
    found = [
        (method, path)
        for path, methods in routes(app)
        for method in sorted(methods & WRITE_METHODS)
        if (method, path) not in READ_POSTS
    ]
    if not found:
        pytest.skip("the app has no write routes yet")
    return found


BAD_BODIES = [
    ("malformed", b'{"text": ', "application/json"),
    ("truncated", b'{"topic": "fecal-microbiota-transplantation", "text": "abc', "application/json"),
    ("not an object", b"[1, 2, 3]", "application/json"),
    ("wrong content type", b'{"text": "a"}', "text/plain"),
    ("form body", b"text=a&status=published", "application/x-www-form-urlencoded"),
    ("nested 10,000 deep (arrays)", b"[" * 10_000 + b"]" * 10_000, "application/json"),
    ("nested 10,000 deep (objects)", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json"),
    ("lone high surrogate", b'{"text": "a\\ud800b"}', "application/json"),
    ("lone low surrogate", b'{"text": "\\udc00"}', "application/json"),
    ("NUL character", b'{"text": "a\\u0000b"}', "application/json"),
    ("invalid UTF-8", b'{"text": "a\xff\xfe"}', "application/json"),
    ("empty", b"", "application/json"),
]


def test_bad_bodies_are_4xx_problems_on_every_write_route(api, editor_key):
    for (method, path), (name, body, content_type) in itertools.product(write_routes(api.app), BAD_BODIES):
        response = api.request(
            method,
            fill(path, "fecal-microbiota-transplantation"),
            content=body,
            headers={"X-API-Key": editor_key, "Content-Type": content_type},
        )
        assert_problem(response, 400, 404, 409, 412, 415, 422, context=f"{method} {path} {name}")


SERVER_OWNED = [
    ("id", "chosen-by-client"),
    ("created_at", "2020-01-01T00:00:00Z"),
    ("updated_at", "2020-01-01T00:00:00Z"),
    ("revision", 99),
    ("origin", "import"),
    ("pk", 1),
]


def test_server_owned_fields_in_a_body_are_refused(api, editor_key):
    for (method, path), (field, value) in itertools.product(write_routes(api.app), SERVER_OWNED):
        response = api.request(
            method,
            fill(path, "fecal-microbiota-transplantation"),
            json={field: value},
            headers={"X-API-Key": editor_key},
        )
        assert_problem(response, 404, 422, context=f"{method} {path} {field}")


def test_valid_unicode_round_trips_exactly(api, editor_key):
    if ("POST", "/v1/claims") not in write_routes(api.app):
        pytest.skip("no POST /v1/claims")
    text = (  # Hebrew, Arabic, emoji with a zero-width joiner, a combining accent, a right-to-left override
        "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \U0001f9a0\U0001f469\u200d\U0001f52c "
        "e\u0301 \u202eRTL\u202c"
    )
    body = {
        "topic": "fecal-microbiota-transplantation",
        "text": text,
        "source_excerpt": text,
        "evidence": {"kind": "background", "strength": "very-low"},
        "status": "published",
    }
    created = api.post("/v1/claims", json=body, headers={"X-API-Key": editor_key})
    assert created.status_code == 201, created.text
    fetched = api.get(created.headers["location"])
    assert fetched.json()["text"] == text and fetched.json()["source_excerpt"] == text
    assert orjson.loads(fetched.content)["text"].encode("utf-8") == text.encode("utf-8")


def test_a_20mb_body_is_413(api, editor_key):
    for method, path in write_routes(api.app):
        response = api.request(
            method,
            fill(path, "fecal-microbiota-transplantation"),
            content=b"{" + b" " * (20 * 1024 * 1024) + b"}",
            headers={"X-API-Key": editor_key, "Content-Type": "application/json"},
        )
        assert_problem(response, 413, context=f"{method} {path}")


def test_a_streamed_20mb_body_is_refused_before_it_is_read(seeded_db, editor_key):
    """No Content-Length (chunked): the limit trips as the body streams in, so the app pulls about 1 MiB of
    the 20 MB and answers 413; with a Content-Length over the limit it pulls nothing at all."""
    app = create_app(
        make_settings(seeded_db.engine.url.render_as_string(hide_password=False), **NO_LIMITS), db=seeded_db
    )
    headers = [(b"content-type", b"application/json"), (b"x-api-key", editor_key.encode())]
    chunk, chunks = b" " * 65536, 20 * 16  # 20 MiB in 64 KiB pieces
    targets = [(m, fill(p, "fecal-microbiota-transplantation")) for m, p in write_routes(app)]
    if not targets:  # still prove the middleware on its own

        async def reader(scope, receive, send):
            while (await receive()).get("more_body"):
                pass

        app, targets = BodySizeLimit(reader, max_bytes=1024 * 1024), [("POST", "/anything")]
    paths = app.openapi()["paths"] if hasattr(app, "openapi") else {}
    bodiless = {
        (m.upper(), fill(p, "fecal-microbiota-transplantation"))
        for p, item in paths.items()
        for m, op in item.items()
        if "requestBody" not in op
    }
    for method, path in targets:
        status, _, pulled = drive(app, method, path, chunks=chunks, chunk=chunk, headers=headers)
        if (method, path) in bodiless:  # a route that takes no body (a webhook's ping) must not read one at all
            assert pulled == 0, f"{method} {path}: read {pulled} chunks of a body it does not take"
            continue
        assert status == 413 and pulled <= 17, f"{method} {path}: {status} after {pulled} of {chunks} chunks"
        declared = headers + [(b"content-length", str(len(chunk) * chunks).encode())]
        status, _, pulled = drive(app, method, path, chunks=chunks, chunk=chunk, headers=declared)
        assert status == 413 and pulled == 0, f"{method} {path} (declared): {status} after {pulled} chunks"


# ---- limits -------------------------------------------------------------------------------------------

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_security_headers_are_on_every_response_errors_and_304s_too(api):
    etag = api.get("/v1/claims").headers["etag"]
    responses = {
        "200": api.get("/v1/claims"),
        "304": api.get("/v1/claims", headers={"If-None-Match": etag}),
        "401": api.get("/v1/claims", headers={"X-API-Key": "hck_nope_nope"}),
        "404": api.get("/nowhere"),
        "405": api.put("/v1/claims"),
        "413": api.post("/v1/claims", content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}),
        "422": api.get("/v1/claims", params={"limit": 0}),
        "HEAD": api.head("/v1/topics"),
        "metrics": api.get("/metrics"),
    }
    responses["414"] = type("R", (), {})()
    status, headers, _ = drive(api.app, "GET", "/v1/claims", query=b"q=" + b"a" * 10_000)
    responses["414"].status_code, responses["414"].headers = status, headers
    assert responses["304"].status_code == 304 and responses["413"].status_code == 413
    for name, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, f"{name}: {header}"
        assert response.headers.get("x-request-id"), name


def test_the_page_size_is_capped_at_100(api):
    for path in get_paths(api.app):
        names = {p["name"] for p in query_parameters(api.app, path)}
        if "limit" not in names:
            continue
        assert_problem(api.get(fill(path), params={"limit": 101}), 422, context=path)
        response = api.get(fill(path), params={"limit": 100})
        if response.headers["content-type"].startswith("application/json"):
            assert len(response.json()["items"]) <= 100, path


SLOW_QUERY = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000000) "
    "SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(30)",
}


def test_a_query_past_its_time_limit_is_interrupted_and_answered_503(seeded_db):
    """The SQLite progress handler and PostgreSQL's statement_timeout stop a runaway query; the client gets a
    503 problem with Retry-After instead of a hung request, and the next query on that connection works."""
    from app.core.db import Database

    url = seeded_db.engine.url.render_as_string(hide_password=False)
    limited = Database.from_settings(make_settings(url, query_timeout_ms=200))
    try:
        with client_for(limited, **NO_LIMITS) as client:

            def slow():
                with limited.read() as conn:
                    return {"n": conn.exec_driver_sql(SLOW_QUERY[limited.engine.dialect.name]).scalar()}

            client.app.add_api_route("/slow-probe", slow, methods=["GET"])
            response = client.get("/slow-probe")
            assert_problem(response, 503, context="slow query")
            assert response.json()["type"].endswith("/query-timeout")
            assert response.headers["retry-after"]
            assert client.get("/v1/claims", params={"limit": 5}).status_code == 200
    finally:
        limited.dispose()
