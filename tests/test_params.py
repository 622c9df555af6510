"""The content lists' filter dependencies are written functions, one per resource: each is held to its
registry entry here (the filters it names, in order), and what it hands the queries is checked."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.content.params import FILTER_DEPENDENCIES
from app.content.resources import RESOURCES
from app.content.vocab import TherapyType

NAMES = sorted(RESOURCES)


def expected_parameters(name: str) -> list[str]:
    spec = RESOURCES[name]
    review = ["review"] if "next_review_due" in spec.columns else []
    grade = ["max_grade"] if "reading_grade" in spec.nested else []  # topics and claims: measured on write
    return review + grade + list(spec.filters)


def test_every_resource_has_its_filters():
    assert sorted(FILTER_DEPENDENCIES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_dependency_takes_exactly_the_registry_filters(name):
    parameters = inspect.signature(FILTER_DEPENDENCIES[name]).parameters
    assert list(parameters) == expected_parameters(name)
    assert all(p.default is None for p in parameters.values())


@pytest.mark.parametrize("name", NAMES)
def test_the_openapi_document_lists_the_same_filters(client, name):
    spec = RESOURCES[name]
    operation = client.get("/openapi.json").json()["paths"][f"/v1/{spec.plural}"]["get"]
    documented = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    filters = [p for p in documented if p not in ("status", "limit", "cursor")]
    assert filters == expected_parameters(name)


values = st.lists(st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=12), max_size=3)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_the_filters_handed_on_are_the_values_given(name, data):
    given_values = {}
    for parameter in expected_parameters(name):
        if parameter == "review":
            given_values[parameter] = data.draw(st.sampled_from([None, "overdue"]))
        elif parameter == "max_grade":
            given_values[parameter] = data.draw(st.none() | st.floats(min_value=0, max_value=30))
        elif parameter == "therapy_type":
            given_values[parameter] = data.draw(st.none() | st.lists(st.sampled_from(list(TherapyType)), max_size=3))
        else:
            given_values[parameter] = data.draw(st.none() | values)
    filters = asyncio.run(FILTER_DEPENDENCIES[name](**given_values))
    review = given_values.pop("review", None)
    assert filters.review == review
    assert filters.max_grade == given_values.pop("max_grade", None)
    assert filters.given() == {k: [str(getattr(x, "value", x)) for x in v] for k, v in given_values.items() if v}
    assert filters.salt() == (datetime.now(UTC).date().isoformat() if review else "")


def test_an_overdue_list_kept_on_another_day_is_built_again(client):
    """An `overdue` list changes at midnight: the kept response names the day it was made, and one of another day
    is not served (the list is built again and kept under today)."""
    first = client.get("/v1/topics", params={"review": "overdue"})
    assert first.status_code == 200
    cache = client.app.state.response_cache
    kept = [k for k in cache._entries.values() if k.salt]
    assert [k.salt for k in kept] == [datetime.now(UTC).date().isoformat()]
    kept[0].salt = "2000-01-01"
    kept[0].body = b'{"items": "stale"}'
    again = client.get("/v1/topics", params={"review": "overdue"})
    assert again.json() == first.json()
    assert [k.salt for k in cache._entries.values() if k.salt] == [datetime.now(UTC).date().isoformat()]
