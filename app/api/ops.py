"""Liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from starlette.responses import JSONResponse

from app.api.deps import DatabaseDep
from app.core.migrate import alembic_config

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
    description="200 when the database answers and its schema is at the newest migration; 503 otherwise.",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready", "schema": "0001"}}}},
        503: {
            "description": "Not ready",
            "content": {"application/json": {"example": {"status": "not ready", "reason": "schema is not current"}}},
        },
    },
)
def readyz(db: DatabaseDep) -> JSONResponse:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
        return JSONResponse({"status": "not ready", "reason": "database unreachable"}, status_code=503)
    if current != head:
        return JSONResponse(
            {"status": "not ready", "reason": "schema is not current", "schema": current}, status_code=503
        )
    return JSONResponse({"status": "ready", "schema": current})
