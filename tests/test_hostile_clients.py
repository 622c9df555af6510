"""No client can hold what others need: the server as `serve` runs it (its HTTP protocol and limits), driven
over real sockets from several loopback addresses by clients that send slowly, send too much or send bad
keys, while the others' reads and the readiness probe keep answering."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from app.api.caching import Kept, ResponseCache
from app.api.protocol import server_config
from app.auth.keys import Scope, create_key
from app.main import create_app
from tests.conftest import client_for, make_settings

SLOW_BODY = b"POST %s HTTP/1.1\r\nHost: api.test\r\nContent-Type: %s\r\nContent-Length: 4096\r\n%s\r\n"


@contextmanager
def served(db, **overrides) -> Iterator[int]:
    """The app over `db`, served as `serve` serves it (its uvicorn configuration) on a free 127.0.0.1 port."""
    import uvicorn

    url = db.engine.url.render_as_string(hide_password=False)
    app_settings = make_settings(url, log_level="warning", webhook_worker=False, **overrides)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = server_config(create_app(app_settings, db=db), app_settings, host="127.0.0.1", port=port)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def connect(port: int, source: str = "127.0.0.1", timeout: float = 10) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One answer: status, headers and body (up to its Content-Length, or to the connection's end)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def client_from(port: int, source: str, **kwargs) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=60, **kwargs)


def slow_body(port: int, source: str, path: bytes = b"/v1/infobutton", extra: bytes = b"") -> socket.socket:
    """A POST whose body starts and then stops: what a client sending a byte now and then looks like."""
    sock = connect(port, source)
    sock.sendall(SLOW_BODY % (path, b"application/x-www-form-urlencoded", extra) + b"mainSearchCriteria.v.c=")
    return sock


# ---- bodies: the key first, then a deadline ------------------------------------------------------------


def test_a_keyless_write_is_refused_before_its_body_is_read(seeded_db):
    with served(seeded_db) as port:
        for path, detail in ((b"/v1/claims", "editor scope"), (b"/v1/webhooks", "partner's or an editor's")):
            sock = connect(port, timeout=5)
            sock.sendall(SLOW_BODY.replace(b"x-www-form-urlencoded", b"json") % (path, b"application/json", b"") + b"{")
            status, headers, body = read_answer(sock)  # the body is 4 KiB short: no route would answer yet
            sock.close()
            assert status == 401 and headers["content-type"] == "application/problem+json"
            assert detail in orjson.loads(body)["detail"] and headers["www-authenticate"]


def test_a_body_that_does_not_arrive_in_time_is_a_408(seeded_db):
    with seeded_db.write() as conn:
        editor = create_key(conn, scope=Scope.editor, name="slow editor")
    with served(seeded_db, body_timeout_seconds=1) as port:
        for path, extra in ((b"/v1/infobutton", b""), (b"/v1/claims", f"X-API-Key: {editor}\r\n".encode())):
            sock = slow_body(port, "127.0.0.1", path, extra)
            started = time.monotonic()
            status, headers, body = read_answer(sock)
            waited = time.monotonic() - started
            assert status == 408 and headers["content-type"] == "application/problem+json", path
            assert orjson.loads(body)["type"].endswith("/request-timeout") and headers["connection"] == "close"
            assert 0.8 < waited < 5
            assert sock.recv(1) == b""  # and the connection is closed
            sock.close()


def test_slow_body_clients_cannot_keep_reads_and_readiness_from_answering(seeded_db):
    """Five addresses open ten slow uploads each (fifty, over the worker's limit of 24): each address gets
    its share (4), the rest are 429s at once, and reads and the readiness probe from elsewhere answer."""
    with served(seeded_db, max_requests_in_flight=24, max_requests_in_flight_per_client=4) as port:
        slow, refused = [], 0
        for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"):
            for _ in range(10):
                sock = slow_body(port, address)
                sock.settimeout(0.3)
                try:
                    status, _, _ = read_answer(sock)
                    refused += status == 429
                    sock.close()
                except TimeoutError:
                    slow.append(sock)  # still held open by the server: in flight
        try:
            assert (len(slow), refused) == (20, 30)
            with client_from(port, "127.0.0.9") as other:
                assert other.get("/v1/claims").status_code == 200
                ready = other.get("/readyz")
                assert ready.status_code == 200 and ready.json()["in_flight"] == 20
                assert other.get("/healthz").status_code == 200
        finally:
            for sock in slow:
                sock.close()


def test_readiness_says_saturated_when_the_worker_is_full_and_liveness_stays_up(seeded_db):
    with served(seeded_db, max_requests_in_flight=6, max_requests_in_flight_per_client=100) as port:
        slow = [slow_body(port, "127.0.0.2") for _ in range(6)]
        try:
            with client_from(port, "127.0.0.3") as other:
                deadline = time.monotonic() + 5
                while (ready := other.get("/readyz")).status_code == 200 and time.monotonic() < deadline:
                    time.sleep(0.05)  # until the server has read the six heads
                assert ready.status_code == 503
                assert ready.json() == {"status": "not ready", "reason": "saturated", "in_flight": 6, "limit": 6}
                refused = other.get("/v1/claims")
                assert refused.status_code == 503 and refused.json()["type"].endswith("/overloaded")
                assert other.get("/healthz").status_code == 200
                for sock in slow:
                    sock.close()
                deadline = time.monotonic() + 5
                while (ready := other.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert ready.status_code == 200 and ready.json()["in_flight"] == 0
        finally:
            for sock in slow:
                sock.close()


# ---- heads: size and time ------------------------------------------------------------------------------


@pytest.mark.parametrize("size, complete", [(20 * 1024, True), (1024 * 1024, False)])
def test_a_head_over_16_kib_is_a_431_before_it_is_all_read(seeded_db, size, complete):
    """A 1 MiB head that never ends is answered all the same: it was refused while it was coming in."""
    with served(seeded_db) as port:
        sock = connect(port)
        head = b"GET /v1/topics HTTP/1.1\r\nHost: api.test\r\nX-Padding: " + b"a" * size
        with contextlib.suppress(OSError):  # the server may answer and close while the head is still coming
            sock.sendall(head + (b"\r\n\r\n" if complete else b""))
        status, headers, body = read_answer(sock)
        sock.close()
        assert status == 431 and headers["content-type"] == "application/problem+json"
        assert orjson.loads(body)["type"].endswith("/request-header-fields-too-large")
        assert headers["x-content-type-options"] == "nosniff"
        with client_from(port, "127.0.0.1") as fine:
            assert fine.get("/v1/topics", headers={"X-Padding": "a" * 8000}).status_code == 200


def test_a_head_that_trickles_in_is_a_408_and_an_idle_connection_is_closed(seeded_db):
    with served(seeded_db, header_timeout_seconds=1) as port:
        sock = connect(port)
        started = time.monotonic()
        sock.sendall(b"GET /v1/topics HTTP/1.1\r\nHost: api.test\r\n")
        with pytest.raises(OSError):  # a header line every 0.3 s, never the end of the head
            for n in range(40):
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())
                time.sleep(0.3)
        status, headers, body = read_answer(sock)
        assert status == 408 and orjson.loads(body)["type"].endswith("/request-timeout")
        assert time.monotonic() - started < 4
        sock.close()
        idle = connect(port)
        time.sleep(1.5)
        assert idle.recv(1) == b""  # closed without a word: nothing was asked
        idle.close()


# ---- keys: failures are spent from the address ---------------------------------------------------------


def test_failed_keys_are_charged_to_the_address_and_stop_costing_a_lookup(seeded_db):
    lookups = []

    def count(conn, cursor, statement, *args):
        if "api_keys" in statement.lower() or "apikey" in statement.lower():
            lookups.append(statement)

    event.listen(seeded_db.engine, "before_cursor_execute", count)
    try:
        with client_for(seeded_db, rate_limit_anonymous="3/minute") as api:
            with seeded_db.write() as conn:
                good = create_key(conn, scope=Scope.partner, name="good")
            lookups.clear()
            statuses = [api.get("/v1/topics", headers={"X-API-Key": f"hck_nope{n}_x"}).status_code for n in range(3)]
            assert statuses == [401, 401, 401] and len(lookups) == 3
            spent = api.get("/v1/topics", headers={"X-API-Key": "hck_nope9_x"})
            assert spent.status_code == 429 and spent.json()["type"].endswith("/too-many-requests")
            assert int(spent.headers["retry-after"]) >= 1 and len(lookups) == 3  # no lookup once spent
            assert api.get("/v1/topics", headers={"X-API-Key": good}).status_code == 429  # the address is spent
            assert api.get("/v1/topics").status_code == 429  # its anonymous budget too
            other = api.__class__(api.app, client=("203.0.113.5", 4000))
            assert other.get("/v1/topics", headers={"X-API-Key": good}).status_code == 200
            public = other.get("/v1/topics")  # shared-cacheable: only the budget's size, never a count
            assert public.status_code == 200 and "ratelimit-remaining" not in public.headers
    finally:
        event.remove(seeded_db.engine, "before_cursor_execute", count)


# ---- proxies, metrics, redirects -----------------------------------------------------------------------


def test_forwarded_for_is_believed_from_the_trusted_proxy_only(seeded_db):
    with served(seeded_db, forwarded_allow_ips="127.0.0.2", rate_limit_anonymous="2/minute") as port:
        with client_from(port, "127.0.0.2") as proxy:
            first = [proxy.get("/v1/topics", headers={"X-Forwarded-For": "198.51.100.7"}).status_code for _ in range(3)]
            assert first == [200, 200, 429]  # the client behind the proxy has its own budget...
            assert proxy.get("/v1/topics", headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 200  # ...each
        with client_from(port, "127.0.0.1") as direct:  # not a trusted proxy: its header is the client's own word
            spoofed = [
                direct.get("/v1/topics", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                for n in range(20, 23)
            ]
            assert spoofed == [200, 200, 429]


def test_metrics_are_for_an_ops_key_only(client, seeded_db):
    with seeded_db.write() as conn:
        ops = create_key(conn, scope=Scope.ops, name="monitoring")
        partner = create_key(conn, scope=Scope.partner, name="partner")
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and "ops scope" in anonymous.json()["detail"]
    assert client.get("/metrics", headers={"X-API-Key": partner}).status_code == 403
    allowed = client.get("/metrics", headers={"X-API-Key": ops})
    assert allowed.status_code == 200 and "http_requests_total" in allowed.text


@pytest.mark.parametrize("base", ["", "https://api.example.org"])
def test_the_trailing_slash_redirect_never_names_the_requests_host(seeded_db, base):
    with client_for(seeded_db, public_base_url=base) as api:
        moved = api.get("/v1/claims/?limit=2", headers={"Host": "attacker.example"}, follow_redirects=False)
        assert moved.status_code in (307, 308)
        assert moved.headers["location"] == f"{base}/v1/claims?limit=2"


@pytest.mark.parametrize("host", ["a" * 300, "bad host", "x.test:99999999", "exa$mple.test"])
def test_a_host_that_is_not_one_is_a_400(client, host):
    refused = client.get("/v1/topics", headers={"Host": host})
    assert refused.status_code == 400 and refused.json()["type"].endswith("/invalid-host")


# ---- the response cache's bound ------------------------------------------------------------------------


def held_bytes(cache: ResponseCache) -> int:
    """What the entries hold, counted here from what they are: keys' parts, bodies, encodings, headers."""
    total = 0
    for signature, kept in cache._entries.items():
        total += sum(len(p) if isinstance(p, str | bytes) else len(repr(p)) for p in signature if p)
        total += len(kept.body) + sum(len(n) + len(v) for n, v in kept.ok_headers + kept.not_modified_headers)
        total += sum(len(b) + sum(len(n) + len(v) for n, v in h) for h, b in kept.encoded.values())
    return total


def test_many_distinct_hosts_and_accepts_do_not_grow_the_cache_past_its_bound(seeded_db):
    with client_for(seeded_db, rate_limit_anonymous="100000/minute") as client:
        _fill_with_distinct_hosts_and_accepts(client)


def _fill_with_distinct_hosts_and_accepts(client) -> None:
    cache: ResponseCache = client.app.state.response_cache
    cache.max_bytes = 256 * 1024
    for n in range(200):
        junk = f"text/x-{n}-" + "j" * 4000
        assert client.get("/v1/topics", headers={"Accept": f"application/json, {junk}"}).status_code == 200
    assert len(cache._entries) == 1  # every one of them asked for JSON: one entry
    for n in range(200):
        host = f"h{n}-" + "a" * 60 + "." + "b" * 60 + ".example"
        assert client.get("/v1/therapy-types", headers={"Host": host, "Accept-Encoding": "gzip"}).status_code == 200
        assert held_bytes(cache) <= cache.size <= cache.max_bytes
    assert 10 < len(cache._entries) < 200  # distinct hosts are distinct entries, as many as the bytes allow


def test_with_a_public_base_url_the_host_is_no_part_of_the_cache_key(seeded_db):
    base = "https://api.example.org"
    with client_for(seeded_db, public_base_url=base, rate_limit_anonymous="100000/minute") as client:
        cache: ResponseCache = client.app.state.response_cache
        key = client.get("/v1/conditions?limit=1").json()["items"][0]["slug"]
        answers = set()
        for n in range(30):
            host = {"Host": f"h{n}.attacker.example"}
            answers.add(client.get("/v1/conditions?limit=2", headers=host).content)
            ld = client.get(f"/v1/conditions/{key}", headers={**host, "Accept": "application/ld+json"})
            assert "attacker" not in ld.text and base in ld.text  # JSON-LD ids on the base URL, never the Host
        assert len(answers) == 1 and len(cache._entries) <= 3  # the two URLs (and the first list), once each


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 30), st.integers(0, 3000), st.integers(0, 2000), st.sampled_from([None, "gzip", "br"])
        ),
        max_size=80,
    )
)
def test_the_cache_counts_every_byte_it_holds(puts):
    cache = ResponseCache(max_entries=20, max_bytes=40_000)
    for n, key_bytes, body_bytes, encoding in puts:
        signature = ("http", b"h" * key_bytes, "", f"/p/{n}", b"", (1.0, 0.0))
        body = orjson.dumps({"x": "y" * body_bytes})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        kept = Kept('W/"t"', 1, body, headers, [(b"etag", b'W/"t"')], "", None, compressible=True)
        cache.put(signature, kept)
        kept.served(None, encoding)  # an encoding made after it was kept is counted too
        assert held_bytes(cache) <= cache.size <= cache.max_bytes
        assert len(cache._entries) <= cache.max_entries


# ---- Redis out and back --------------------------------------------------------------------------------


class Forwarder(socketserver.ThreadingTCPServer):
    """A loopback TCP relay to the machine's Redis: closing it is an outage, and Redis itself is untouched."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int) -> None:
        self.open: list[socket.socket] = []

        class Relay(socketserver.BaseRequestHandler):
            def handle(inner) -> None:
                upstream = socket.create_connection(("127.0.0.1", 6379), timeout=2)
                self.open += [inner.request, upstream]

                def pump(src, dst):
                    try:
                        while data := src.recv(65536):
                            dst.sendall(data)
                    except OSError:
                        pass
                    for s in (src, dst):
                        with suppress(OSError):
                            s.shutdown(socket.SHUT_RDWR)

                threading.Thread(target=pump, args=(upstream, inner.request), daemon=True).start()
                pump(inner.request, upstream)

        super().__init__(("127.0.0.1", port), Relay)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        for sock in self.open:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def with_storage(db, storage_url: str, **overrides) -> TestClient:
    url = db.engine.url.render_as_string(hide_password=False)
    app_settings = make_settings(url, **overrides).model_copy(update={"rate_limit_storage_url": storage_url})
    return TestClient(create_app(app_settings, db=db), raise_server_exceptions=False)


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="needs the Redis server on 127.0.0.1:6379")
def test_a_redis_outage_is_one_warning_per_worker_limits_meanwhile_and_one_recovery_message(
    seeded_db, caplog, monkeypatch
):
    from app.api import ratelimit

    monkeypatch.setattr(ratelimit, "RETRY_SHARED_SECONDS", 0.2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    relay = Forwarder(port)
    url = f"redis://127.0.0.1:{port}"
    caplog.set_level(logging.INFO, logger="app.ratelimit")
    with with_storage(seeded_db, url, rate_limit_anonymous="5/minute") as api:
        other = api.__class__(api.app, client=(f"198.51.100.{time.time_ns() % 200 + 1}", 4000))
        assert other.get("/v1/topics").status_code == 200
        relay.stop()
        during = [other.get("/v1/topics").status_code for _ in range(6)]
        assert during == [200, 200, 200, 200, 200, 429]  # limited still, by this worker's own count
        warnings = [r for r in caplog.records if r.name == "app.ratelimit" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage() and warnings[0].exc_info is None
        relay = Forwarder(port)
        try:
            time.sleep(0.3)
            api.get("/v1/topics")
            api.get("/v1/topics")
            messages = [r.getMessage() for r in caplog.records if r.name == "app.ratelimit"]
            assert len(messages) == 2 and "again" in messages[1]
        finally:
            relay.stop()


def test_a_redis_that_never_answers_is_one_warning_and_the_api_still_limits(seeded_db, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe is closed
    caplog.set_level(logging.INFO, logger="app.ratelimit")
    with with_storage(seeded_db, f"redis://127.0.0.1:{closed}", rate_limit_anonymous="3/minute") as api:
        assert [api.get("/v1/topics").status_code for _ in range(4)] == [200, 200, 200, 429]
    records = [r for r in caplog.records if r.name == "app.ratelimit"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING and records[0].exc_info is None
