"""Prometheus metrics, by route template (never the raw path, so a scan of random URLs cannot grow the
series without bound). With several workers, set PROMETHEUS_MULTIPROC_DIR to an empty directory shared by
them and `/metrics` adds up every worker's numbers (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "http_requests_total",
    "Requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being answered now.", multiprocess_mode="livesum")
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries",
    "Webhook send attempts, by outcome: success, retry (failed, tried again later), failed (the last retry "
    "failed, the subscription is disabled), gone (410: disabled).",
    ["outcome"],
)
WEBHOOK_LAG = Histogram(
    "webhook_delivery_lag_seconds",
    "From the write that made an event to its receipt acknowledged by the target (2xx).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0, 36000.0),
)

EXAMPLE = """# HELP http_requests_total Requests answered, by method, route template and status.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/v1/claims",status="200"} 42.0
"""


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
