"""API keys (made, listed and revoked with the CLI; unknown or revoked is a 401 everywhere) and rate limits
(per key and per address, headers on every response, 429 past the limit, shared through Redis)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits import parse
from limits import strategies as limit_strategies
from limits.storage import MemoryStorage
from limits.storage import memory as limit_memory
from limits.strategies import SlidingWindowCounterRateLimiter
from typer.testing import CliRunner

from app.api.ratelimit import SWEEP_SECONDS, MemoryCounters, RateLimit
from app.auth.keys import Scope, create_key
from app.cli import cli
from app.core.config import get_settings
from app.main import create_app
from tests.conftest import client_for, make_settings

REDIS_URL = "redis://127.0.0.1:6379"


def run_cli(db, monkeypatch, *args: str):
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        get_settings.cache_clear()


def new_key(db, scope: Scope = Scope.partner) -> str:
    with db.write() as conn:
        return create_key(conn, scope=scope, name=f"test {uuid.uuid4().hex[:6]}")


def limiter_of(client: TestClient) -> RateLimit:
    """The rate-limit middleware of a client's app (its stack is built on the first request)."""
    client.get("/healthz")
    layer = client.app.middleware_stack
    while not isinstance(layer, RateLimit):
        layer = layer.app
    return layer


def assert_problem(response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


# ---- keys ---------------------------------------------------------------------------------------------


def test_keys_made_listed_and_revoked_with_the_cli(client, seeded_db, monkeypatch):
    made = run_cli(seeded_db, monkeypatch, "keys", "create", "--scope", "partner", "--name", "Acme Health")
    assert made.exit_code == 0, made.output
    key = made.output.split()[-1]
    assert len(key) >= 32
    listed = run_cli(seeded_db, monkeypatch, "keys", "list")
    assert listed.exit_code == 0 and "Acme Health" in listed.output and "partner" in listed.output
    assert key.split("_", 2)[2] not in listed.output  # the secret (it may itself hold "_") is never shown again
    accepted = client.get("/v1/topics", headers={"X-API-Key": key})
    assert accepted.status_code == 200
    assert accepted.headers["ratelimit-limit"] == "1200"  # the partner budget, not the anonymous one
    prefix = key.split("_")[1]
    assert run_cli(seeded_db, monkeypatch, "keys", "revoke", prefix).exit_code == 0
    refused = client.get("/v1/topics", headers={"X-API-Key": key})
    assert_problem(refused, 401)
    assert "WWW-Authenticate" in refused.headers
    assert run_cli(seeded_db, monkeypatch, "keys", "revoke", prefix).exit_code == 1
    assert run_cli(seeded_db, monkeypatch, "keys", "create", "--scope", "admin", "--name", "x").exit_code == 2


@pytest.mark.parametrize("path", ["/v1/topics", "/v1/feed.json", "/v1/changes", "/v1/export", "/healthz"])
@pytest.mark.parametrize("presented", ["nonsense", "hck_deadbeef_not-the-secret", ""])
def test_an_unknown_or_malformed_key_is_401_on_any_path(client, path, presented):
    assert_problem(client.get(path, headers={"X-API-Key": presented}), 401)


def test_an_editor_key_gets_the_editor_budget(seeded_db):
    with client_for(seeded_db, rate_limit_editor="7/minute") as api:
        response = api.get("/v1/topics", headers={"X-API-Key": new_key(seeded_db, Scope.editor)})
    assert response.headers["ratelimit-limit"] == "7" and response.headers["ratelimit-remaining"] == "6"


# ---- limits -------------------------------------------------------------------------------------------


def test_a_key_past_its_limit_gets_429_then_recovers(seeded_db):
    key = new_key(seeded_db)
    with client_for(seeded_db, rate_limit_partner="3/minute") as api:
        limiter = limiter_of(api)
        remaining = []
        for _ in range(3):
            response = api.get("/v1/topics", headers={"X-API-Key": key})
            assert response.status_code == 200 and response.headers["ratelimit-limit"] == "3"
            remaining.append(response.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]
        refused = api.get("/v1/topics", headers={"X-API-Key": key})
        assert_problem(refused, 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0" and int(refused.headers["ratelimit-reset"]) <= 60
        assert api.get("/v1/topics").status_code == 200  # anonymous callers have a budget of their own
        limiter.budgets.storage.reset()
        assert api.get("/v1/topics", headers={"X-API-Key": key}).status_code == 200


def test_the_budget_comes_back_as_the_window_moves(seeded_db):
    key = new_key(seeded_db)
    with client_for(seeded_db, rate_limit_partner="2/second") as api:
        statuses = [api.get("/v1/changes", headers={"X-API-Key": key}).status_code for _ in range(4)]
        assert statuses[:2] == [200, 200] and 429 in statuses
        time.sleep(2.1)  # two window lengths on, the sliding window has forgotten them
        assert api.get("/v1/changes", headers={"X-API-Key": key}).status_code == 200


def test_anonymous_callers_are_limited_per_address_and_health_checks_are_exempt(seeded_db):
    with client_for(seeded_db, rate_limit_anonymous="2/minute") as api:
        assert [api.get("/v1/conditions").status_code for _ in range(3)] == [200, 200, 429]
        for path in ("/healthz", "/readyz"):
            health = api.get(path)
            assert health.status_code == 200 and "ratelimit-limit" not in health.headers
        other = TestClient(api.app, client=("203.0.113.9", 50000))
        assert other.get("/v1/conditions").status_code == 200


def test_every_response_says_where_the_caller_stands(client, seeded_db):
    """All four headers on what only this caller gets (errors, keyed answers); on a public answer, which
    shared caches replay to other callers, only the budget's size, never this caller's count."""
    etag = client.get("/v1/topics").headers["etag"]
    for response in (
        client.get("/v1/topics/nope"),
        client.get("/v1/claims", params={"limit": 0}),
        client.get("/nowhere"),
    ):
        for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert response.headers[name].isdigit(), (response.status_code, name)
    key = {"X-API-Key": new_key(seeded_db)}
    for path in ("/v1/topics", "/v1/feed.atom", "/v1/export", "/v1/changes"):
        public = client.get(path)
        revalidated = client.get(path, headers={"If-None-Match": public.headers["etag"]})
        keyed = client.get(path, headers=key)
        assert revalidated.status_code == 304
        for response in (public, revalidated):
            assert response.headers["cache-control"].startswith("public")
            assert response.headers["ratelimit-limit"].isdigit() and response.headers["ratelimit-policy"]
            assert "ratelimit-remaining" not in response.headers and "ratelimit-reset" not in response.headers
        assert keyed.headers["cache-control"].startswith("private"), path
        for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert keyed.headers[name].isdigit(), (path, name)
    assert (
        client.get("/v1/topics", headers={"If-None-Match": etag, **key}).headers["cache-control"].startswith("private")
    )


def _redis_reachable() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="needs the Redis server on 127.0.0.1:6379")
def test_two_app_instances_share_one_budget_through_redis(seeded_db):
    key = new_key(seeded_db)  # a new key: a fresh prefix, so its counters are this test's alone
    url = seeded_db.engine.url.render_as_string(hide_password=False)
    settings = make_settings(url).model_copy(
        update={"rate_limit_storage_url": REDIS_URL, "rate_limit_partner": "4/minute"}
    )
    with (
        TestClient(create_app(settings, db=seeded_db)) as one,
        TestClient(create_app(settings, db=seeded_db)) as two,
    ):
        try:
            seen = [
                (c.get("/v1/topics", headers={"X-API-Key": key}).headers["ratelimit-remaining"])
                for c in (one, two, one, two)
            ]
            assert seen == ["3", "2", "1", "0"]
            assert_problem(two.get("/v1/topics", headers={"X-API-Key": key}), 429)
            assert_problem(one.get("/v1/topics", headers={"X-API-Key": key}), 429)
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            for name in client.scan_iter(f"*{key.split('_')[1]}*"):
                client.delete(name)


class HeldClock:
    """The rate limiter's wall clock, held still where a test puts it (`time.time`; the rest is `time`'s)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str):
        return getattr(time, name)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hits=st.lists(
        st.tuples(st.sampled_from(["addr:a", "addr:b", "key:c"]), st.sampled_from([0.0, 0.3, 1.0, 7.0, 30.0])),
        max_size=60,
    )
)
def test_in_process_counters_count_as_the_librarys_and_start_no_thread(monkeypatch, hits):
    """`MemoryCounters` is the library's in-process storage but for its sweep of expired counters, made on
    the counting thread once a second instead of in a timer thread started anew every 10 ms of traffic."""
    clock = HeldClock(1_800_000_000.0)
    for module in (limit_memory, limit_strategies):
        monkeypatch.setattr(module, "time", clock)
    item = parse("5/10second")
    ours, theirs = SlidingWindowCounterRateLimiter(MemoryCounters()), SlidingWindowCounterRateLimiter(MemoryStorage())
    started: list[threading.Thread] = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    ours_started = 0
    for who, seconds in hits:
        clock.now += seconds
        before = len(started)
        allowed, stats = ours.hit(item, who), ours.get_window_stats(item, who)
        ours_started += len(started) - before
        assert (allowed, stats) == (theirs.hit(item, who), theirs.get_window_stats(item, who))
    assert ours_started == 0 and (len(started) > 0) == (len(hits) > 0)  # the library's start timers
    ours.storage._swept_at -= SWEEP_SECONDS  # a second on: the next count sweeps
    ours.storage.expirations["stale"] = clock.now - 1
    ours.storage.storage["stale"] = 1
    ours.hit(item, "addr:a")
    assert "stale" not in ours.storage.storage
