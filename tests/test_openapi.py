"""The OpenAPI document is a contract people read: every operation says what it does, shows an example
answer that really matches its schema, and documents its errors as problem+json. The exported
docs/openapi.json must equal what the app serves, so every change to the contract is a visible diff."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from app.core.config import PROJECT_ROOT
from app.core.errors import PROBLEM_JSON
from app.main import openapi_json

SNAPSHOT = PROJECT_ROOT / "docs" / "openapi.json"
REGENERATE = "python -m app openapi -o docs/openapi.json"
SPEC = json.loads(openapi_json())
OPERATIONS = [
    pytest.param(path, method, operation, id=operation.get("operationId", f"{method} {path}"))
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in ("get", "put", "post", "patch", "delete", "head", "options")
]


def validator(schema: dict) -> Draft202012Validator:
    """Validate against a schema whose $refs point into this document's components."""
    return Draft202012Validator({**schema, "components": SPEC.get("components", {})})


def resolved(response: dict) -> dict:
    """A response, or the shared one in components/responses it refers to."""
    while "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def examples_of(media: dict) -> list:
    if "example" in media:
        return [media["example"]]
    return [example["value"] for example in media.get("examples", {}).values() if "value" in example]


def test_there_are_operations_to_check():
    assert len(OPERATIONS) >= 15


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_the_operation_says_what_it_does(path, method, operation):
    assert operation.get("summary", "").strip(), f"{method.upper()} {path} has no summary"
    assert len(operation.get("description", "").strip()) >= 30, f"{method.upper()} {path}: describe it"
    assert operation.get("tags"), f"{method.upper()} {path} has no tag"
    described = {tag["name"] for tag in SPEC.get("tags", []) if tag.get("description")}
    missing = set(operation["tags"]) - described
    assert not missing, f"tags {missing} need a description in OPENAPI_TAGS (app/api/docs.py)"


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_the_summary_is_written_not_generated(path, method, operation):
    # Without summary=..., FastAPI titles the function name ("List Conditions"): a sign nobody wrote one.
    generated = operation["operationId"].replace("_", " ").title()
    assert operation["summary"] != generated, f"{method.upper()} {path}: give the route a summary="


def test_operation_ids_are_clean_and_unique():
    ids = [operation["operationId"] for _, _, operation in (p.values for p in OPERATIONS)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", operation_id), operation_id


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_the_success_response_has_an_example_that_matches_its_schema(path, method, operation):
    successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
    assert successes, f"{method.upper()} {path} documents no success response"
    for code, response in successes.items():
        if code == "204":
            continue
        content = response.get("content", {})
        assert content, f"{method.upper()} {path} {code} documents no body"
        shown = False
        for media_type, media in content.items():
            examples = examples_of(media)
            shown = shown or bool(examples)
            if "json" in media_type and "schema" in media:
                for example in examples:
                    errors = sorted(validator(media["schema"]).iter_errors(example), key=str)
                    assert not errors, (
                        f"{method.upper()} {path} {code} example: {errors[0].message} at "
                        f"{list(errors[0].absolute_path)}"
                    )
        assert shown, f"{method.upper()} {path} {code} has no example response"


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_errors_are_documented_as_problem_json(path, method, operation):
    errors = {code: resolved(r) for code, r in operation["responses"].items() if code.startswith("4")}
    assert errors, f"{method.upper()} {path} documents no client error"
    for code, response in errors.items():
        media = response.get("content", {}).get(PROBLEM_JSON)
        assert media, f"{method.upper()} {path} {code} is not documented as {PROBLEM_JSON}"
        assert response.get("description"), f"{method.upper()} {path} {code} needs a description"
        examples = examples_of(media)
        assert examples, f"{method.upper()} {path} {code} has no example problem"
        for example in examples:
            where = f"{method.upper()} {path} {code}"
            assert example["status"] == int(code), f"{where}: the example has another status"
            assert not list(validator(media["schema"]).iter_errors(example)), where


def test_every_operation_documents_the_unknown_key_answer():
    for path, method, operation in (p.values for p in OPERATIONS):
        assert "401" in operation["responses"], f"{method.upper()} {path}"


def test_no_framework_default_error_shape_is_left():
    text = json.dumps(SPEC)
    assert "HTTPValidationError" not in text, "a 422 still shows FastAPI's default body, not problem+json"


def test_the_exported_document_is_the_served_one(client):
    served = client.get("/openapi.json").json()
    assert SNAPSHOT.exists(), f"docs/openapi.json is missing: run `{REGENERATE}`"
    exported = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if exported != served:
        old, new = set(exported.get("paths", {})), set(served.get("paths", {}))
        changed = sorted(p for p in old & new if exported["paths"][p] != served["paths"][p])
        sections = (set(exported) | set(served)) - {"paths"}
        other = sorted(k for k in sections if exported.get(k) != served.get(k))
        pytest.fail(
            f"docs/openapi.json differs from the app's OpenAPI document. Review the change, then run "
            f"`{REGENERATE}` and commit it. Added paths: {sorted(new - old)}; removed: {sorted(old - new)}; "
            f"changed: {changed}; other sections differ: {other}"
        )


def test_the_cli_prints_the_same_document():
    from typer.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(cli, ["openapi"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == SPEC


def is_editor_only(path: str, method: str) -> bool:
    """Needs a key: an editor's for writes and histories, either scope's for webhooks."""
    read_post = (method, path) == ("post", "/v1/infobutton")  # the Infobutton request as a form: a read
    keyed = path.endswith("/revisions") or path.startswith("/v1/webhooks") or path == "/metrics"  # metrics: ops keys
    return (method != "get" and not read_post) or keyed


def test_the_key_is_a_security_scheme_required_by_writes_and_optional_for_reads():
    scheme = SPEC["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    for path, method, operation in (p.values for p in OPERATIONS):
        expected = [{"ApiKey": []}] if is_editor_only(path, method) else [{}, {"ApiKey": []}]
        assert operation.get("security") == expected, f"{method.upper()} {path}"


def test_every_operation_documents_what_the_middleware_can_answer():
    for path, method, operation in (p.values for p in OPERATIONS):
        codes = set(operation["responses"])
        where = f"{method.upper()} {path}"
        assert {"401", "414", "422"} <= codes, where
        # 429: past the rate limit, the address's share of the worker, or after too many bad keys: anywhere.
        assert {"429", "431"} <= codes, where
        assert ("408" in codes) == (method in ("post", "put", "patch")), where  # a body too slow to arrive
        assert ("503" in codes) == (path not in ("/healthz", "/metrics")), where
        conditional = method == "get" and path.startswith(("/v1/", "/topics/")) and not path.startswith("/v1/webhooks")
        assert ("304" in codes) == conditional, where  # a key's own webhooks are never kept or revalidated
        if path != "/readyz":  # whose 503 is its own report (saturated, database, schema), never the middleware's
            assert PROBLEM_JSON in resolved(operation["responses"].get("503", {})).get("content", {PROBLEM_JSON: 1})
        limited = resolved(operation["responses"].get("429", {"headers": {"Retry-After": 1}}))
        assert "Retry-After" in limited["headers"], where


def test_schema_names_are_clean():
    for name in SPEC["components"]["schemas"]:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), f"schema name {name!r} would make a poor class name"


def properties(schema: dict):
    for name, value in schema.get("properties", {}).items():
        yield name, value
        yield from properties(value)
    for key in ("items", "anyOf", "oneOf", "allOf"):
        inner = schema.get(key)
        for sub in inner if isinstance(inner, list) else [inner] if isinstance(inner, dict) else []:
            yield from properties(sub)


def test_every_timestamp_is_a_date_time():
    timestamps = {"created_at", "updated_at", "at", "date_published", "date_modified"}
    found = 0
    for schema in SPEC["components"]["schemas"].values():
        for name, value in properties(schema):
            if name in timestamps:
                found += 1
                assert value.get("format") == "date-time", name
    assert found >= 6


def nullable(schema: dict) -> bool:
    return schema.get("type") == "null" or any(s.get("type") == "null" for s in schema.get("anyOf", []))


def test_patch_fields_are_nullable_only_where_null_means_something():
    schemas = SPEC["components"]["schemas"]
    patches = [name for name in schemas if name.endswith("Patch")]
    assert len(patches) == 7
    for name in patches:
        create = schemas[name.removesuffix("Patch") + "Create"]["properties"]
        for field, value in schemas[name]["properties"].items():
            assert "default" not in value, f"{name}.{field} documents a default no patch applies"
            assert nullable(value) == nullable(create[field]), f"{name}.{field}"


def test_free_text_parameters_refuse_what_the_server_refuses():
    checked = 0
    for path, method, operation in (p.values for p in OPERATIONS):
        for parameter in operation.get("parameters", []):
            if parameter["in"] not in ("query", "path"):
                continue
            schema = parameter["schema"]
            strings = [
                s for s in [schema, schema.get("items", {})] + schema.get("anyOf", []) if s.get("type") == "string"
            ]
            strings += [s["items"] for s in schema.get("anyOf", []) if s.get("items", {}).get("type") == "string"]
            for string in strings:
                if "enum" in string:
                    continue
                checked += 1
                assert "pattern" in string, f"{method.upper()} {path} {parameter['name']}"
                assert not re.search(string["pattern"], "a\x00b"), f"{method.upper()} {path} {parameter['name']}"
    assert checked > 50


# Operations whose parameters are each optional but not all at once (a code or a text, for the Infobutton).
QUERY_NEEDED = {
    "/v1/infobutton": {"mainSearchCriteria.v.cs": "2.16.840.1.113883.6.90", "mainSearchCriteria.v.c": "M06.9"}
}


def test_documented_not_modified_answers_happen(client):
    """Every list-like GET that documents 304 answers it to its own ETag."""
    for path, method, operation in (p.values for p in OPERATIONS):
        required = [p for p in operation.get("parameters", []) if p.get("required")]
        if "304" not in operation["responses"] or required or is_editor_only(path, method):
            continue
        params = QUERY_NEEDED.get(path)
        first = client.get(path, params=params)
        assert first.status_code == 200, path
        again = client.get(path, params=params, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, path


WATCHED = {"etag", "last-modified", "link", "location", "retry-after", "www-authenticate"} | {
    f"ratelimit-{part}" for part in ("limit", "remaining", "reset", "policy")
}


def documented_headers(path: str, method: str, status: int) -> set[str]:
    response = resolved(SPEC["paths"][path][method]["responses"][str(status)])
    return {name.lower() for name in response.get("headers", {})}


def test_the_headers_an_answer_carries_are_documented(seeded_db):
    """Real answers of each kind of operation: every header of the watched set they carry is in the
    document for that operation and status."""
    from app.auth.keys import Scope, create_key
    from tests.conftest import client_for

    with seeded_db.write() as conn:
        key = create_key(conn, scope=Scope.editor, name="headers")
    editor = {"X-API-Key": key}
    calls = [
        ("/v1/claims", "get", "/v1/claims?limit=2", {}, None),
        ("/v1/claims/{id}", "get", "/v1/claims/gut-microbiome-influences-health-beyond-digestion", {}, None),
        ("/v1/feed.json", "get", "/v1/feed.json?limit=1", {}, None),
        ("/v1/feed.atom", "get", "/v1/feed.atom?limit=1", {}, None),
        ("/v1/changes", "get", "/v1/changes?limit=1", {}, None),
        ("/v1/export", "get", "/v1/export", {}, None),
        ("/v1/search", "get", "/v1/search?q=microbiome&limit=1", {}, None),
        ("/v1/topics/{slug}/revisions", "get", "/v1/topics/introduction/revisions?limit=1", editor, None),
        ("/v1/conditions", "post", "/v1/conditions", editor, {"slug": "header-check", "name": "Header check"}),
        ("/v1/conditions/{slug}", "patch", "/v1/conditions/header-check", editor, {"name": "Checked"}),
        ("/v1/conditions", "get", "/v1/conditions", {"X-API-Key": "hck_unknown_0000"}, None),
        ("/healthz", "get", "/healthz", {}, None),
    ]
    seen: set[str] = set()
    with client_for(seeded_db, rate_limit_anonymous="20/minute") as client:
        for path, method, url, headers, body in calls:
            answer = client.request(method.upper(), url, headers=headers, json=body)
            carried = {name.lower() for name in answer.headers} & WATCHED
            seen |= carried
            missing = carried - documented_headers(path, method, answer.status_code)
            assert not missing, f"{method.upper()} {url} {answer.status_code} carries undocumented {missing}"
        for _ in range(20):  # past the anonymous limit: a 429 with its headers
            limited = client.get("/v1/topics")
        assert limited.status_code == 429
        carried = {name.lower() for name in limited.headers} & WATCHED
        assert carried - documented_headers("/v1/topics", "get", 429) == set()
        seen |= carried
    assert seen == WATCHED, f"no call above showed {WATCHED - seen}"
