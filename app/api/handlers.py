"""The error handlers: every error a request meets, the family's own (`app.core.errors`), the framework's,
the database's and unexpected ones, answered as its problem+json document (RFC 9457) with no stack trace,
SQL or path in it. `create_app` installs them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.db import is_disk_full
from app.core.errors import (
    ApiError,
    DatabaseUnavailable,
    HttpError,
    InsufficientStorage,
    InternalError,
    MethodNotAllowed,
    NotFoundError,
    PayloadTooLarge,
    QueryTimeout,
    RequestTimeout,
    Unauthorized,
    ValidationFailed,
)

log = logging.getLogger("app.errors")


# Errors the framework raises, by status, as members of the family; any other status is a plain "Error".
_HTTP_ERRORS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    404: NotFoundError,
    405: MethodNotAllowed,
    408: RequestTimeout,
    413: PayloadTooLarge,
}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        location = error.get("loc", ())
        errors.append(
            {
                "location": str(location[0]) if location else "body",
                "field": ".".join(str(part) for part in location[1:]) or None,
                "message": error.get("msg", "invalid"),
            }
        )
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        unsafe = request.scope.get("state", {}).get("unsafe_body")  # a string XML cannot hold, found as read
        if unsafe is not None:
            named = f"body field {unsafe['field']!r}" if unsafe["field"] else "body"
            return ValidationFailed(f"The {named} {unsafe['message']}.", errors=[unsafe]).response()
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": None, "message": "invalid"}
        where = f"{first['location']} field {first['field']!r}" if first["field"] else first["location"]
        return ValidationFailed(f"The {where} is invalid: {first['message']}.", errors=errors).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        family = _HTTP_ERRORS.get(exc.status_code)
        title = family.title if family else "Error"
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this path."
        headers = getattr(exc, "headers", None)
        if family is None:
            return HttpError(exc.status_code, detail, headers=headers).response()
        return family(detail, headers=headers).response()

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> Response:
        if is_disk_full(exc):  # not a passing outage: no Retry-After
            log.error("database full: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
            return InsufficientStorage("The database has no room for this write; nothing was saved.").response()
        if "interrupted" in str(exc.orig) or "statement timeout" in str(exc.orig):
            return QueryTimeout(
                "The query ran past its time limit; narrow it.", headers={"Retry-After": "1"}
            ).response()
        log.exception("database error")
        return DatabaseUnavailable(
            "The database could not answer; try again shortly.", headers={"Retry-After": "1"}
        ).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return InternalError("Something went wrong on our side; it has been logged.").response()
