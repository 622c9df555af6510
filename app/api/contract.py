"""What every operation of the OpenAPI document promises beyond its own route: the `X-API-Key` security
scheme, the answers the middleware gives on any path (401 for a bad key, 414 for a long URL, 422 for a NUL
byte in the query, 429 past the rate limit, 503 when the worker is full, 304 to a conditional GET) and the
headers that come with them. The route tables (which operations need an editor key, which paths the limits
exempt) are read from the app and the middleware, so the document follows the code."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import Scope

from app.api.deps import EDITOR_KEY_NEEDED, KEY_NEEDED, OPS_KEY_NEEDED, require_editor, require_key, require_ops
from app.api.middleware import RequestsInFlightLimit
from app.api.ratelimit import EXEMPT_PATHS as RATE_LIMIT_EXEMPT
from app.core.errors import (
    PROBLEM_JSON,
    HeadersTooLarge,
    InsufficientStorage,
    InvalidHost,
    InvalidQuery,
    Overloaded,
    RequestTimeout,
    StaleCursor,
    TooManyRequests,
    UriTooLong,
)
from app.core.text import XML_TEXT_PATTERN
from app.ops.routing import iter_routes

SCHEME = "ApiKey"
SECURITY_SCHEMES = {
    SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A partner or editor key (`health-content keys create`). Reads are public: without a key "
        "they are limited per address, with one per key, at a higher limit. Writes and revision histories need "
        "an editor key; webhooks need a key of either scope and belong to it. An unknown or revoked key is a "
        "`401` on any path.",
    }
}
KEY_REQUIRED: list[dict[str, list[str]]] = [{SCHEME: []}]
KEY_OPTIONAL: list[dict[str, list[str]]] = [{}, {SCHEME: []}]

# The GETs that answer `If-None-Match`: the API's reads and the topic pages.
CONDITIONAL_PREFIXES = ("/v1/", "/topics/")


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "schema": schema}


HEADERS: dict[str, dict[str, Any]] = {
    "ETag": _header(
        "The representation's validator: send it back as `If-None-Match` to get `304` when nothing changed "
        "(an editor's record tag also serves as `If-Match` for a write).",
        {"type": "string"},
    ),
    "Last-Modified": _header(
        "When the newest change this answer shows was made (an HTTP date); send it back as `If-Modified-Since`.",
        {"type": "string"},
    ),
    "Link": _header('The next page, as `<URL>; rel="next"` (RFC 8288); absent on the last page.', {"type": "string"}),
    "Cache-Control": _header("How long and by whom the answer may be kept.", {"type": "string"}),
    "Location": _header("The URL of the record made.", {"type": "string", "format": "uri-reference"}),
    "RateLimit-Limit": _header("Requests allowed per window for this caller.", {"type": "integer", "minimum": 0}),
    "RateLimit-Remaining": _header(
        "Requests left in the current window. Absent from public answers (`Cache-Control: public`), which a shared "
        "cache may replay to other callers.",
        {"type": "integer", "minimum": 0},
    ),
    "RateLimit-Reset": _header(
        "Seconds until the window frees a request. Absent from public answers, as `RateLimit-Remaining` is.",
        {"type": "integer", "minimum": 0},
    ),
    "RateLimit-Policy": _header("The limit and its window, as `LIMIT;w=SECONDS`.", {"type": "string"}),
    "Retry-After": _header("Seconds to wait before trying again.", {"type": "integer", "minimum": 0}),
    "WWW-Authenticate": _header('How to authenticate: `ApiKey header="X-API-Key"`.', {"type": "string"}),
}
RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")


def _refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


TOO_MANY_REQUESTS = TooManyRequests.openapi(
    "Past the rate limit of this key (or, without a key, of this address), past the requests one address may "
    "have in flight in a worker (`MAX_REQUESTS_IN_FLIGHT_PER_CLIENT`), or, with a key, from an address whose "
    "unknown or revoked keys filled a window of the anonymous budget; `Retry-After` says when to try again.",
    "This address may make 120 requests per 60 seconds; try again in 12 s.",
)
OVERLOADED = Overloaded.openapi(
    "The worker is answering as many requests as it takes at once, or the database could not answer in time; "
    "`Retry-After` says when to try again.",
    "This worker is answering 512 requests already; try again in a second.",
)
URI_TOO_LONG = UriTooLong.openapi(
    "The path and query together are over 8 KiB.", "The path and query may not exceed 8192 bytes."
)
QUERY_REFUSED = InvalidQuery.openapi(
    "The query string carries a NUL byte or is not UTF-8 (any parameter, known or not).",
    "Query parameters may not contain NUL bytes.",
    errors=[{"location": "query", "field": "q", "message": "contains a NUL byte"}],
)
NOT_MODIFIED = {
    "description": "Not modified: the `If-None-Match` sent still describes this answer.",
    "headers": _refs("ETag", "Cache-Control"),
}
NOT_MODIFIED_DATED = {
    "description": "Not modified: the `If-None-Match` or `If-Modified-Since` sent still describes this answer.",
    "headers": _refs("ETag", "Cache-Control", "Last-Modified"),
}
HEADERS_TOO_LARGE = HeadersTooLarge.openapi(
    "The request line and headers together are over `MAX_HEADER_BYTES` (16 KiB); the connection is closed.",
    "The request line and headers may not exceed 16384 bytes.",
)
REQUEST_TIMEOUT = RequestTimeout.openapi(
    "The body did not arrive within `BODY_TIMEOUT_SECONDS` (30 s) of the request's start, or the head within "
    "`HEADER_TIMEOUT_SECONDS` (10 s) of the connection's; the connection is closed.",
    "The request body did not arrive within 30 seconds.",
)
INVALID_HOST = InvalidHost.openapi(
    "The request has no `Host` naming a host and port, or more than one `Host` (RFC 9112, section 3.2).",
    "The request needs exactly one Host header naming a host (and port).",
)
INSUFFICIENT_STORAGE = InsufficientStorage.openapi(
    "The database has no room for this write (a full disk or its size limit); nothing of it was saved. "
    "Not a passing outage, so no `Retry-After`: it lasts until an operator makes room.",
    "The database has no room for this write; nothing was saved.",
)
STALE_CURSOR = StaleCursor.openapi(
    "The cursor was handed out by this store before it was restored from a backup (or by another store): "
    "its position names nothing here, so it is refused rather than read as a place in other content. Start "
    "the list again without it; a partner following `/v1/changes` re-syncs from `/v1/export`.",
    StaleCursor("since").detail,
    errors=StaleCursor("since").errors,
)
# Shared by many operations, so kept once in components/responses.
RESPONSES: dict[str, dict[str, Any]] = {
    "NotModified": NOT_MODIFIED,
    "NotModifiedDated": NOT_MODIFIED_DATED,
    "UriTooLong": URI_TOO_LONG,
    "QueryRefused": QUERY_REFUSED,
    "HeadersTooLarge": HEADERS_TOO_LARGE,
    "InvalidHost": INVALID_HOST,
    "RequestTimeout": REQUEST_TIMEOUT,
    "TooManyRequests": {**TOO_MANY_REQUESTS, "headers": _refs("Retry-After", *RATE_LIMIT_HEADERS)},
    "Overloaded": {**OVERLOADED, "headers": _refs("Retry-After")},
    "InsufficientStorage": INSUFFICIENT_STORAGE,
    "StaleCursor": STALE_CURSOR,
}


@dataclass(frozen=True)
class Traits:
    """What the code makes of one operation."""

    editor_only: bool
    keyed: bool  # needs a key of either scope, and answers about that key only: never kept or revalidated
    rate_limited: bool
    may_be_overloaded: bool


def _needs(dependant: Dependant, call: Any) -> bool:
    return dependant.call is call or any(_needs(sub, call) for sub in dependant.dependencies)


def route_traits(app: FastAPI) -> dict[str, Traits]:
    """Each documented operation's traits, by operationId."""
    found: dict[str, Traits] = {}
    for path, _, route in iter_routes(app.router.routes):
        if isinstance(route, APIRoute) and route.include_in_schema:
            found[route.name] = Traits(
                editor_only=_needs(route.dependant, require_editor),
                keyed=_needs(route.dependant, require_key) or _needs(route.dependant, require_ops),
                rate_limited=path not in RATE_LIMIT_EXEMPT,
                may_be_overloaded=path not in RequestsInFlightLimit.EXEMPT_PATHS,
            )
    return found


def _key_need(route: APIRoute) -> str | None:
    """The 401 detail of an operation that needs a key, from its dependencies; None if it needs none."""
    for check, detail in (
        (require_editor, EDITOR_KEY_NEEDED),
        (require_ops, OPS_KEY_NEEDED),
        (require_key, KEY_NEEDED),
    ):
        if _needs(route.dependant, check):
            return detail
    return None


def key_requirements(app: FastAPI) -> dict[str, tuple[re.Pattern[str], list[str | None]]]:
    """Per method, one pattern of the paths of every operation taking it, each path an alternative in
    routing order (so the alternative that matches is the operation the router picks), and the 401 detail
    of each (None where no key is needed)."""
    table = getattr(app.state, "_key_requirements", None)
    if table is None:
        paths: dict[str, list[str]] = {}
        details: dict[str, list[str | None]] = {}
        for path, methods, route in iter_routes(app.router.routes):
            if isinstance(route, APIRoute):
                for method in methods:
                    paths.setdefault(method, []).append("(" + re.sub(r"\{[^}]+\}", "[^/]+", path) + ")")
                    details.setdefault(method, []).append(_key_need(route))
        table = {method: (re.compile("^(?:" + "|".join(paths[method]) + ")$"), details[method]) for method in paths}
        app.state._key_requirements = table
    return table


def key_requirement(scope: Scope) -> str | None:
    """For `KeyRequired`: the 401 detail of the operation the router will pick for this request (the first
    that takes its method and path), if that operation needs a key."""
    method = "GET" if scope["method"] == "HEAD" else scope["method"]
    pattern, details = key_requirements(scope["app"]).get(method, (None, []))
    found = pattern.match(scope["path"]) if pattern is not None else None
    return details[found.lastindex - 1] if found is not None and found.lastindex else None


def _restrict_text(schema: dict[str, Any], components: dict[str, Any], seen: set[str]) -> None:
    """Give every free-text string of a request's schema the pattern of what the door accepts (text XML can
    hold), following `$ref`s into the components: a string the server refuses is one the document refuses."""
    if (ref := schema.get("$ref")) is not None:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen and name in components:
            seen.add(name)
            _restrict_text(components[name], components, seen)
        return
    if schema.get("type") == "string" and not {"pattern", "enum"} & schema.keys():
        schema["pattern"] = XML_TEXT_PATTERN
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        schema.setdefault("propertyNames", {"pattern": XML_TEXT_PATTERN})  # keys pass the same door
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            _restrict_text(branch, components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _restrict_text(schema[key], components, seen)
    for key in ("properties", "patternProperties"):
        for item in schema.get(key, {}).values():
            _restrict_text(item, components, seen)


def _add_headers(response: dict[str, Any], *names: str) -> None:
    response.setdefault("headers", {}).update(_refs(*names))


def apply(schema: dict[str, Any], traits: dict[str, Traits]) -> None:
    """Add security, the middleware's answers and the response headers to every operation of `schema`."""
    # Relative: the API is wherever this document is served from (behind a prefix, too).
    schema.setdefault("servers", [{"url": "/", "description": "The host serving this document."}])
    components = schema.setdefault("components", {})
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    components["headers"] = copy.deepcopy(HEADERS)
    components["responses"] = copy.deepcopy(RESPONSES)
    models: dict[str, Any] = components.get("schemas", {})
    seen: set[str] = set()
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            trait = traits[operation["operationId"]]
            needs_key = trait.editor_only or trait.keyed
            operation["security"] = copy.deepcopy(KEY_REQUIRED if needs_key else KEY_OPTIONAL)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("query", "path"):
                    _restrict_text(parameter.setdefault("schema", {}), models, seen)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _restrict_text(content.setdefault("schema", {}), models, seen)
            _document_answers(path, method, operation, trait)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _document_answers(path: str, method: str, operation: dict[str, Any], trait: Traits) -> None:
    responses: dict[str, Any] = operation["responses"]
    conditional = method == "get" and path.startswith(CONDITIONAL_PREFIXES) and not trait.keyed
    dated = "Last-Modified" in operation.get("description", "")
    parameters = operation.get("parameters", [])
    paged = any(p.get("in") == "query" and p.get("name") in ("cursor", "since") for p in parameters)
    responses.setdefault("414", _ref("UriTooLong"))
    responses.setdefault("422", _ref("QueryRefused"))
    if paged:
        responses.setdefault("410", _ref("StaleCursor"))
    if "401" in responses:
        _add_headers(responses["401"], "WWW-Authenticate")
    responses.setdefault("431", _ref("HeadersTooLarge"))
    responses.setdefault("400", _ref("InvalidHost"))
    if method in ("post", "put", "patch"):
        responses.setdefault("408", _ref("RequestTimeout"))
    if method in ("post", "put", "patch", "delete"):
        responses.setdefault("507", _ref("InsufficientStorage"))
    # Past the rate limit, past the address's share of a worker, or (with a key) after too many failed keys.
    responses.setdefault("429", _ref("TooManyRequests"))
    if trait.may_be_overloaded:
        if "503" in responses:  # the operation's own 503 (readiness) may also be the middleware's
            own = responses["503"]
            own.setdefault("content", {})[PROBLEM_JSON] = copy.deepcopy(OVERLOADED["content"][PROBLEM_JSON])
            _add_headers(own, "Retry-After")
        else:
            responses["503"] = _ref("Overloaded")
    if conditional:
        responses.setdefault("304", _ref("NotModifiedDated" if dated else "NotModified"))
    for code, response in responses.items():
        if not code.startswith("2"):
            continue
        if trait.rate_limited:
            _add_headers(response, *RATE_LIMIT_HEADERS)
        if conditional:
            _add_headers(response, "ETag", "Cache-Control", *(["Last-Modified"] if dated else []))
            if paged:
                _add_headers(response, "Link")
        if code == "201":
            _add_headers(response, "Location")
        if method in ("post", "patch") and code in ("200", "201"):
            _add_headers(response, "ETag")
