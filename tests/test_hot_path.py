"""The hot path (`api.hotpath.HotPath`: a keyless GET for a kept answer, answered in front of the middleware
by the layers' own code) is invisible: random requests (paths kept and not, `Accept`, `Accept-Encoding`,
`Origin`, `If-None-Match`, keys or none, request ids, odd heads, bodies and methods), asked of an app with
the hot path and of one without, after random writes, get the same status, headers (but a made-up request
id) and body, are counted alike in the metrics and logged alike, spend the budgets alike (429s included)
and leave nothing in flight. The checks made cheaper for it (the key requirement, the query check) decide
as before."""

from __future__ import annotations

import logging
import re
import time

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from limits import strategies as limit_strategies
from limits.storage import memory as limit_memory
from prometheus_client import REGISTRY

from app.api import contract, hotpath, ratelimit
from app.api.principal import Scope
from app.core.db import is_sqlite
from app.ops import requests
from app.ops.requests import access_log
from app.ops.routing import iter_routes
from tests.conftest import _database, client_for
from tests.test_keys_and_limits import HeldClock, new_key
from tests.test_read_model import _one_write

ALLOWED_ORIGIN = "https://reader.example"
MAX_BODY = 512
# Small budgets (the anonymous one drawn), so that some requests are refused, on the hot path too.
COMMON = {
    "rate_limit_partner": "30/minute",
    "max_body_bytes": MAX_BODY,
    "log_level": "info",
}
PATHS = [
    "/v1/claims",
    "/v1/claims?condition={condition}",
    "/v1/claims?condition={condition}&limit=2",
    "/v1/claims/{claim}",
    "/v1/claims/{claim}/revisions",  # an editor's: a keyless request is a 401
    "/v1/topics",
    "/v1/topics/{topic}",
    "/v1/conditions?limit=3",
    "/v1/therapy-types",
    "/v1/feed.json",
    "/v1/search?q=gut",
    "/v1/changes",
    "/healthz",
    "/readyz",
    "/v1/nothing-here",
    "/v1/claims?limit=abc",
    "/v1/claims?condition=%00",
    "/v1/claims?condition=%ff",
    "/v1/claims?" + "x" * 9000,
]


COUNTED = ("http_requests_total", "http_request_duration_seconds_count", "http_requests_in_flight")
# Changes to a request asked before: its answer may be kept, but a layer in front of it has its say first.
VARIANTS = {
    "two hosts": ([("host", "testserver"), ("host", "other")], None),
    "a body too large": ([], b"x" * (MAX_BODY + 1)),
    "an unknown key": ([("x-api-key", "hc_nope_0000")], None),
    "if-modified-since": ([("if-modified-since", "Tue, 01 Dec 2026 00:00:00 GMT")], None),
    "an origin": ([("origin", ALLOWED_ORIGIN)], None),
}


@pytest.fixture
def held_clock(monkeypatch) -> HeldClock:
    """Both apps count a request at the same instant, so where a caller stands (requests left, seconds until
    one frees) is the same number in both answers."""
    clock = HeldClock(float(int(time.time()) // 3600 * 3600 + 1234.5))  # mid-window, for any window
    for module in (limit_memory, limit_strategies, ratelimit):
        monkeypatch.setattr(module, "time", clock)
    return clock


@pytest.fixture
def access_records():
    """The access log's records, as the handler that writes them sees them."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    access_log.addHandler(handler)
    try:
        yield records
    finally:
        access_log.removeHandler(handler)


@pytest.fixture
def hot_answers(monkeypatch) -> list[str]:
    """The requests the hot path answered (so that the test is known to compare it, not the layers twice)."""
    answered: list[str] = []
    kept_answer = hotpath.kept_answer

    def counted(cache, db, scope):
        found = kept_answer(cache, db, scope)
        if found is not None:
            answered.append(scope["path"])
        return found

    monkeypatch.setattr(hotpath, "kept_answer", counted)
    return answered


def _request(draw, values: dict[str, list[str]], etags: list[str], keys: dict[str, str]) -> dict:
    path = draw(st.sampled_from(PATHS), label="path")
    path = path.format(**{name: draw(st.sampled_from(found), label=name) for name, found in values.items()})
    headers: list[tuple[str, str | bytes]] = []

    def maybe(name: str, options: list[str | bytes | None]) -> None:
        value = draw(st.sampled_from(options), label=name)
        if value is not None:
            headers.append((name, value))

    maybe("accept", [None, None, "application/json", "application/ld+json", "text/html", "*/*;q=0.1"])
    maybe("accept-encoding", [None, "gzip", "br", "zstd", "identity", "gzip;q=0", "*", "gzip, deflate, br"])
    maybe("origin", [None, None, ALLOWED_ORIGIN, "https://elsewhere.example", "null"])
    maybe("if-none-match", [None, None, "*", 'W/"nope"', *etags[-3:]])
    maybe("if-modified-since", [None, None, None, "Tue, 01 Dec 2026 00:00:00 GMT"])
    maybe("x-api-key", [None, None, None, keys["partner"], keys["editor"], "hc_nope_0000", ""])
    maybe("x-request-id", [None, None, "lb-42.abc:7", "a b"])
    maybe("cookie", [None, None, "session=1"])
    maybe("x-odd", [None, None, "\t odd value \t", "é".encode()])
    maybe("host", [None, None, None, "Testserver", "bad host", "[::1]:80"])
    method = draw(st.sampled_from(["GET"] * 8 + ["HEAD", "OPTIONS"]), label="method")
    if method == "OPTIONS" and draw(st.booleans(), label="preflight"):
        headers += [("origin", ALLOWED_ORIGIN), ("access-control-request-method", "GET")]
    body = draw(st.sampled_from([b"", b"", b"", b'{"a": 1}', b"x" * (MAX_BODY + 1)]), label="body")
    if body.startswith(b"{"):
        headers.append(("content-type", "application/json"))
    if draw(st.integers(0, 9), label="two hosts") == 0:
        headers += [("host", "testserver"), ("host", "other")]
    return {"method": method, "url": path, "headers": headers, "content": body or None}


def _counts() -> dict[tuple, float]:
    """The request metrics that count (requests by method, route and status; timings by method and route;
    requests in flight), by series."""
    found = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name in COUNTED:
                found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


def _added(before: dict[tuple, float], after: dict[tuple, float]) -> dict[tuple, float]:
    return {
        k: after.get(k, 0.0) - before.get(k, 0.0) for k in before.keys() | after.keys() if after.get(k) != before.get(k)
    }


def _ask(client, request: dict, records: list[logging.LogRecord]):
    """The answer, and the access-log line it made (without what differs between any two requests)."""
    before = len(records)
    response = client.request(**request)
    lines = [dict(record.fields) for record in records[before:]]  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    line = lines[0]
    line.pop("duration_ms")
    sent_id = dict(request["headers"]).get("x-request-id")
    if line["request_id"] != sent_id:
        line.pop("request_id")  # made up here, different each time
    return response, line


def _same(got, want, request: dict) -> None:
    where = (request["method"], request["url"][:120], request["headers"])
    assert got.status_code == want.status_code, where
    assert got.content == want.content, where
    sent_id = dict(request["headers"]).get("x-request-id")
    strip = lambda r: [  # noqa: E731
        (k, v) for k, v in r.headers.multi_items() if k != "date" and (k != "x-request-id" or v == sent_id)
    ]
    assert strip(got) == strip(want), where
    assert ("x-request-id" in got.headers) and ("x-request-id" in want.headers), where


@pytest.mark.parametrize("origins", ["*", ALLOWED_ORIGIN], ids=["any-origin", "one-origin"])
@settings(
    max_examples=10,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # a failing case is reported as drawn: shrinking it takes minutes
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_hot_path_answers_as_the_layers_do(templates, held_clock, access_records, hot_answers, origins, data):
    for _, db in _database(templates, "seeded", seeded=True):
        keys = {"partner": new_key(db, Scope.partner), "editor": new_key(db, Scope.editor)}
        with db.read() as conn:
            values = {
                "condition": [r[0] for r in conn.exec_driver_sql("SELECT key FROM conditions ORDER BY pk LIMIT 8")],
                "claim": [r[0] for r in conn.exec_driver_sql("SELECT key FROM claims ORDER BY pk LIMIT 8")],
                "topic": [r[0] for r in conn.exec_driver_sql("SELECT key FROM topics ORDER BY pk LIMIT 4")],
            }
        budget = data.draw(st.sampled_from(["8/minute", "1000/minute"]), label="anonymous budget")
        common = {**COMMON, "cors_allow_origins": origins, "rate_limit_anonymous": budget}
        with client_for(db, hot_path=True, **common) as hot, client_for(db, hot_path=False, **common) as layered:
            etags: list[str] = []
            before = len(hot_answers)
            plain = [f"/v1/claims?condition={values['condition'][0]}", "/v1/topics"]
            requests = [{"method": "GET", "url": url, "headers": [], "content": None} for url in plain]
            asked: list[dict] = []
            for _ in range(data.draw(st.integers(1, 3), label="rounds")):
                for _ in range(data.draw(st.integers(2, 10), label="requests")):
                    if requests:
                        request = requests.pop(0)
                    elif asked and data.draw(st.booleans(), label="again"):  # kept, unless written since
                        request = data.draw(st.sampled_from(asked), label="request")
                        change = data.draw(st.sampled_from([None, None, *VARIANTS]), label="but")
                        if change is not None:  # what a layer in front of the kept answer refuses or diverts
                            extra, content = VARIANTS[change]
                            request = {**request, "headers": [*request["headers"], *extra]}
                            request["content"] = content or request["content"]
                    else:
                        request = _request(data.draw, values, etags, keys)
                    asked.append(request)
                    times = 2 if request["url"] in plain else data.draw(st.integers(1, 3), label="times")
                    for _ in range(times):  # the second time, it may be kept
                        counts = _counts()
                        want, want_line = _ask(layered, request, access_records)
                        counted = _counts()
                        got, got_line = _ask(hot, request, access_records)
                        _same(got, want, request)
                        assert got_line == want_line, request
                        assert _added(counted, _counts()) == _added(counts, counted), request
                        for client in (hot, layered):
                            in_flight = client.app.state.in_flight
                            assert in_flight.count == 0 and not in_flight.by_client, "nothing is left in flight"
                        if "etag" in got.headers:
                            etags.append(got.headers["etag"])
                _one_write(db, data)
                held_clock.now += data.draw(st.sampled_from([0.0, 1.0, 20.0]), label="seconds pass")
            if is_sqlite(db.engine):
                assert len(hot_answers) > before, "the hot path answered some of the requests"
            else:  # the content version is not peeked there: every kept answer is the router's
                assert len(hot_answers) == before


def _refused_by_key_requirement(monkeypatch) -> None:
    need = contract.key_requirement
    monkeypatch.setattr(
        contract, "key_requirement", lambda scope: "A key." if scope["path"] == "/v1/topics" else need(scope)
    )


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("a bad host, links from the base URL", 400),
        ("a key required", 401),
        ("a full worker", 503),
        ("a full share", 429),
    ],
)
def test_a_layer_refuses_what_it_refuses_in_front_of_a_kept_answer(seeded_db, held_clock, monkeypatch, case, status):
    """Refusals the random requests cannot reach with this app's routes and one request at a time: a kept
    answer whose URL does not name the host (a base URL is set), an operation that needs a key but made a
    public answer for a keyed caller, the in-flight limits."""
    settings = {"public_base_url": "https://api.example"} if case.startswith("a bad host") else {}
    headers = {"host": "bad host"} if case.startswith("a bad host") else {}
    if case == "a key required":
        _refused_by_key_requirement(monkeypatch)
        headers_to_keep = {"x-api-key": new_key(seeded_db, Scope.partner)}  # its public answer is kept
    else:
        headers_to_keep = {}
    with (
        client_for(seeded_db, hot_path=True, **settings) as hot,
        client_for(seeded_db, hot_path=False, **settings) as layered,
    ):
        answers = []
        for client in (hot, layered):
            for _ in range(2):
                assert client.get("/v1/topics", headers=headers_to_keep).status_code == 200
            in_flight = client.app.state.in_flight
            if case == "a full worker":
                in_flight.count = in_flight.limit
            elif case == "a full share":
                in_flight.by_client["testclient"] = in_flight.per_client
            answers.append(client.get("/v1/topics", headers=headers))
        request = {"method": "GET", "url": "/v1/topics", "headers": list(headers.items())}
        _same(*answers, request)
        assert answers[0].status_code == status


def _hot_path_of(app) -> hotpath.HotPath:
    layer = app.middleware_stack
    while not isinstance(layer, hotpath.HotPath):
        layer = layer.app
    return layer


@pytest.mark.parametrize("origins", ["*", ALLOWED_ORIGIN], ids=["any-origin", "one-origin"])
def test_origins_a_client_makes_up_keep_nothing_new(seeded_db, origins):
    """The layers' marks are kept by what of `Origin` they depend on: a client sending a new origin with
    every request (an allowed one is echoed only from a list) adds no kept entry after the first."""
    if not is_sqlite(seeded_db.engine):
        pytest.skip("on PostgreSQL kept answers are served by the route, never by the hot path")
    with client_for(seeded_db, hot_path=True, cors_allow_origins=origins) as client:
        for _ in range(2):
            assert client.get("/v1/topics").status_code == 200
        marked = _hot_path_of(client.app)._marked
        for n in range(40):
            response = client.get("/v1/topics", headers={"origin": f"https://made-up-{n}.example"})
            assert response.status_code == 200
            assert "access-control-allow-origin" not in response.headers or origins == "*"
        assert len(marked) <= 2  # the answer without an origin, and with one
        if origins == ALLOWED_ORIGIN:
            echoed = client.get("/v1/topics", headers={"origin": ALLOWED_ORIGIN})
            assert echoed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
            assert len(marked) == 3


SEGMENTS = st.sampled_from(["x", "a.b", "", "x/y", "%2F", "\n", "revisions", "feed.json", "1"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_key_requirement_names_the_first_operation_taking_the_request(empty_client, data):
    """One pattern per method (each operation's path an alternative, in routing order) decides as a scan of
    the operations in routing order does."""
    app = empty_client.app
    operations = [
        (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), methods, contract._key_need(route), path)
        for path, methods, route in iter_routes(app.router.routes)
        if isinstance(route, APIRoute)
    ]
    template = data.draw(st.sampled_from([path for *_, path in operations]), label="template")
    path = re.sub(r"\{[^}]+\}", lambda _: data.draw(SEGMENTS, label="segment"), template)
    path += data.draw(st.sampled_from(["", "", "/", "\n", "/revisions", ".json"]), label="suffix")
    method = data.draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"]))
    asked = "GET" if method == "HEAD" else method
    scanned = next(
        (detail for pattern, methods, detail, _ in operations if asked in methods and pattern.match(path)), None
    )
    assert contract.key_requirement({"method": method, "path": path, "app": app}) == scanned


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.one_of(st.binary(max_size=40), st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_a_plain_query_is_passed_as_parsing_it_would(monkeypatch, query):
    """A query of printable ASCII without escapes is let through unparsed: parsed, it would be too."""
    scope = {"type": "http", "path": "/v1/claims", "raw_path": b"/v1/claims", "query_string": query, "headers": []}
    quick = requests._query_problem(scope)
    monkeypatch.setattr(requests, "PLAIN_QUERY", re.compile(rb"(?!)"))  # never plain: always parsed
    parsed = requests._query_problem(scope)
    assert (quick is None) == (parsed is None)
    if quick is not None and parsed is not None:
        assert (quick.status_code, quick.body) == (parsed.status_code, parsed.body)
