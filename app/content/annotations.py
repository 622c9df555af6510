"""What the editors add to a record beside its content: where each field comes from (`provenance`: stated by
the source or inferred by the editors, with a note), what a reader must know with it (`cautions`), and how
hard its text is to read (`reading_grade`, measured on every write by `readability`). The write shapes in
`schemas` mix these in; the read shapes carry them as they are, with the cautions of what a claim or topic
mentions added as `related_cautions`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, StringConstraints, model_validator
from pydantic.json_schema import JsonSchemaValue

from app.content import readability
from app.content.vocab import Basis

Note = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Provenance(Strict):
    basis: Basis = Field(description="`stated`: the source says it; `inferred`: the editors inferred it.")
    note: Note | None = Field(None, description="How, in a sentence: e.g. inferred from the appended bio.")


class Caution(Strict):
    term: Note | None = Field(
        None, description="The term the caution is about (`leaky gut`); null when it is about the record itself."
    )
    text: Note = Field(description="What a reader must know, in plain words.")


FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,39}$")]
NOT_ANNOTATED = frozenset({"status", "retraction_reason", "provenance", "cautions", "reading_grade"})
PROVENANCE_DOC = (
    "Per field that is not the source's own words, where it comes from: `stated` by the source (in our words) "
    "or `inferred` by the editors, with a short note. A field not named here is the source's words or a plain "
    "fact of the record."
)


class ClosedKeys:
    """A dict's keys are refused unless they match its key pattern, so its document says so
    (`additionalProperties: false` beside `patternProperties`): otherwise a generated client or a contract test
    would take any key as accepted."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["additionalProperties"] = False
        return schema


ProvenanceMap = Annotated[dict[FieldName, Provenance], Field(max_length=40), ClosedKeys()]
Cautions = Annotated[list[Caution], Field(max_length=20)]
CAUTIONS_DOC = (
    "What a reader must know with this record (a popular term that is not a diagnosis, a hypothesis, the "
    "source's promotional wording); served with it, and with every claim and topic that mentions it."
)


def provenance_field() -> Any:
    return Field({}, description=PROVENANCE_DOC)


def cautions_field() -> Any:
    return Field([], description=CAUTIONS_DOC)


def grade_field() -> Any:
    return Field(None, description="Set by the server (a value sent is replaced): the reading grades of the text.")


class Attributed(Strict):
    """Records with `provenance` (each declares it last): its keys must be the record's own fields."""

    @model_validator(mode="after")
    def _provenance_names_fields(self) -> Attributed:
        named = getattr(self, "provenance", {})
        unknown = sorted(set(named) - (set(type(self).model_fields) - NOT_ANNOTATED))
        if unknown:
            raise ValueError(f"provenance names {unknown[0]!r}, which is not a field this record has")
        return self


class ReadingGrade(Strict):
    flesch_kincaid: float | None = Field(description="Flesch-Kincaid grade (US school grade).")
    coleman_liau: float | None = Field(description="Coleman-Liau index (US school grade).")


GRADE_DOC = (
    "Reading grades (US school grades) measured on every write: Flesch-Kincaid, which `max_grade` filters on, "
    "and Coleman-Liau. Consumer health material aims at grade 6-8."
)


class Graded(Strict):
    """Records with `reading_grade` (each declares it last), measured from `_graded_text`."""

    def _graded_text(self) -> str:
        raise NotImplementedError

    @model_validator(mode="after")
    def _measured(self) -> Graded:
        setattr(self, "reading_grade", ReadingGrade(**readability.grades(self._graded_text())))  # noqa: B010
        return self


# ---- read shapes ----------------------------------------------------------------------------------------


class CautionAbout(BaseModel):
    resource: str = Field(description="`condition` or `therapy`.")
    slug: str
    name: str


class RelatedCaution(BaseModel):
    term: str | None
    text: str
    about: CautionAbout = Field(description="The condition or therapy the caution belongs to.")


class ProvenanceOut(BaseModel):
    provenance: dict[str, Provenance] = Field(description=PROVENANCE_DOC)


RELATED_CAUTIONS = "The cautions of the conditions and therapies it mentions, each with `about` naming whose."
