"""The content tables. Each record has an internal integer `pk` and a public, immutable `key` (a slug, or
a stable id for claims and quotes); relations point at `pk`, the API speaks `key`."""

from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.naming import NAMING_CONVENTION

SQLModel.metadata.naming_convention = NAMING_CONVENTION


def json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def json_dict() -> Any:
    return Field(default_factory=dict, sa_type=JSON, nullable=False)  # a mixin's: a column per table


def fk(target: str, *, nullable: bool = False, ondelete: str = "RESTRICT") -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True),
    )


class Record(SQLModel):
    """Columns every content record shares: identity, workflow status and bookkeeping."""

    pk: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    status: str = Field(default="published", max_length=16, index=True)
    revision: int = Field(default=1)
    created_at: str = Field(max_length=32)
    updated_at: str = Field(max_length=32)
    retraction_reason: str | None = None
    origin: str = Field(default="api", max_length=16)  # "import": data/ owns it and an import may delete it


class Annotated(SQLModel):
    """Which fields are the editors' inference rather than the source's words: field name -> {basis, note}."""

    provenance: dict[str, Any] = json_dict()


class Cautioned(SQLModel):
    """Cautions a reader must see with the record: [{term, text}]."""

    cautions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)


class Graded(SQLModel):
    """Reading grades of the record's text (Flesch-Kincaid, Coleman-Liau), computed on write."""

    grade_fk: float | None = None
    grade_cl: float | None = None


class Reviewed(SQLModel):
    """Review bookkeeping health publishers keep on what they publish."""

    last_reviewed_at: str | None = Field(default=None, max_length=32)
    next_review_due: str | None = Field(default=None, max_length=32, index=True)
    reviewed_by: str | None = None


class Condition(Record, Annotated, Cautioned, table=True):
    __tablename__ = "conditions"
    name: str
    parent_pk: int | None = fk("conditions.pk", nullable=True)
    synonyms: list[str] = json_list()
    description: str | None = None


class ConditionCode(SQLModel, table=True):
    __tablename__ = "condition_codes"
    __table_args__ = (Index("ix_condition_codes_lookup", "system", "code"),)
    pk: int | None = Field(default=None, primary_key=True)
    condition_pk: int = fk("conditions.pk", ondelete="CASCADE")
    system: str = Field(max_length=16)
    code: str = Field(max_length=32)
    version: str | None = Field(default=None, max_length=40)
    name: str | None = None
    category: bool = Field(default=False)
    checked_against: str | None = Field(default=None, max_length=40)


class Therapy(Record, Annotated, Cautioned, table=True):
    __tablename__ = "therapies"
    name: str
    type: str = Field(max_length=32, index=True)
    synonyms: list[str] = json_list()
    description: str | None = None


class TherapyCode(SQLModel, table=True):
    __tablename__ = "therapy_codes"
    pk: int | None = Field(default=None, primary_key=True)
    therapy_pk: int = fk("therapies.pk", ondelete="CASCADE")
    system: str = Field(max_length=16)
    code: str = Field(max_length=32)
    version: str | None = Field(default=None, max_length=40)
    name: str | None = None
    category: bool = Field(default=False)
    checked_against: str | None = Field(default=None, max_length=40)


class Expert(Record, Annotated, table=True):
    __tablename__ = "experts"
    name: str
    honorific: str | None = None
    credentials: list[str] = json_list()
    job_title: str | None = None
    affiliation: str | None = None
    location: str | None = None
    described_as: str | None = None
    specialties: list[str] = json_list()


class Source(Record, Reviewed, Annotated, table=True):
    __tablename__ = "sources"
    title: str
    title_note: str | None = None
    author_name: str | None = None
    author_role: str | None = None
    publisher: str | None = None
    url: str | None = None
    language: str = Field(default="en", max_length=35, index=True)
    translation_of_pk: int | None = fk("sources.pk", nullable=True)
    license: str | None = None
    published_at: str | None = Field(default=None, max_length=32)
    text_sha256: str | None = Field(default=None, max_length=64)


class Topic(Record, Reviewed, Annotated, Graded, table=True):
    __tablename__ = "topics"
    source_pk: int = fk("sources.pk")
    title: str
    summary: str
    body: str
    position: int = 0
    language: str = Field(default="en", max_length=35, index=True)
    translation_of_pk: int | None = fk("topics.pk", nullable=True)
    domains: list[str] = json_list()


class Claim(Record, Annotated, Cautioned, Graded, table=True):
    __tablename__ = "claims"
    topic_pk: int = fk("topics.pk")
    expert_pk: int | None = fk("experts.pk", nullable=True)
    text: str
    source_excerpt: str
    evidence_kind: str = Field(max_length=32)
    evidence_stated_as: str | None = None
    evidence_strength: str = Field(max_length=16)
    evidence_citations: list[str] = json_list()


class Quote(Record, table=True):
    __tablename__ = "quotes"
    expert_pk: int = fk("experts.pk")
    topic_pk: int = fk("topics.pk")
    text: str


def link_table(name: str, left: str, left_target: str, right: str, right_target: str) -> type[SQLModel]:
    """A many-to-many table whose rows belong to the left record (deleted with it)."""
    return type(
        name,
        (SQLModel,),
        {
            "__tablename__": name.lower(),
            "__table_args__": (UniqueConstraint(left, right),),
            "__annotations__": {"pk": int | None, left: int, right: int},
            "pk": Field(default=None, primary_key=True),
            left: fk(left_target, ondelete="CASCADE"),
            right: fk(right_target),
        },
        table=True,
    )


ClaimCondition = link_table("claim_conditions", "claim_pk", "claims.pk", "condition_pk", "conditions.pk")
ClaimTherapy = link_table("claim_therapies", "claim_pk", "claims.pk", "therapy_pk", "therapies.pk")
TopicCondition = link_table("topic_conditions", "topic_pk", "topics.pk", "condition_pk", "conditions.pk")
TopicTherapy = link_table("topic_therapies", "topic_pk", "topics.pk", "therapy_pk", "therapies.pk")
QuoteClaim = link_table("quote_claims", "quote_pk", "quotes.pk", "claim_pk", "claims.pk")
