"""The editors' request bodies are written classes (`ClaimCreate`, `ClaimPatch`, ...): each is held to its
resource's write shape here, so a field added to the write shape and not to the bodies, or typed
differently, fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.content.resources import RESOURCES
from app.content.vocab import Status
from app.editing import examples
from app.editing.schemas import CREATE_SCHEMAS, PATCH_SCHEMAS

NAMES = sorted(RESOURCES)


def test_every_resource_has_its_bodies():
    assert sorted(CREATE_SCHEMAS) == NAMES
    assert sorted(PATCH_SCHEMAS) == NAMES
    for name in NAMES:
        stem = RESOURCES[name].write_schema.__name__.removesuffix("In")
        assert CREATE_SCHEMAS[name].__name__ == f"{stem}Create"
        assert PATCH_SCHEMAS[name].__name__ == f"{stem}Patch"


@pytest.mark.parametrize("name", NAMES)
def test_the_create_body_is_the_write_shape_and_a_draft(name):
    spec, body = RESOURCES[name], CREATE_SCHEMAS[name]
    assert issubclass(body, spec.write_schema)
    extra = set(body.model_fields) - set(spec.write_schema.model_fields)
    assert extra == ({"slug"} if spec.key_field == "slug" else set())
    assert body.model_fields["status"].default == Status.draft
    assert body.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", NAMES)
def test_the_patch_body_has_the_write_fields_in_order_and_types(name):
    write, patch = RESOURCES[name].write_schema.model_fields, PATCH_SCHEMAS[name].model_fields
    assert list(patch) == list(write)
    for field, info in write.items():
        assert patch[field].rebuild_annotation() == info.rebuild_annotation(), field
        assert patch[field].is_required() is False
        assert patch[field].default is None
    assert PATCH_SCHEMAS[name].model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_a_patch_keeps_exactly_the_fields_sent(name, data):
    """Any subset of a valid create body (the key aside) is a valid patch that changes only those fields."""
    valid = {k: v for k, v in examples.CREATE[name].items() if k != "slug"}
    sent = data.draw(st.sets(st.sampled_from(sorted(valid))))
    body = PATCH_SCHEMAS[name].model_validate({k: valid[k] for k in sent})
    assert body.model_dump(mode="json", exclude_unset=True) == {k: valid[k] for k in sent}


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_a_patch_refuses_null_where_the_write_shape_does(name, data):
    write = RESOURCES[name].write_schema.model_fields
    field = data.draw(st.sampled_from(sorted(write)))
    nullable = not write[field].is_required() and write[field].default is None
    try:
        PATCH_SCHEMAS[name].model_validate({field: None})
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is nullable


@pytest.mark.parametrize("name", NAMES)
def test_unknown_and_server_owned_fields_are_refused(name):
    for field in ("revision", "created_at", "not_a_field"):
        with pytest.raises(ValidationError):
            PATCH_SCHEMAS[name].model_validate({field: 1})
