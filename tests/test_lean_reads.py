"""The lean read of `/v1/claims` (`content.lean`, answered in front of the router) gives the router's answer
byte for byte: random requests (valid, invalid, odd parameters, cursors, `Accept` and `Accept-Encoding`
variants, conditional headers, callers with keys), asked of an app with lean reads and of one without,
get the same status, headers and body, with the response cache off and on (then the kept entry the lean
read made serves the next requests), after random writes (unpublished records stay invisible)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.api.principal import Scope
from app.content import lean, selection
from app.content.vocab import TherapyType
from app.core.pagination import encode_cursor
from tests.conftest import _database, client_for
from tests.test_keys_and_limits import new_key
from tests.test_observability import _sample, ops_headers
from tests.test_read_model import _one_write

NO_LIMITS = {"rate_limit_anonymous": "1000000/minute", "rate_limit_partner": "1000000/minute"}
# A fresh id per request; the budget's seconds and requests left, which a sliding window moves between two
# requests a moment apart (both are checked to be there; the limit itself applies: see the test below).
NOT_COMPARED = {"x-request-id", "ratelimit-reset", "ratelimit-remaining"}


def _conditions(db) -> list[str]:
    with db.read() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT key FROM conditions ORDER BY pk").all()]


def _claim_keys(db) -> list[str]:
    """Claims of every status (drafts and retracted ones must stay invisible) and a few odd keys."""
    with db.read() as conn:
        keys = [row[0] for row in conn.exec_driver_sql("SELECT key FROM claims ORDER BY pk").all()]
    return [*keys, "nope", "a b", "x" * 201, "%2e%2e", "UPPER"]


def _cursor_values(client) -> list[str]:
    """Cursors the list handed out, walking two filtered lists with small pages."""
    found = []
    for params in (
        {"condition": "autoimmune-disorders", "limit": 2},
        {"therapy_type": "probiotic", "limit": 1},
        {"condition": "autoimmune-disorders", "therapy_type": ["probiotic", "diet"], "limit": 1},
    ):
        for _ in range(3):
            page = client.get("/v1/claims", params=params).json()
            if not page.get("next_cursor"):
                break
            found.append(page["next_cursor"])
            params = {**params, "cursor": page["next_cursor"]}
    return found


def _parameter(conditions: list[str], cursors: list[str]):
    condition = st.sampled_from([*conditions, "gout", "icd10cm:M06.9", "Rheumatoid-Arthritis", "", "a--b"])
    therapy_type = st.sampled_from([*(t.value for t in TherapyType), "Probiotic", "bogus", ""])
    limit = st.sampled_from(["1", "2", "3", "20", "100", "101", "0", "-1", "05", "+3", " 7", "abc", ""])
    cursor = st.sampled_from(
        [
            *cursors,
            encode_cursor("topics", 3, "e"),
            encode_cursor("claims", 2**40, "e"),
            encode_cursor("claims", 2, "another-one"),  # of another epoch of the store: a 410
            base64.urlsafe_b64encode(b'{"s":"claims","p":2}').rstrip(b"=").decode(),  # made before epochs
            "not-a-cursor",
            "",
            "x" * 201,
        ]
    )
    return st.one_of(
        st.tuples(st.just("condition"), condition),
        st.tuples(st.just("therapy_type"), therapy_type),
        st.tuples(st.just("limit"), limit),
        st.tuples(st.just("cursor"), cursor),
        st.tuples(
            st.sampled_from(["conditon", "lang", "status", "therapy", "max_grade"]), st.sampled_from(["en", "x"])
        ),
    )


def _filtered(conditions: list[str], cursors: list[str]):
    """A list asked for by condition and therapy type together (either or both with repeated values), with
    or without `limit` and `cursor`, its parameters in any order."""
    condition = st.sampled_from([*conditions, "gout", "icd10cm:M06.9", ""])
    therapy_type = st.sampled_from([*(t.value for t in TherapyType), "bogus"])
    cursor = st.sampled_from([*cursors, encode_cursor("claims", 2, "another-one"), "not-a-cursor"])
    return st.tuples(
        st.lists(condition, min_size=1, max_size=3),
        st.lists(therapy_type, min_size=1, max_size=3),
        st.lists(st.sampled_from(["1", "2", "5", "100"]), max_size=1),
        st.lists(cursor, max_size=1),
    ).flatmap(
        lambda given: st.permutations(
            [
                *(("condition", v) for v in given[0]),
                *(("therapy_type", v) for v in given[1]),
                *(("limit", v) for v in given[2]),
                *(("cursor", v) for v in given[3]),
            ]
        )
    )


def _headers(draw, etags: list[str], keys: dict[str, str]) -> dict[str, str]:
    headers = {}
    accept = draw(st.sampled_from([None, "application/json", "application/ld+json", "text/html", "*/*;q=0.1"]))
    if accept is not None:
        headers["accept"] = accept
    encoding = draw(st.sampled_from([None, "gzip", "br", "zstd", "identity", "gzip;q=0"]))
    if encoding is not None:
        headers["accept-encoding"] = encoding
    match = draw(st.sampled_from([None, "*", 'W/"nope"', *etags[-3:]]))
    if match is not None:
        headers["if-none-match"] = match
    if draw(st.integers(0, 9)) == 0:
        headers["if-modified-since"] = "Tue, 01 Dec 2026 00:00:00 GMT"
    caller = draw(st.sampled_from([None, None, None, "partner", "editor"]))
    if caller is not None:
        headers["x-api-key"] = keys[caller]
    return headers


def _same(got, want, url, headers) -> None:
    where = (url, headers)
    assert got.status_code == want.status_code, where
    assert got.content == want.content, where
    strip = lambda r: sorted((k, v) for k, v in r.headers.multi_items() if k not in NOT_COMPARED)  # noqa: E731
    assert strip(got) == strip(want), where
    for name in ("ratelimit-reset", "ratelimit-remaining"):
        assert (name in got.headers) == (name in want.headers), where


@pytest.fixture
def lean_answers(monkeypatch) -> list[str]:
    """The URLs the lean read answered (so that the test is known to compare it, not the router twice)."""
    answered: list[str] = []
    respond = lean.ClaimsByFacet.respond

    def counted(self, scope, ask, found, keep):
        answered.append(scope["query_string"].decode())
        return respond(self, scope, ask, found, keep)

    monkeypatch.setattr(lean.ClaimsByFacet, "respond", counted)
    read_detail = lean.read_detail

    def counted_detail(execute, key):
        body = read_detail(execute, key)
        if body is not None:
            answered.append(f"detail {key}")
        return body

    monkeypatch.setattr(lean, "read_detail", counted_detail)
    return answered


@pytest.mark.parametrize("entries", [0, 4096], ids=["cache-off", "cache-on"])
@settings(
    max_examples=12,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # a failing case is reported as drawn: shrinking it takes minutes
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_lean_answer_is_the_routers_answer(templates, lean_answers, entries, data):
    for _, db in _database(templates, "seeded", seeded=True):
        keys = {"partner": new_key(db, Scope.partner), "editor": new_key(db, Scope.editor)}
        common = {**NO_LIMITS, "response_cache_entries": entries}
        with client_for(db, lean_reads=True, **common) as fast, client_for(db, lean_reads=False, **common) as slow:
            conditions, cursors = _conditions(db), _cursor_values(slow)
            assert _cursor_values(fast) == cursors  # and both callers' budgets have spent alike
            etags: list[str] = []
            before = len(lean_answers)
            claims = _claim_keys(db)
            plain = (
                {"therapy_type": "probiotic"},
                {"condition": conditions[0], "limit": 3},
                {"condition": "autoimmune-disorders", "therapy_type": "probiotic"},
            )
            for params in plain:
                _same(fast.get("/v1/claims", params=params), slow.get("/v1/claims", params=params), params, {})
            assert "condition=autoimmune-disorders&therapy_type=probiotic" in lean_answers[before:], "two filters"
            first = [client.get("/v1/claims").json()["items"][0]["id"] for client in (slow, fast)]  # budgets alike
            detail = f"/v1/claims/{first[0]}"
            _same(fast.get(detail), slow.get(detail), detail, {})
            assert any(answer.startswith("detail ") for answer in lean_answers[before:]), "a lean detail"
            assert len(lean_answers) > before, "the lean read answered the plain requests"
            for _ in range(data.draw(st.integers(1, 3), label="rounds")):
                for _ in range(data.draw(st.integers(1, 8), label="requests")):
                    kind = data.draw(st.sampled_from(["detail", "filtered", "any"]), label="kind")
                    if kind == "detail":
                        path = f"/v1/claims/{data.draw(st.sampled_from(claims), label='key')}"
                        params = data.draw(st.lists(_parameter(conditions, cursors), max_size=1), label="params")
                    elif kind == "filtered":
                        path = "/v1/claims"
                        params = data.draw(_filtered(conditions, cursors), label="params")
                    else:
                        path = "/v1/claims"
                        params = data.draw(st.lists(_parameter(conditions, cursors), max_size=4), label="params")
                    headers = _headers(data.draw, etags, keys)
                    for _ in range(data.draw(st.integers(1, 2), label="times")):  # again: kept, with cache on
                        want = slow.get(path, params=params, headers=headers)
                        got = fast.get(path, params=params, headers=headers)
                        _same(got, want, str(got.request.url), headers)
                        if "etag" in got.headers:
                            etags.append(got.headers["etag"])
                _one_write(db, data)


def test_the_lean_read_answers_the_common_pages_and_no_other(client):
    """The pages it takes are answered in front of the router; what it does not take is left to it."""
    assert lean.understood(_scope("condition=rheumatoid-arthritis")) is not None
    assert lean.understood(_scope("therapy_type=probiotic&limit=5")) is not None
    for query in (
        "condition=a&therapy_type=diet",
        "therapy_type=diet&condition=a&condition=b&cursor=" + encode_cursor("claims", 7, "e"),
        "therapy_type=diet&therapy_type=probiotic&therapy_type=diet&limit=3",
        "&".join(["condition=a"] * 20),
    ):
        assert lean.understood(_scope(query)) is not None, query
    for query in (
        "condition=icd10cm:M06.9",
        "condition=a&therapy_type=bogus",
        "condition=a&condition=icd10cm:M06.9",
        "&".join(["condition=a"] * 21),
        "condition=a&limit=2&limit=3",
        "condition=a&cursor=x&cursor=y",
        "condition=a&lang=en",
        "limit=20",
        "condition=a&limit=101",
        "condition=a&cursor=junk",
    ):
        assert lean.understood(_scope(query)) is None, query
    assert lean.understood(_scope("condition=a", [(b"if-modified-since", b"x")])) is None


def _scope(query: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {"type": "http", "query_string": query.encode(), "headers": headers or [], "state": {}}


def test_the_rate_limit_and_metrics_apply_to_lean_answers(seeded_db, lean_answers):
    with client_for(seeded_db, rate_limit_anonymous="2/minute", response_cache_entries=0) as api:
        statuses = [api.get("/v1/claims", params={"therapy_type": "probiotic"}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert len(lean_answers) == 2
    with client_for(seeded_db, **NO_LIMITS) as api:
        ops = ops_headers(api)
        count = lambda text: _sample(text, "http_requests_total", route="/v1/claims", status="200")  # noqa: E731
        before = count(api.get("/metrics", headers=ops).text)
        assert api.get("/v1/claims", params={"condition": "autoimmune-disorders"}).status_code == 200
        assert count(api.get("/metrics", headers=ops).text) == before + 1
        assert len(lean_answers) == 3


def test_a_page_the_probe_does_not_settle_is_read_off_the_loop_and_is_the_routers(seeded_db, monkeypatch, lean_answers):
    """With a probe of one record, two-filter pages need the counted plan: on SQLite the event loop gives
    them to the threadpool (`OffTheLoop`), and each page, followed by its cursor, is the router's answer."""
    monkeypatch.setattr(selection, "PROBE_ROWS", 1)
    unsettled: list[int] = []
    plan = lean.lean_page_pks

    def counted(*args, **kwargs):
        found = plan(*args, **kwargs)
        if found is None:
            unsettled.append(1)
        return found

    monkeypatch.setattr(lean, "lean_page_pks", counted)
    common = {**NO_LIMITS, "response_cache_entries": 0}
    with (
        client_for(seeded_db, lean_reads=True, **common) as fast,
        client_for(seeded_db, lean_reads=False, **common) as slow,
    ):
        for therapy_type in ("probiotic", "diet", "prebiotic"):
            params: dict[str, str | int] = {
                "condition": "autoimmune-disorders",
                "therapy_type": therapy_type,
                "limit": 1,
            }
            for _ in range(4):
                got, want = fast.get("/v1/claims", params=params), slow.get("/v1/claims", params=params)
                _same(got, want, params, {})
                cursor = got.json().get("next_cursor")
                if not cursor:
                    break
                params = {**params, "cursor": cursor}
    assert lean_answers, "the lean read answered"
    if seeded_db.is_sqlite:
        assert unsettled, "some page was left to the threadpool"
