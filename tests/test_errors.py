"""One error family: every problem the API answers with, or documents, comes from a class in
`app.core.errors` that carries its status, title and stable `type` slug."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import errors
from app.core.config import PROJECT_ROOT
from app.core.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE, ApiError
from app.main import openapi_json


def family() -> list[type[ApiError]]:
    found, pending = [], [ApiError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


MEMBERS = [cls for cls in family() if cls.__module__ == errors.__name__]
BY_SLUG: dict[str, set[tuple[int, str]]] = {}
for _cls in MEMBERS:
    BY_SLUG.setdefault(_cls.slug, set()).add((_cls.status, _cls.title))


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda cls: cls.__name__)
def test_each_member_declares_its_own_slug_status_and_title(cls):
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.slug)
    assert 400 <= cls.status < 600
    assert cls.title
    # declared on the class itself, not inherited by accident (ContentError's family shares the base's status)
    assert "slug" in vars(cls) and "title" in vars(cls)


@given(title=st.text(min_size=1, max_size=40))
def test_rewording_a_title_keeps_the_type(title):
    reworded = type("Reworded", (errors.InUse,), {"title": title})
    document = reworded.document("detail")
    assert document["type"] == PROBLEM_TYPE_BASE + "still-in-use"
    assert document["title"] == title
    assert document["status"] == 409


@given(detail=st.text(max_size=80), field=st.none() | st.text(max_size=20))
def test_a_raised_error_answers_with_its_document(detail, field):
    problems = [{"location": "body", "field": field, "message": "bad"}]
    response = errors.ValidationFailed(detail, errors=problems, headers={"X-Test": "1"}).response()
    assert response.status_code == 422
    assert response.media_type == PROBLEM_JSON
    assert response.headers["X-Test"] == "1"
    assert json.loads(response.body) == {
        "type": PROBLEM_TYPE_BASE + "validation-failed",
        "title": "Validation failed",
        "status": 422,
        "detail": detail,
        "errors": problems,
    }


def test_an_unknown_framework_status_keeps_its_own_status():
    response = errors.HttpError(418, "teapot").response()
    assert response.status_code == 418
    assert json.loads(response.body)["status"] == 418


def documented_problems():
    spec = json.loads(openapi_json())
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for code, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get(PROBLEM_JSON)
                if media and "example" in media:
                    yield f"{method} {path} {code}", code, media
    for name, response in spec["components"].get("responses", {}).items():  # answers many operations share
        media = response.get("content", {}).get(PROBLEM_JSON)
        if media and "example" in media:
            yield f"components/responses/{name}", str(media["example"]["status"]), media


DOCUMENTED = list(documented_problems())


def test_operations_document_problems():
    assert len(DOCUMENTED) > 50


@pytest.mark.parametrize(("where", "code", "media"), DOCUMENTED, ids=[d[0] for d in DOCUMENTED])
def test_every_documented_problem_is_a_member_of_the_family(where, code, media):
    example = media["example"]
    slug = example["type"].removeprefix(PROBLEM_TYPE_BASE)
    assert (example["status"], example["title"]) in BY_SLUG.get(slug, set()), where
    assert str(example["status"]) == code
    assert media["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_no_module_writes_a_problem_type_by_hand():
    """Problem type URIs are made in one place, from the classes' slugs."""
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "app").rglob("*.py")
        if path.name != "errors.py" and ("/problems/" in path.read_text() or "PROBLEM_TYPE_BASE" in path.read_text())
    ]
    assert offenders == []
