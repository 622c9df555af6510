"""Liveness and readiness, for orchestrators and load balancers, and metrics, for an operations key."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from app.api.deps import DatabaseDep, OpsDep
from app.core.errors import Forbidden, Unauthorized
from app.core.migrate import alembic_config
from app.ops.metrics import EXAMPLE, exposition

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Is the process up",
    response_model=dict[str, str],
    description="Answers 200 while the process runs; it does not touch the database.",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Can the service answer",
    response_model=dict[str, Any],
    description="200 when this worker takes requests (it is not answering `MAX_REQUESTS_IN_FLIGHT` already), "
    "the database answers and its schema is at the newest migration; 503 otherwise, with the reason "
    "(`saturated`, `database unreachable`, `schema is not current`). `in_flight` and `limit` are this worker's.",
    responses={
        200: {
            "content": {
                "application/json": {"example": {"status": "ready", "schema": "0001", "in_flight": 3, "limit": 512}}
            }
        },
        503: {
            "description": "Not ready",
            "content": {
                "application/json": {
                    "example": {"status": "not ready", "reason": "saturated", "in_flight": 512, "limit": 512}
                }
            },
        },
    },
)
def readyz(request: Request, db: DatabaseDep) -> JSONResponse:
    in_flight = getattr(request.app.state, "in_flight", None)
    load = {"in_flight": in_flight.count, "limit": in_flight.limit} if in_flight is not None else {}
    if in_flight is not None and in_flight.saturated:
        return JSONResponse({"status": "not ready", "reason": "saturated", **load}, status_code=503)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
        return JSONResponse({"status": "not ready", "reason": "database unreachable"}, status_code=503)
    if current != head:
        return JSONResponse(
            {"status": "not ready", "reason": "schema is not current", "schema": current, **load}, status_code=503
        )
    return JSONResponse({"status": "ready", "schema": current, **load})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    name="metrics",
    response_class=Response,
    description="Request counts, durations and requests in flight, by route template, and webhook "
    "deliveries (`webhook_deliveries_total` by outcome, `webhook_delivery_lag_seconds` from write to "
    "acknowledged receipt), in the Prometheus text format. Holds no content and no keys. Only for a key "
    "with the `ops` scope (`health-content keys create --scope ops`): the process's figures are not public.",
    responses={
        200: {"content": {"text/plain": {"example": EXAMPLE}}},
        401: Unauthorized.openapi("Without a key.", "This operation needs an X-API-Key with the ops scope."),
        403: Forbidden.openapi("A partner's or an editor's key.", "This key does not have the ops scope."),
    },
)
def metrics(_: OpsDep) -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
