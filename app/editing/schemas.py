"""Request bodies of the editors' API, written out per resource beside the write shapes they follow.

A create body (`XCreate`) is the resource's write shape (`XIn`), plus `slug` where the client names the
record, starting as a draft. A patch body (`XPatch`) is the same fields, every one optional: left out means
"keep", and `null` is accepted only where the write shape takes it (it then clears the field). Server-owned
fields are in neither: sending one is a 422. `tests/test_editing_bodies.py` holds each body to its write
shape, so a field added there and not here (or typed differently) fails."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.content.annotations import Cautions, ProvenanceMap, ReadingGrade
from app.content.schemas import (
    Author,
    ClaimIn,
    Code,  # noqa: F401  # `Codes` names it: the patch bodies resolve it here
    Codes,
    ConditionIn,
    Domains,
    Evidence,
    ExpertIn,
    IsoDate,
    Language,
    Links,
    LongText,
    Names,
    Position,
    QuoteIn,
    Sha256,
    ShortText,
    Slug,
    SourceIn,
    TherapyIn,
    Timestamp,
    TopicIn,
    Url,
)
from app.content.vocab import Status, TherapyType


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


# ---- create bodies: the write shape, a draft by default ------------------------------------------------

DRAFT = "`draft` (the default), `published` or `retracted`."
SLUG = "The permanent key: lower-case words joined by hyphens."


class ConditionCreate(ConditionIn):
    """A new condition. Its key is permanent: the `slug` given here."""

    status: Status = Field(Status.draft, description=DRAFT)
    slug: Slug = Field(description=SLUG)


class TherapyCreate(TherapyIn):
    """A new therapy. Its key is permanent: the `slug` given here."""

    status: Status = Field(Status.draft, description=DRAFT)
    slug: Slug = Field(description=SLUG)


class ExpertCreate(ExpertIn):
    """A new expert. Its key is permanent: the `slug` given here."""

    status: Status = Field(Status.draft, description=DRAFT)
    slug: Slug = Field(description=SLUG)


class SourceCreate(SourceIn):
    """A new source. Its key is permanent: the `slug` given here."""

    status: Status = Field(Status.draft, description=DRAFT)
    slug: Slug = Field(description=SLUG)


class TopicCreate(TopicIn):
    """A new topic. Its key is permanent: the `slug` given here."""

    status: Status = Field(Status.draft, description=DRAFT)
    slug: Slug = Field(description=SLUG)


class ClaimCreate(ClaimIn):
    """A new claim. Its key is permanent: an `id` the server makes."""

    status: Status = Field(Status.draft, description=DRAFT)


class QuoteCreate(QuoteIn):
    """A new quote. Its key is permanent: an `id` the server makes."""

    status: Status = Field(Status.draft, description=DRAFT)


# ---- patch bodies: the write shape's fields, each optional -----------------------------------------------


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def keep() -> Any:
    """A patch field: optional but not nullable unless its type says so; left out, the value is kept. The
    document shows no default, since none is applied."""
    return Field(None, json_schema_extra=_no_default)


class Patch(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkflowPatch(Patch):
    status: Status = keep()
    retraction_reason: ShortText | None = keep()


class ReviewedPatch(Patch):
    last_reviewed_at: IsoDate | None = keep()
    next_review_due: IsoDate | None = keep()
    reviewed_by: ShortText | None = keep()


class ConditionPatch(WorkflowPatch):
    """The fields of the condition to change; those left out keep their value."""

    name: ShortText = keep()
    parent: Slug | None = keep()
    synonyms: Names = keep()
    description: LongText | None = keep()
    codes: Codes = keep()
    provenance: ProvenanceMap = keep()
    cautions: Cautions = keep()


class TherapyPatch(WorkflowPatch):
    """The fields of the therapy to change; those left out keep their value."""

    name: ShortText = keep()
    type: TherapyType = keep()
    synonyms: Names = keep()
    description: LongText | None = keep()
    codes: Codes = keep()
    provenance: ProvenanceMap = keep()
    cautions: Cautions = keep()


class ExpertPatch(WorkflowPatch):
    """The fields of the expert to change; those left out keep their value."""

    name: ShortText = keep()
    honorific: ShortText | None = keep()
    credentials: Names = keep()
    job_title: ShortText | None = keep()
    affiliation: ShortText | None = keep()
    location: ShortText | None = keep()
    described_as: ShortText | None = keep()
    specialties: Domains = keep()
    provenance: ProvenanceMap = keep()


class SourcePatch(WorkflowPatch, ReviewedPatch):
    """The fields of the source to change; those left out keep their value."""

    title: ShortText = keep()
    title_note: ShortText | None = keep()
    author: Author | None = keep()
    publisher: ShortText | None = keep()
    url: Url | None = keep()
    language: Language = keep()
    translation_of: Slug | None = keep()
    license: ShortText | None = keep()
    published_at: IsoDate | None = keep()
    text_sha256: Sha256 | None = keep()
    provenance: ProvenanceMap = keep()


class TopicPatch(WorkflowPatch, ReviewedPatch):
    """The fields of the topic to change; those left out keep their value."""

    source: Slug = keep()
    title: ShortText = keep()
    summary: LongText = keep()
    body: LongText = keep()
    position: Position = keep()
    language: Language = keep()
    translation_of: Slug | None = keep()
    domains: Domains = keep()
    conditions: Links = keep()
    therapies: Links = keep()
    provenance: ProvenanceMap = keep()
    reading_grade: ReadingGrade | None = keep()


class ClaimPatch(WorkflowPatch):
    """The fields of the claim to change; those left out keep their value."""

    topic: Slug = keep()
    text: LongText = keep()
    source_excerpt: LongText = keep()
    conditions: Links = keep()
    therapies: Links = keep()
    expert: Slug | None = keep()
    evidence: Evidence = keep()
    provenance: ProvenanceMap = keep()
    cautions: Cautions = keep()
    reading_grade: ReadingGrade | None = keep()


class QuotePatch(WorkflowPatch):
    """The fields of the quote to change; those left out keep their value."""

    expert: Slug = keep()
    topic: Slug = keep()
    text: LongText = keep()
    claims: Links = keep()


CREATE_SCHEMAS: dict[str, type[BaseModel]] = {
    "condition": ConditionCreate,
    "therapy": TherapyCreate,
    "expert": ExpertCreate,
    "source": SourceCreate,
    "topic": TopicCreate,
    "claim": ClaimCreate,
    "quote": QuoteCreate,
}
PATCH_SCHEMAS: dict[str, type[BaseModel]] = {
    "condition": ConditionPatch,
    "therapy": TherapyPatch,
    "expert": ExpertPatch,
    "source": SourcePatch,
    "topic": TopicPatch,
    "claim": ClaimPatch,
    "quote": QuotePatch,
}
