"""The registry of content resources: how each maps between its document (the write shape, relations by
key) and its table, link tables and codes. The write path, the read queries and the routers are all
driven by it, so adding a field is one line here and one in the schemas."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from app.content import schemas
from app.content.vocab import specialty_fit
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
GRADE_COLUMNS = {"flesch_kincaid": "grade_fk", "coleman_liau": "grade_cl"}


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
class Related:
    """A detail extra: the records of `target` that point at this one, through `target`'s to-one relation
    or link named `via`, as references in `order`."""

    target: str
    via: str
    order: str = "pk"


@dataclass(frozen=True)
class ClaimCount:
    """A detail extra: how many claims have this record's facet (`condition:<slug>` counts the claims about
    it or below)."""


@dataclass(frozen=True)
class Derived:
    """A list filter for a resource without facets of its own: the records reached from the `through`
    records that have the filters' facets, by `through`'s to-one relation or link named `via`."""

    through: str
    via: str


@dataclass(frozen=True)
class Faceted:
    """How a record's facets are made (`app.content.facets`). `own`: each facet kind and the path to its
    value (a column, or `relation.column` followed through to-one relations, `key` being a related
    record's key); `subjects`: the condition (with every ancestor), therapy and therapy-type facets of its
    `conditions` and `therapies` links; `inherits`: the relations and links whose records' facets it takes,
    except the kinds it has of its own."""

    own: dict[str, str]
    subjects: bool = False
    inherits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Searched:
    """How a record is indexed for search. `label` (what a hit shows) formats the columns; a column named
    `relation.column` is read from the related record, and then a change to that record rewrites this
    one's row. A list column is joined with "; " in the title and ", " in the body."""

    code: int  # its part of a row id, unique among resources and below 8
    label: str
    title: tuple[str, ...]
    body: tuple[str, ...]
    shorten: bool = False  # long labels (a claim's text) are cut at a word


@dataclass(frozen=True)
class JsonLd:
    """The schema.org type of the record; `by` chooses it by a field's value instead, as a therapy's type."""

    type: str
    by: tuple[str, Mapping[str, str]] | None = None

    def of(self, item: Mapping[str, Any]) -> str:
        if self.by is None:
            return self.type
        field_name, types = self.by
        return types.get(item.get(field_name) or "", self.type)

    def described(self) -> str:
        """The types it may be, for the documentation: `MedicalTherapy, DietarySupplement or ...`."""
        names = [self.type, *dict.fromkeys(self.by[1].values())] if self.by else [self.type]
        return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


THERAPY_SCHEMA_TYPES = {
    "probiotic": "DietarySupplement",
    "prebiotic": "DietarySupplement",
    "dietary-supplement": "DietarySupplement",
    "diet": "LifestyleModification",
    "lifestyle": "LifestyleModification",
}


def _specialty_fit(quote: dict[str, Any]) -> str:
    """Whether the expert speaks within their specialties: theirs against the topic's domains, both carried
    by the references (`ref_carries`)."""
    expert, topic = quote["expert"] or {}, quote["topic"] or {}
    return specialty_fit(expert.get("specialties", []), topic.get("domains", [])).value


def _related_cautions(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The cautions of the conditions and therapies a record mentions, each naming whose it is (carried by
    the references)."""
    out: list[dict[str, Any]] = []
    for resource, name in (("condition", "conditions"), ("therapy", "therapies")):
        for ref in item.get(name) or []:
            about = {"resource": resource, "slug": ref["slug"], "name": ref["name"]}
            out.extend({**caution, "about": about} for caution in ref.get("cautions") or [])
    return out


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
    # A reference to this record (in another's read shape) shows `ref_shows` (`text` shown as `title`) and
    # carries `ref_carries` for what the referring shape computes, taken off before it is shown.
    ref_shows: tuple[str, ...] = ()
    ref_carries: tuple[str, ...] = ()
    details: dict[str, Related | ClaimCount] = field(default_factory=dict)  # a detail's extras, in order
    column_filters: dict[str, str] = field(default_factory=dict)  # filter name -> the column it matches
    derived: Derived | None = None
    computed: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)  # read-shape fields
    facets: Faceted | None = None  # resources with facets of their own (see FACETED)
    search: Searched | None = None
    jsonld: JsonLd = JsonLd("Thing")

    def nullable_nested(self, name: str) -> bool:
        """Whether the nested object `name` may be absent (it is null when all its columns are)."""
        return not self.write_schema.model_fields[name].is_required()


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
            columns=("name", "synonyms", "description", "provenance", "cautions"),
            label="name",
            refs={"parent": RefField("condition", "parent_pk")},
            codes=(table_of(ConditionCode), "condition_pk"),
            filters=("therapy", "therapy_type"),
            description="Diseases and states, as a hierarchy, with synonyms and ICD-10-CM, MeSH and SNOMED CT codes.",
            ref_shows=("name",),
            ref_carries=("cautions",),
            details={"children": Related("condition", "parent"), "claim_count": ClaimCount()},
            derived=Derived("claim", "conditions"),
            search=Searched(5, "{name}", title=("name", "synonyms"), body=("description",)),
            jsonld=JsonLd("MedicalCondition"),
        ),
        ResourceSpec(
            name="therapy",
            plural="therapies",
            key_field="slug",
            table=table_of(Therapy),
            write_schema=schemas.TherapyIn,
            out_schema=schemas.TherapyOut,
            columns=("name", "type", "synonyms", "description", "provenance", "cautions"),
            label="name",
            codes=(table_of(TherapyCode), "therapy_pk"),
            filters=("condition", "therapy_type"),
            description="Interventions, each with a type from a fixed vocabulary.",
            ref_shows=("name", "type"),
            ref_carries=("cautions",),
            details={"claim_count": ClaimCount()},
            column_filters={"therapy_type": "type"},
            derived=Derived("claim", "therapies"),
            search=Searched(6, "{name}", title=("name", "synonyms"), body=("description",)),
            jsonld=JsonLd("MedicalTherapy", by=("type", THERAPY_SCHEMA_TYPES)),
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
                "provenance",
            ),
            label="name",
            filters=("condition", "therapy", "therapy_type", "topic", "source"),
            description="People quoted by the content, with their credentials and specialties.",
            ref_shows=("name",),
            ref_carries=("specialties",),
            details={"quotes": Related("quote", "expert")},
            derived=Derived("quote", "expert"),
            search=Searched(
                4,
                "{name}",
                title=("name",),
                body=("honorific", "credentials", "job_title", "affiliation", "described_as"),
            ),
            jsonld=JsonLd("Person"),
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
                "provenance",
                *REVIEW_FIELDS,
            ),
            label="title",
            nested={"author": {"name": "author_name", "role": "author_role"}},
            refs={"translation_of": RefField("source", "translation_of_pk")},
            filters=("lang",),
            description="Published pieces of content: articles and pages the topics come from.",
            ref_shows=("title",),
            details={"topics": Related("topic", "source", order="position")},
            column_filters={"lang": "language"},
            jsonld=JsonLd("Article"),
        ),
        ResourceSpec(
            name="topic",
            plural="topics",
            key_field="slug",
            table=table_of(Topic),
            write_schema=schemas.TopicIn,
            out_schema=schemas.TopicOut,
            columns=("title", "summary", "body", "position", "language", "domains", "provenance", *REVIEW_FIELDS),
            nested={"reading_grade": GRADE_COLUMNS},
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
            ref_shows=("title",),
            ref_carries=("domains", "source_pk"),
            details={"claims": Related("claim", "topic"), "quotes": Related("quote", "topic")},
            facets=Faceted({"source": "source.key", "lang": "language"}, subjects=True),
            computed={"related_cautions": _related_cautions},
            search=Searched(1, "{title}", title=("title",), body=("summary", "body")),
            jsonld=JsonLd("MedicalWebPage"),
        ),
        ResourceSpec(
            name="claim",
            plural="claims",
            key_field="id",
            table=table_of(Claim),
            write_schema=schemas.ClaimIn,
            out_schema=schemas.ClaimOut,
            columns=("text", "source_excerpt", "provenance", "cautions"),
            label="text",
            nested={
                "evidence": {
                    "kind": "evidence_kind",
                    "stated_as": "evidence_stated_as",
                    "citations": "evidence_citations",
                    "strength": "evidence_strength",
                },
                "reading_grade": GRADE_COLUMNS,
            },
            refs={"topic": RefField("topic", "topic_pk"), "expert": RefField("expert", "expert_pk")},
            links={
                "conditions": LinkField(table_of(ClaimCondition), "claim_pk", "condition_pk", "condition"),
                "therapies": LinkField(table_of(ClaimTherapy), "claim_pk", "therapy_pk", "therapy"),
            },
            filters=("condition", "therapy", "therapy_type", "topic", "source", "expert", "lang"),
            description="Atomic statements a topic makes, with their evidence and the verbatim source words.",
            ref_shows=("text",),
            details={"quotes": Related("quote", "claims")},
            facets=Faceted(
                {"topic": "topic.key", "source": "topic.source.key", "lang": "topic.language", "expert": "expert.key"},
                subjects=True,
            ),
            computed={"related_cautions": _related_cautions},
            search=Searched(2, "{text}", title=("text",), body=("source_excerpt",), shorten=True),
            jsonld=JsonLd("Claim"),
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
            ref_shows=("text",),
            computed={"specialty_fit": _specialty_fit},
            facets=Faceted({"topic": "topic.key", "expert": "expert.key"}, inherits=("topic", "claims")),
            search=Searched(3, "{expert.name}: “{text}”", title=("text",), body=("expert.name",), shorten=True),
            jsonld=JsonLd("Quotation"),
        ),
    ]
}

BY_PLURAL = {spec.plural: spec for spec in RESOURCES.values()}

# The order in which an import writes (targets before what points at them) and deletes (the reverse).
WRITE_ORDER = ("condition", "therapy", "expert", "source", "topic", "claim", "quote")

# Resources whose filters are kept as materialised facets (see app.content.facets).
FACETED = ("claim", "topic", "quote")
