"""The human entrances: Swagger UI at /docs, ReDoc at /redoc and the explorer page at /, all served from
this process. The Swagger UI and ReDoc bundles come from the fastapi-offline package, so the docs work on
a closed network (FastAPI's defaults load them from a CDN). Also refines the OpenAPI document: tag
descriptions, and the errors every operation can meet documented once as problem+json."""

from __future__ import annotations

import copy
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, HTMLResponse

from app.api import contract
from app.api.strict_query import accepts_extra_query_parameters
from app.core.errors import PROBLEM_JSON, PROBLEM_REF, Unauthorized, ValidationFailed

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
VENDOR_DIR = Path(str(files("fastapi_offline") / "static"))
STATIC_URL = "/static"
VENDOR_URL = "/static/vendor"

# Descriptions of the tags that group operations; only the tags some operation uses are published.
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": "conditions",
        "description": "Diseases and states as a hierarchy (a parent includes its "
        "descendants in filters), with synonyms and ICD-10-CM, MeSH and SNOMED CT codes.",
    },
    {
        "name": "therapies",
        "description": "Interventions such as probiotics or fecal microbiota "
        "transplantation, each with a type from a fixed vocabulary (`/v1/therapy-types`).",
    },
    {
        "name": "claims",
        "description": "Atomic statements the content makes, each with its evidence (kind, "
        "strength, the words the source used) and the verbatim source excerpt it rests on.",
    },
    {
        "name": "quotes",
        "description": "Verbatim words of experts, with the claims they make and whether the "
        "expert speaks within their specialty.",
    },
    {
        "name": "experts",
        "description": "People quoted by the content: credentials, job title, affiliation and specialties.",
    },
    {
        "name": "topics",
        "description": "Sections of a source, one theme each, with the conditions and therapies they cover.",
    },
    {"name": "sources", "description": "The published pieces of content that topics, claims and quotes come from."},
    {
        "name": "search",
        "description": "Full-text search over topics, claims, quotes, experts and "
        "conditions, aware of synonyms and abbreviations.",
    },
    {"name": "feeds", "description": "JSON Feed and Atom feeds of topics, filtered like the lists."},
    {"name": "changes", "description": "The change log partners replay to keep an exact copy."},
    {
        "name": "webhooks",
        "description": "Push: each change POSTed to a partner's URL as it commits, signed as Standard Webhooks "
        "says, at least once and in order, with the change log's seq and cursor to resume from.",
    },
    {
        "name": "health records",
        "description": "The HL7 Infobutton knowledge resource electronic health records call with a problem's code.",
    },
    {"name": "pages", "description": "Topics as pages a person can read, for links typed `text/html`."},
    {"name": "revisions", "description": "Every saved version of a record, drafts included (editors)."},
    {"name": "editing", "description": "Creating, changing and deleting content; needs an editor key."},
    {"name": "operations", "description": "Liveness and readiness for orchestrators and load balancers."},
]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An error, as RFC 9457 problem details (`application/problem+json`).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Identifies the kind of problem."},
        "title": {"type": "string", "description": "Short, the same for every problem of this type."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong in this request."},
        "errors": {
            "type": "array",
            "description": "For validation errors: each bad field.",
            "items": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "Where the bad value is: `query`, `path`, `header` or `body`.",
                    },
                    "field": {
                        "type": ["string", "null"],
                        "description": "The parameter or field, dotted for nested ones; null when it is the "
                        "whole query or body.",
                    },
                    "key": {
                        "type": "string",
                        "description": "For a write that names related records: the key of the record refused.",
                    },
                    "message": {"type": "string", "description": "What is wrong with it."},
                },
                "required": ["message"],
            },
        },
    },
}
UNKNOWN_KEY = Unauthorized.openapi(
    "The `X-API-Key` sent is unknown or revoked (send none to read as the public).",
    "The X-API-Key is unknown or revoked.",
)
VALIDATION_FAILED = ValidationFailed.openapi(
    "A parameter or the body does not validate; `errors` names each bad field.",
    "The query field 'limit' is invalid: Input should be less than or equal to 100.",
    errors=[{"location": "query", "field": "limit", "message": "Input should be less than or equal to 100"}],
)

# The explorer loads nothing but its own files and talks to this API only; no inline script or style.
EXPLORER_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# The docs pages may fetch images, fonts and data from this server only: ReDoc's footer logo would
# otherwise come from the vendor's CDN. Scripts and styles stay unrestricted (both UIs inject styles).
DOCS_CSP = "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'self'; frame-ancestors 'none'"

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    response = get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url,
        title=request.app.title + " - Swagger UI",
        swagger_js_url=f"{root}{VENDOR_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{VENDOR_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{VENDOR_URL}/favicon.png",
        # No validator badge: it would ask a third-party host to fetch the document.
        swagger_ui_parameters={"validatorUrl": None, "displayRequestDuration": True},
    )
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    response = get_redoc_html(
        openapi_url=root + request.app.openapi_url,
        title=request.app.title + " - ReDoc",
        redoc_js_url=f"{root}{VENDOR_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{VENDOR_URL}/favicon.png",
        with_google_fonts=False,
    )
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@router.api_route("/", methods=["GET", "HEAD"])
@accepts_extra_query_parameters  # the page's own script reads its query (the selection), the server does not
def explorer() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": EXPLORER_CSP},
    )


def _is_problem(response: dict[str, Any]) -> bool:
    return PROBLEM_JSON in response.get("content", {})


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def _branches(schema: dict[str, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, components)
    found = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found.extend(_branches(sub, components))
    return found


def _nullable(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    types = [b.get("type") for b in _branches(schema, components)]
    return any(t == "null" or (isinstance(t, list) and "null" in t) for t in types)


def _restore_nulls(value: Any, schema: dict[str, Any], components: dict[str, Any]) -> None:
    """FastAPI drops every None from the document, examples included; put back the nulls of required
    nullable fields (the only way such a field can be missing), so each example matches its schema."""
    for branch in _branches(schema, components):
        if isinstance(value, dict) and "properties" in branch:
            for name in branch.get("required", []):
                if name not in value and _nullable(branch["properties"].get(name, {}), components):
                    value[name] = None
            for name, item in value.items():
                if name in branch["properties"]:
                    _restore_nulls(item, branch["properties"][name], components)
        elif isinstance(value, list) and "items" in branch:
            for item in value:
                _restore_nulls(item, branch["items"], components)


def refine(schema: dict[str, Any], traits: dict[str, contract.Traits] | None = None) -> dict[str, Any]:
    """Document the errors the middleware and the validation handler answer with on any operation, as the
    problem+json they really are, and publish only the tags that group some operation."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = copy.deepcopy(PROBLEM_SCHEMA)
    used: set[str] = set()
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            used.update(operation.get("tags", []))
            responses = operation["responses"]
            generated_422 = "application/json" in responses.get("422", {}).get(
                "content", {}
            ) and "HTTPValidationError" in str(responses["422"]["content"]["application/json"].get("schema"))
            if generated_422:
                responses["422"] = copy.deepcopy(VALIDATION_FAILED)
            responses.setdefault("401", copy.deepcopy(UNKNOWN_KEY))
            for code, response in responses.items():
                if code.startswith("4") and _is_problem(response):
                    response["content"][PROBLEM_JSON].setdefault("schema", PROBLEM_REF)
                for media in response.get("content", {}).values():
                    examples = (
                        [media["example"]]
                        if "example" in media
                        else [e["value"] for e in media.get("examples", {}).values() if "value" in e]
                    )
                    for example in examples:
                        _restore_nulls(example, media.get("schema", {}), components)
            operation["responses"] = dict(sorted(responses.items()))
    if "HTTPValidationError" not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    schema["tags"] = [tag for tag in schema.get("tags", []) if tag["name"] in used]
    if traits is not None:
        contract.apply(schema, traits)
    return schema


def install(app: FastAPI) -> None:
    """Serve the docs, the explorer and their assets, and refine the OpenAPI document."""
    app.include_router(router)
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR_DIR), name="docs-assets")
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = refine(FastAPI.openapi(app), contract.route_traits(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
