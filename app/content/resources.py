"""The registry of content resources: how each maps between its document (the write shape, relations by
key) and its table, link tables and codes. The write path, the read queries and the routers are all
driven by it, so adding a field is one line here and one in the schemas."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table

from app.content import schemas
from app.models import (
    Claim,
    ClaimCondition,
    ClaimTherapy,
    Condition,
    ConditionCode,
    Expert,
    Quote,
    QuoteClaim,
    Source,
    Therapy,
    TherapyCode,
    Topic,
    TopicCondition,
    TopicTherapy,
    table_of,
)

META_FIELDS = ("status", "retraction_reason", "created_at", "updated_at", "revision")
REVIEW_FIELDS = ("last_reviewed_at", "next_review_due", "reviewed_by")


@dataclass(frozen=True)
class RefField:
    """A to-one relation: the document holds the target's key, the row its pk."""

    target: str
    column: str


@dataclass(frozen=True)
class LinkField:
    """A to-many relation kept in a link table owned by this record."""

    table: Table
    own: str
    other: str
    target: str


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    plural: str
    key_field: str
    table: Table
    write_schema: type[schemas.Workflow]
    out_schema: type[schemas.Meta]
    columns: tuple[str, ...]
    label: str
    nested: dict[str, dict[str, str]] = field(default_factory=dict)
    refs: dict[str, RefField] = field(default_factory=dict)
    links: dict[str, LinkField] = field(default_factory=dict)
    codes: tuple[Table, str] | None = None
    filters: tuple[str, ...] = ()
    description: str = ""


RESOURCES: dict[str, ResourceSpec] = {
    spec.name: spec
    for spec in [
        ResourceSpec(
            name="condition",
            plural="conditions",
            key_field="slug",
            table=table_of(Condition),
            write_schema=schemas.ConditionIn,
            out_schema=schemas.ConditionOut,
            columns=("name", "synonyms", "description"),
            label="name",
            refs={"parent": RefField("condition", "parent_pk")},
            codes=(table_of(ConditionCode), "condition_pk"),
            filters=("therapy", "therapy_type"),
            description="Diseases and states, as a hierarchy, with synonyms and ICD-10-CM, MeSH and SNOMED CT codes.",
        ),
        ResourceSpec(
            name="therapy",
            plural="therapies",
            key_field="slug",
            table=table_of(Therapy),
            write_schema=schemas.TherapyIn,
            out_schema=schemas.TherapyOut,
            columns=("name", "type", "synonyms", "description"),
            label="name",
            codes=(table_of(TherapyCode), "therapy_pk"),
            filters=("condition", "therapy_type"),
            description="Interventions, each with a type from a fixed vocabulary.",
        ),
        ResourceSpec(
            name="expert",
            plural="experts",
            key_field="slug",
            table=table_of(Expert),
            write_schema=schemas.ExpertIn,
            out_schema=schemas.ExpertOut,
            columns=(
                "name",
                "honorific",
                "credentials",
                "job_title",
                "affiliation",
                "location",
                "described_as",
                "specialties",
            ),
            label="name",
            filters=("condition", "therapy", "therapy_type", "topic", "source"),
            description="People quoted by the content, with their credentials and specialties.",
        ),
        ResourceSpec(
            name="source",
            plural="sources",
            key_field="slug",
            table=table_of(Source),
            write_schema=schemas.SourceIn,
            out_schema=schemas.SourceOut,
            columns=(
                "title",
                "title_note",
                "publisher",
                "url",
                "language",
                "license",
                "published_at",
                "text_sha256",
                *REVIEW_FIELDS,
            ),
            label="title",
            nested={"author": {"name": "author_name", "role": "author_role"}},
            refs={"translation_of": RefField("source", "translation_of_pk")},
            filters=("lang",),
            description="Published pieces of content: articles and pages the topics come from.",
        ),
        ResourceSpec(
            name="topic",
            plural="topics",
            key_field="slug",
            table=table_of(Topic),
            write_schema=schemas.TopicIn,
            out_schema=schemas.TopicOut,
            columns=("title", "summary", "body", "position", "language", "domains", *REVIEW_FIELDS),
            label="title",
            refs={
                "source": RefField("source", "source_pk"),
                "translation_of": RefField("topic", "translation_of_pk"),
            },
            links={
                "conditions": LinkField(table_of(TopicCondition), "topic_pk", "condition_pk", "condition"),
                "therapies": LinkField(table_of(TopicTherapy), "topic_pk", "therapy_pk", "therapy"),
            },
            filters=("condition", "therapy", "therapy_type", "source", "lang"),
            description="Sections of a source: one theme each, with the conditions and therapies it covers.",
        ),
        ResourceSpec(
            name="claim",
            plural="claims",
            key_field="id",
            table=table_of(Claim),
            write_schema=schemas.ClaimIn,
            out_schema=schemas.ClaimOut,
            columns=("text", "source_excerpt"),
            label="text",
            nested={
                "evidence": {
                    "kind": "evidence_kind",
                    "stated_as": "evidence_stated_as",
                    "citations": "evidence_citations",
                    "strength": "evidence_strength",
                }
            },
            refs={"topic": RefField("topic", "topic_pk"), "expert": RefField("expert", "expert_pk")},
            links={
                "conditions": LinkField(table_of(ClaimCondition), "claim_pk", "condition_pk", "condition"),
                "therapies": LinkField(table_of(ClaimTherapy), "claim_pk", "therapy_pk", "therapy"),
            },
            filters=("condition", "therapy", "therapy_type", "topic", "source", "expert", "lang"),
            description="Atomic statements a topic makes, with their evidence and the verbatim source words.",
        ),
        ResourceSpec(
            name="quote",
            plural="quotes",
            key_field="id",
            table=table_of(Quote),
            write_schema=schemas.QuoteIn,
            out_schema=schemas.QuoteOut,
            columns=("text",),
            label="text",
            refs={"expert": RefField("expert", "expert_pk"), "topic": RefField("topic", "topic_pk")},
            links={"claims": LinkField(table_of(QuoteClaim), "quote_pk", "claim_pk", "claim")},
            filters=("condition", "therapy", "therapy_type", "topic", "source", "expert", "lang"),
            description="Verbatim words of an expert in a topic, with the claims they make.",
        ),
    ]
}

BY_PLURAL = {spec.plural: spec for spec in RESOURCES.values()}

# The order in which an import writes (targets before what points at them) and deletes (the reverse).
WRITE_ORDER = ("condition", "therapy", "expert", "source", "topic", "claim", "quote")

# Resources whose filters are kept as materialised facets (see app.content.facets).
FACETED = ("claim", "topic", "quote")
