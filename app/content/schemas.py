"""Request and response shapes of the content resources.

A resource has one write shape (`XIn`, relations given by key) used by both the importer and the editors'
API, and one read shape (`XOut`) in which relations are small embedded references. Server-owned fields
(`id`, timestamps, `revision`) are in no write shape, and unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from app.content import codes
from app.content.annotations import (
    GRADE_DOC,
    RELATED_CAUTIONS,
    Attributed,
    Caution,
    Cautions,
    Graded,
    ProvenanceMap,
    ProvenanceOut,
    ReadingGrade,
    RelatedCaution,
    cautions_field,
    grade_field,
    provenance_field,
)
from app.content.vocab import (
    CodeSystem,
    Domain,
    EvidenceKind,
    EvidenceStrength,
    SpecialtyFit,
    Status,
    TherapyType,
)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=120)]
Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$", max_length=35)]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")]
# A server-made moment, RFC 3339 in UTC (`2026-01-05T10:00:00.000000Z`).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
# Caps on the lists of a write shape: a record's size, and what a write costs the facets and the search
# vocabulary, stay bounded (a longer list is a 422 naming the field). Far above what real content holds.
Names = Annotated[list[ShortText], Field(max_length=100)]  # synonyms, credentials, citations
Codes = Annotated[list["Code"], Field(max_length=50)]
Domains = Annotated[list[Domain], Field(max_length=len(Domain))]
Links = Annotated[list[Slug], Field(max_length=100)]  # conditions, therapies, claims
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Position = Annotated[int, Field(ge=0, le=100_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# ---- write shapes ------------------------------------------------------------------------------------


class Code(Strict):
    """Checked against its system on every write (a code the system does not hold is a 422 naming it):
    ICD-10-CM against CMS's tables, MeSH against NLM's descriptors, SNOMED CT by its check digit only."""

    system: CodeSystem
    code: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    version: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None,
        description="The release the code is for: `FY2026` (ICD-10-CM), `2026` (MeSH), the edition (SNOMED CT, "
        "required). Left out: the release it is checked against.",
    )
    name: ShortText | None = Field(
        None, description="The code's name in its system; if given it must be that name. Left out: filled in."
    )
    category: bool = Field(
        False,
        description="ICD-10-CM only: true when a category that cannot be billed is meant on purpose.",
    )
    checked_against: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None,
        description="Set by the server (a value sent is replaced): the release the code was checked against, "
        "e.g. `FY2026` or `MeSH 2026`; null for SNOMED CT, which is checked by its check digit only.",
    )

    @model_validator(mode="after")
    def _checked(self) -> Code:
        try:
            found = codes.check(self.system.value, self.code, self.version, self.name, self.category)
        except codes.CodeRefused as exc:
            raise ValueError(str(exc)) from None
        self.code, self.version, self.name = found.code, found.version, found.name
        self.checked_against = found.checked_against
        return self


class CodeOut(BaseModel):
    system: CodeSystem
    code: str
    version: str | None = Field(description="The release the code is for (the edition, for SNOMED CT).")
    name: str | None = Field(description="The code's name in its system.")
    category: bool = Field(description="ICD-10-CM: a category that cannot be billed, meant on purpose.")
    checked_against: str | None = Field(
        description="The release the code was checked against on its last write (`FY2026`, `MeSH 2026`); null "
        "for SNOMED CT, which is checked by its check digit only, not against a release."
    )


class Workflow(Strict):
    status: Status = Status.published
    retraction_reason: ShortText | None = None


class Reviewed(Strict):
    last_reviewed_at: IsoDate | None = None
    next_review_due: IsoDate | None = None
    reviewed_by: ShortText | None = None


class ConditionIn(Workflow, Attributed):
    name: ShortText
    parent: Slug | None = None
    synonyms: Names = []
    description: LongText | None = None
    codes: Codes = []
    provenance: ProvenanceMap = provenance_field()
    cautions: Cautions = cautions_field()


class TherapyIn(Workflow, Attributed):
    name: ShortText
    type: TherapyType
    synonyms: Names = []
    description: LongText | None = None
    codes: Codes = []
    provenance: ProvenanceMap = provenance_field()
    cautions: Cautions = cautions_field()


class ExpertIn(Workflow, Attributed):
    name: ShortText
    honorific: ShortText | None = None
    credentials: Names = []
    job_title: ShortText | None = None
    affiliation: ShortText | None = None
    location: ShortText | None = None
    described_as: ShortText | None = None
    specialties: Domains = []
    provenance: ProvenanceMap = provenance_field()


class Author(Strict):
    name: ShortText
    role: ShortText | None = None


class SourceIn(Workflow, Reviewed, Attributed):
    title: ShortText
    title_note: ShortText | None = None
    author: Author | None = None
    publisher: ShortText | None = None
    url: Url | None = None
    language: Language = "en"
    translation_of: Slug | None = None
    license: ShortText | None = None
    published_at: IsoDate | None = None
    text_sha256: Sha256 | None = None
    provenance: ProvenanceMap = provenance_field()


class TopicIn(Workflow, Reviewed, Attributed, Graded):
    source: Slug
    title: ShortText
    summary: LongText
    body: LongText
    position: Position = 0
    language: Language = "en"
    translation_of: Slug | None = None
    domains: Domains = []
    conditions: Links = []
    therapies: Links = []
    provenance: ProvenanceMap = provenance_field()
    reading_grade: ReadingGrade | None = grade_field()

    def _graded_text(self) -> str:
        return self.body


class Evidence(Strict):
    kind: EvidenceKind
    stated_as: ShortText | None = None
    citations: Names = []
    strength: EvidenceStrength


class ClaimIn(Workflow, Attributed, Graded):
    topic: Slug
    text: LongText
    source_excerpt: LongText
    conditions: Links = []
    therapies: Links = []
    expert: Slug | None = None
    evidence: Evidence
    provenance: ProvenanceMap = provenance_field()
    cautions: Cautions = cautions_field()
    reading_grade: ReadingGrade | None = grade_field()

    def _graded_text(self) -> str:
        return self.text


class QuoteIn(Workflow):
    expert: Slug
    topic: Slug
    text: LongText
    claims: Links = []


# ---- read shapes -------------------------------------------------------------------------------------


class Ref(BaseModel):
    """A related record, embedded by its key and the few fields a client shows."""

    slug: str | None = None
    id: str | None = None
    name: str | None = None
    title: str | None = None
    type: TherapyType | None = None


HIDDEN_REF = "Null while that record is not published: a draft or retracted record is not shown."


class Meta(BaseModel):
    status: Status
    retraction_reason: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    revision: int


class ConditionOut(Meta, ProvenanceOut):
    slug: str
    name: str
    parent: Ref | None
    synonyms: list[str]
    description: str | None
    codes: list[CodeOut]
    cautions: list[Caution]
    children: list[Ref] | None = Field(None, description="Detail only: the direct children.")
    claim_count: int | None = Field(None, description="Detail only: published claims about it or below.")


class TherapyOut(Meta, ProvenanceOut):
    slug: str
    name: str
    type: TherapyType
    synonyms: list[str]
    description: str | None
    codes: list[CodeOut]
    cautions: list[Caution]
    claim_count: int | None = Field(None, description="Detail only: published claims about it.")


class ExpertOut(Meta, ProvenanceOut):
    slug: str
    name: str
    honorific: str | None
    credentials: list[str]
    job_title: str | None
    affiliation: str | None
    location: str | None
    described_as: str | None
    specialties: list[Domain]
    quotes: list[Ref] | None = Field(None, description="Detail only: the expert's quotes.")


class SourceOut(Meta, Reviewed, ProvenanceOut):
    slug: str
    title: str
    title_note: str | None
    author: Author | None
    publisher: str | None
    url: str | None
    language: str
    translation_of: Ref | None
    license: str | None
    published_at: str | None
    text_sha256: str | None
    topics: list[Ref] | None = Field(None, description="Detail only: the source's topics in order.")


class TopicOut(Meta, Reviewed, ProvenanceOut):
    slug: str
    source: Ref | None = Field(description=HIDDEN_REF)
    title: str
    summary: str
    body: str
    position: int
    language: str
    translation_of: Ref | None
    domains: list[Domain]
    conditions: list[Ref]
    therapies: list[Ref]
    related_cautions: list[RelatedCaution] = Field(description=RELATED_CAUTIONS)
    reading_grade: ReadingGrade = Field(description=GRADE_DOC + " Of the topic's body.")
    claims: list[Ref] | None = Field(None, description="Detail only: the topic's claims.")
    quotes: list[Ref] | None = Field(None, description="Detail only: the topic's quotes.")


class ClaimOut(Meta, ProvenanceOut):
    id: str
    topic: Ref | None = Field(description=HIDDEN_REF)
    source: Ref | None = Field(description=HIDDEN_REF)
    text: str
    source_excerpt: str
    conditions: list[Ref]
    therapies: list[Ref]
    expert: Ref | None
    evidence: Evidence
    cautions: list[Caution] = Field(description="The claim's own cautions (promotional wording, say).")
    related_cautions: list[RelatedCaution] = Field(description=RELATED_CAUTIONS)
    reading_grade: ReadingGrade = Field(description=GRADE_DOC + " Of the claim's text.")
    quotes: list[Ref] | None = Field(None, description="Detail only: quotes that state this claim.")


class QuoteOut(Meta):
    id: str
    expert: Ref | None = Field(description=HIDDEN_REF)
    topic: Ref | None = Field(description=HIDDEN_REF)
    source: Ref | None = Field(description=HIDDEN_REF)
    text: str
    claims: list[Ref]
    specialty_fit: SpecialtyFit = Field(
        description="Whether the expert speaks within, near or outside their own specialties, judged "
        "against the medical domains of the topic."
    )
