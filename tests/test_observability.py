"""Request ids, structured request logs and Prometheus metrics."""

from __future__ import annotations

import io
import logging
import re

import orjson
import pytest

from app.auth.keys import Scope, create_key
from app.ops.requests import JsonFormatter, access_log


def ops_headers(client) -> dict[str, str]:
    """An operations key for the app behind `client` (metrics are for it alone)."""
    with client.app.state.db.write() as conn:
        return {"X-API-Key": create_key(conn, scope=Scope.ops, name="monitoring")}


@pytest.fixture
def access_lines():
    """Every access-log line written while the test runs, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access_log.addHandler(handler)
    try:
        yield lambda: [orjson.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        access_log.removeHandler(handler)


def test_a_request_id_is_made_and_returned(client):
    first = client.get("/v1/topics").headers["x-request-id"]
    second = client.get("/v1/topics").headers["x-request-id"]
    assert first and second and first != second


def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/healthz", headers={"X-Request-ID": "lb-42.abc:7"}).headers["x-request-id"] == "lb-42.abc:7"
    for hostile in ("x" * 500, "a b", "<script>", "id\u00e9"):
        returned = client.get("/healthz", headers={"X-Request-ID": hostile.encode("utf-8")}).headers["x-request-id"]
        assert returned != hostile and re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", returned)


def test_errors_carry_a_request_id_too(client):
    for path in ("/nowhere", "/v1/claims?limit=0", "/v1/claims/nope"):
        assert client.get(path).headers["x-request-id"]


def test_each_request_logs_one_json_line_with_its_fields(client, access_lines):
    response = client.get("/v1/claims", params={"limit": 2}, headers={"X-Request-ID": "trace-1"})
    client.get("/v1/claims/no-such-claim")
    lines = access_lines()
    assert len(lines) == 2
    first, second = lines
    assert first["method"] == "GET" and first["path"] == "/v1/claims" and first["route"] == "/v1/claims"
    assert first["status"] == response.status_code == 200
    assert first["request_id"] == "trace-1" and first["duration_ms"] >= 0
    assert second["status"] == 404 and second["route"] == "/v1/claims/{id}"


def test_a_log_line_cannot_be_split_by_a_newline_in_the_path(client, access_lines):
    client.get("/v1/claims/a%0A%7B%22status%22%3A200%7D")
    lines = access_lines()
    assert len(lines) == 1 and lines[0]["status"] == 404


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_route_template_and_status(client):
    ops = ops_headers(client)
    before = client.get("/metrics", headers=ops).text
    for key in ("a", "b", "c"):
        client.get(f"/v1/claims/{key}")
    client.get("/v1/topics")
    after = client.get("/metrics", headers=ops)
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    counted = _sample(text, "http_requests_total", route="/v1/claims/{id}", status="404") - _sample(
        before, "http_requests_total", route="/v1/claims/{id}", status="404"
    )
    assert counted == 3
    assert "/v1/claims/a" not in text  # templates, never raw paths: a URL scan cannot grow the series
    assert _sample(text, "http_request_duration_seconds_count", route="/v1/topics", method="GET") >= 1


def test_unknown_methods_and_paths_share_bounded_labels(client):
    client.request("BREW", "/v1/topics")
    client.get("/random/path/12345")
    text = client.get("/metrics", headers=ops_headers(client)).text
    assert 'method="BREW"' not in text and "/random/path" not in text
    assert _sample(text, "http_requests_total", method="OTHER") >= 1


def test_metrics_in_multiprocess_mode_read_the_shared_directory(client, tmp_path, monkeypatch):
    from prometheus_client import values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    values.ValueClass = values.get_value_class()  # what a worker started with the variable set would use
    try:
        from prometheus_client import Counter

        from app.ops.metrics import exposition

        counter = Counter("soak_probe_total", "A counter written to the shared directory.", registry=None)
        counter.inc(5)
        assert "soak_probe_total 5.0" in exposition().decode()
    finally:
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
        values.ValueClass = values.get_value_class()
