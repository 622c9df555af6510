"""The one error family, as application/problem+json (RFC 9457). Services raise errors that carry their
status, title and problem `type` slug; the handlers in `app.api.handlers` turn every error, including
framework and unexpected ones, into its problem document."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_TYPE_BASE = "https://health-content.dev/problems/"
PROBLEM_JSON = "application/problem+json"


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}  # the Problem schema of the OpenAPI document


class ApiError(Exception):
    """The one error family. Each class carries its HTTP status, its title and its problem `type` slug;
    the slug is a contract field, so it is written out and never made from the title's wording."""

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

    @classmethod
    def document(cls, detail: str, *, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The problem document (RFC 9457) this error answers with."""
        body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + cls.slug, "title": cls.title, "status": cls.status}
        body["detail"] = detail
        if errors is not None:
            body["errors"] = errors
        return body

    @classmethod
    def openapi(cls, description: str, detail: str, *, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """This error as an OpenAPI response: the Problem schema and an example with this `detail`."""
        example = cls.document(detail, errors=errors)
        return {"description": description, "content": {PROBLEM_JSON: {"example": example, "schema": PROBLEM_REF}}}

    def response(self) -> Response:
        """The problem+json answer, with this error's headers."""
        body = self.document(self.detail, errors=self.errors)
        body["status"] = self.status  # an HttpError's own
        return Response(
            orjson.dumps(body),
            status_code=self.status,
            media_type=PROBLEM_JSON,
            headers=self.headers,
        )


class BadParameter(ApiError):
    status = 422
    title = "Invalid parameter"
    slug = "invalid-parameter"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(
            f"Query parameter {parameter!r} {message}.",
            errors=[{"location": "query", "field": parameter, "message": message}],
        )


class StaleCursor(ApiError):
    """A cursor made by another epoch of the store (before a restore, or by another store): its position
    cannot be read here, and reading it anyway could skip or repeat changes without a word."""

    status = 410
    title = "Cursor from another epoch of the store"
    slug = "stale-cursor"

    def __init__(self, parameter: str) -> None:
        message = (
            "was handed out before this store was restored from a backup (or by another store); "
            "its position means nothing here: start again without it (partners: from /v1/export)"
        )
        super().__init__(
            f"Query parameter {parameter!r} {message}.",
            errors=[{"location": "query", "field": parameter, "message": message}],
        )


class InvalidQuery(ApiError):
    """A query string that cannot be read (not UTF-8, NUL bytes), refused before routing."""

    status = 422
    title = "Invalid parameter"
    slug = "invalid-parameter"


class ValidationFailed(ApiError):
    """A parameter or body that does not validate; `errors` names each bad field."""

    status = 422
    title = "Validation failed"
    slug = "validation-failed"


class Unauthorized(ApiError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(ApiError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFoundError(ApiError):
    status = 404
    title = "Not found"
    slug = "not-found"


class MethodNotAllowed(ApiError):
    status = 405
    title = "Method not allowed"
    slug = "method-not-allowed"


class PreconditionFailed(ApiError):
    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class PayloadTooLarge(ApiError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class InvalidHost(ApiError):
    """A request without exactly one `Host` that names a host (RFC 9112, section 3.2)."""

    status = 400
    title = "Invalid Host header"
    slug = "invalid-host"


class RequestTimeout(ApiError):
    """A request whose body (or head) did not arrive within its time limit; the connection is closed."""

    status = 408
    title = "Request timeout"
    slug = "request-timeout"


class HeadersTooLarge(ApiError):
    """A request whose header section (request line and headers) is over the server's limit."""

    status = 431
    title = "Request header fields too large"
    slug = "request-header-fields-too-large"


class UnsupportedMediaType(ApiError):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class UriTooLong(ApiError):
    status = 414
    title = "URI too long"
    slug = "uri-too-long"


class TooManyRequests(ApiError):
    status = 429
    title = "Too many requests"
    slug = "too-many-requests"


class InternalError(ApiError):
    status = 500
    title = "Internal error"
    slug = "internal-error"


class Overloaded(ApiError):
    status = 503
    title = "Service unavailable"
    slug = "overloaded"


class QueryTimeout(ApiError):
    status = 503
    title = "Query took too long"
    slug = "query-timeout"


class DatabaseUnavailable(ApiError):
    status = 503
    title = "Database unavailable"
    slug = "database-unavailable"


class InsufficientStorage(ApiError):
    """The database has no room for a write (a full disk, a size limit): not a passing outage, so no
    `Retry-After`; nothing of the write was saved."""

    status = 507
    title = "Insufficient storage"
    slug = "insufficient-storage"


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


class HttpError(ApiError):
    """A status the framework raises that the family has no class for."""

    title = "Error"
    slug = "error"

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers)
        self.status = status
