"""Errors as application/problem+json (RFC 9457). Services raise domain errors that carry their status;
one set of handlers turns every error, including framework and unexpected ones, into a problem document
with no stack trace, SQL or path in it."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("app.errors")

PROBLEM_TYPE_BASE = "https://health-content.dev/problems/"
PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self, detail: str, *, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class BadParameter(ApiError):
    status = 422
    title = "Invalid parameter"
    slug = "invalid-parameter"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(
            f"Query parameter {parameter!r} {message}.",
            errors=[{"location": "query", "field": parameter, "message": message}],
        )


class NotFoundError(ApiError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Unauthorized(ApiError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(ApiError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class PreconditionFailed(ApiError):
    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class ContentError(ApiError):
    """A write the content cannot take, naming the fields at fault."""

    status = 422
    title = "Invalid content"
    slug = "invalid-content"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors or None)


class UnknownReference(ContentError):
    title = "Unknown reference"
    slug = "unknown-reference"


class InUse(ContentError):
    status = 409
    title = "Still in use"
    slug = "still-in-use"


class Conflict(ContentError):
    status = 409
    title = "Already exists"
    slug = "already-exists"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


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
        return problem(exc.status, exc.title, exc.detail, slug=exc.slug, errors=exc.errors, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": None, "message": "invalid"}
        where = f"{first['location']} field {first['field']!r}" if first["field"] else first["location"]
        return problem(
            422,
            "Validation failed",
            f"The {where} is invalid: {first['message']}.",
            slug="validation-failed",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 413: "Payload too large"}
        title = titles.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this path."
        return problem(exc.status_code, title, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> Response:
        if "interrupted" in str(exc.orig) or "statement timeout" in str(exc.orig):
            return problem(
                503,
                "Query took too long",
                "The query ran past its time limit; narrow it.",
                slug="query-timeout",
                headers={"Retry-After": "1"},
            )
        log.exception("database error")
        return problem(
            503,
            "Database unavailable",
            "The database could not answer; try again shortly.",
            slug="database-unavailable",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal error", "Something went wrong on our side; it has been logged.")
