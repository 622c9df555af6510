"""Prometheus metrics, by route template (never the raw path, so a scan of random URLs cannot grow the
series without bound). With several workers, set PROMETHEUS_MULTIPROC_DIR to an empty directory shared by
them and `/metrics` adds up every worker's numbers (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.responses import Response

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

router = APIRouter(tags=["operations"])

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


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    name="metrics",
    response_class=Response,
    description="Request counts, durations and requests in flight, by route template, and webhook "
    "deliveries (`webhook_deliveries_total` by outcome, `webhook_delivery_lag_seconds` from write to "
    "acknowledged receipt), in the Prometheus text format. Holds no content and no keys.",
    responses={200: {"content": {"text/plain": {"example": EXAMPLE}}}},
)
def metrics() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
