"""Request bodies of the editors' API, made from each resource's write shape so a field added there is
writable here too. A create body is the write shape (plus `slug` where the client names the record); a
patch body is the same fields, all optional. Server-owned fields are in neither: sending one is a 422."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.content.resources import RESOURCES, ResourceSpec
from app.content.schemas import Slug, Timestamp
from app.content.vocab import Status


class RevisionOut(BaseModel):
    revision: int = Field(description="The record's revision number after this change (1 = created).")
    op: str = Field(description="`created`, `updated` or `deleted`.")
    at: Timestamp = Field(description="When, RFC 3339 (UTC).")
    actor: str = Field(description="The name of the key that made the change (or of the import).")
    data: dict[str, Any] = Field(
        description="The record's content after the change, in the write shape: a `PATCH` with it restores "
        "this revision (for a `deleted` revision: the content it had when deleted)."
    )


class RevisionPage(BaseModel):
    items: list[RevisionOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null at the end.")


def _name(spec: ResourceSpec) -> str:
    return spec.write_schema.__name__.removesuffix("In")


def create_schema(spec: ResourceSpec) -> type[BaseModel]:
    """The POST body: the write shape, plus the `slug` for resources whose key the client chooses. New
    records start as drafts unless the body says otherwise (an import, by contrast, publishes)."""
    fields: dict[str, Any] = {
        "status": (
            Status,
            Field(Status.draft, description="`draft` (the default), `published` or `retracted`."),
        ),
    }
    if spec.key_field == "slug":
        fields["slug"] = (Slug, Field(description="The permanent key: lower-case words joined by hyphens."))
    return create_model(
        f"{_name(spec)}Create",
        __base__=spec.write_schema,
        __doc__=f"A new {spec.name}. Its key is permanent: "
        + ("the `slug` given here." if spec.key_field == "slug" else "an `id` the server makes."),
        **fields,
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def patch_schema(spec: ResourceSpec) -> type[BaseModel]:
    """The PATCH body: every write field optional; only the fields sent change (a nested object such as
    `evidence` or `author`, and a list such as `conditions`, is replaced whole)."""
    fields: dict[str, Any] = {}
    for name, info in spec.write_schema.model_fields.items():
        # Optional but not nullable: left out means "keep". `null` is accepted only where the write shape
        # takes it (it then clears the field); the document shows no default, since none is applied.
        fields[name] = (
            info.rebuild_annotation(),
            Field(None, description=info.description, json_schema_extra=_no_default),
        )
    return create_model(
        f"{_name(spec)}Patch",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"The fields of the {spec.name} to change; those left out keep their value.",
        **fields,
    )


CREATE_SCHEMAS = {name: create_schema(spec) for name, spec in RESOURCES.items()}
PATCH_SCHEMAS = {name: patch_schema(spec) for name, spec in RESOURCES.items()}
