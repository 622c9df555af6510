"""The OpenAPI description of the Infobutton operations: parameters (read from the raw query or form, so
they are declared here rather than in the signature), answers with examples, and the errors."""

from __future__ import annotations

from typing import Any

from app.core.errors import BadParameter, UnsupportedMediaType
from app.infobutton.examples import ATOM_EXAMPLE, HTML_EXAMPLE, JSON_EXAMPLE

TAGS = ["health records"]
MATCH_SCHEME_DOC = (
    "Each entry has a `category` with scheme `https://health-content.dev/infobutton/match` whose term says "
    "which level of the matching cascade found it (`exact`, `ancestor-code`, `broader-condition`, `synonym`, "
    "`text`) and whose label names the code or condition that matched."
)

DESCRIPTION = (
    "An HL7 Context-Aware Knowledge Retrieval (Infobutton) knowledge resource, URL-based, compatible with the "
    "requests EHRs send to MedlinePlus Connect. Parameter names are matched case-insensitively and in any "
    "order; several criteria are numbered (`mainSearchCriteria.v.c1`, `.v.cs1`, ...) and answered together, "
    "ranked, without duplicates.\n\n"
    "Codes are matched in a cascade, the first level that finds content answering: `exact` (either "
    "ICD-10-CM release we hold), `ancestor-code` (ICD-10-CM: the code's ancestors, nearest first, down to the "
    "three-character category), `broader-condition` (our condition hierarchy, upward), then the display name "
    "and original text through condition names and synonyms (`synonym`) and full-text search (`text`). "
    + MATCH_SCHEME_DOC
    + "\n\nUsed: the criteria, `informationRecipient.languageCode.c` (content in that language first; we hold "
    'English, so a Spanish request is answered in English with `xml:lang="en"`), `subTopic.v.c` (MeSH '
    "qualifiers `Q000628` therapy, `Q000188` drug therapy, `Q000178` diet therapy narrow to content about "
    "therapies of those types; others are ignored), `knowledgeResponseType`. Accepted and echoed but not used "
    "(the content has no audience, age or sex applicability to filter by): `informationRecipient`, "
    "`taskContext.c.c`, `patientPerson.administrativeGenderCode.c`, `age.v.v`, `age.v.u`, `ageGroup.v.c` and "
    "any other HL7 parameter (`performer`, `encounter.c.c`, ...). Every parameter is echoed as a feed "
    "`category` (scheme: its name, term: its value).\n\n"
    "A code with no match, or a code system we hold no codes of (ICD-9-CM, RxNorm, LOINC) or do not know, is "
    "a 200 with no entries. A request with no code and no text, or a code without its code system, is a 422 "
    "naming the parameter. Answers are cached (`ETag`, `304`) and rate-limited like every public read; the "
    "feed's `updated` is the newest content's time, not the request's."
)


# Text XML 1.0 can carry (the Atom answer echoes every value): no control characters but tab and newlines.
TEXT = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff]*$"


def _parameter(name: str, description: str, example: str | None = None, **schema: Any) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "maxLength": 500, "pattern": TEXT, **schema},
    }
    if example is not None:
        parameter["example"] = example
    return parameter


PARAMETERS = [
    _parameter(
        "mainSearchCriteria.v.c",
        "The code (required unless a display name or original text is given).",
        "M06.9",
        maxLength=64,
        pattern="^[A-Za-z0-9][A-Za-z0-9.\\-]*$",
    ),
    _parameter(
        "mainSearchCriteria.v.cs",
        "The code system's OID: ICD-10-CM `2.16.840.1.113883.6.90`, SNOMED CT `2.16.840.1.113883.6.96`, "
        "MeSH `2.16.840.1.113883.6.177` (ICD-9-CM, RxNorm and LOINC are recognised, with no entries). "
        "Required with a code.",
        "2.16.840.1.113883.6.90",
    ),
    _parameter("mainSearchCriteria.v.dn", "The code's display name: the free-text fallback.", "Rheumatoid arthritis"),
    _parameter("mainSearchCriteria.v.ot", "The original text the clinician saw: the free-text fallback."),
    _parameter(
        "informationRecipient.languageCode.c",
        "The language wanted (`en`, `es`, ...; default `en`).",
        "en",
        pattern="^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
    ),
    _parameter("informationRecipient", "`PAT` (a patient) or `PROV` (a provider): echoed.", "PAT"),
    _parameter("taskContext.c.c", "The task, e.g. `PROBLISTREV`: echoed."),
    _parameter("subTopic.v.c", "A MeSH qualifier: `Q000628` therapy narrows to therapy content."),
    _parameter("patientPerson.administrativeGenderCode.c", "Echoed."),
    _parameter("age.v.v", "Echoed."),
    _parameter("age.v.u", "Echoed."),
    _parameter("ageGroup.v.c", "Echoed."),
    _parameter(
        "knowledgeResponseType",
        "`text/xml` (Atom, the default), `application/json` or `text/html`.",
        "text/xml",
        enum=["text/xml", "application/json", "text/html"],
    ),
]

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer, in the format `knowledgeResponseType` names.",
        "content": {
            "text/xml": {"schema": {"type": "string"}, "example": ATOM_EXAMPLE},
            "application/json": {"schema": {"type": "object"}, "example": JSON_EXAMPLE},
            "text/html": {"schema": {"type": "string"}, "example": HTML_EXAMPLE},
        },
    },
    422: BadParameter.openapi(
        "No code and no text, a code without its code system, a value too long, or an unknown "
        "`knowledgeResponseType`: the problem names the parameter.",
        "Query parameter 'mainSearchCriteria.v.cs' is required with a code: the code system's OID.",
        errors=[
            {
                "location": "query",
                "field": "mainSearchCriteria.v.cs",
                "message": "is required with a code: the code system's OID",
            }
        ],
    ),
}

GET_DOC: dict[str, Any] = {
    "summary": "Answer an HL7 Infobutton request",
    "name": "infobutton",
    "tags": TAGS,
    "description": DESCRIPTION,
    "responses": RESPONSES,
    "openapi_extra": {"parameters": PARAMETERS},
}

POST_DOC: dict[str, Any] = {
    "summary": "Answer an HL7 Infobutton request sent as a form",
    "name": "infobutton_form",
    "tags": TAGS,
    "description": "The same request as `GET /v1/infobutton`, its parameters sent as an "
    "`application/x-www-form-urlencoded` body, for requests too long for a URL. " + MATCH_SCHEME_DOC,
    "responses": {
        **RESPONSES,
        415: UnsupportedMediaType.openapi(
            "The body is not `application/x-www-form-urlencoded`.",
            "Send the parameters as application/x-www-form-urlencoded, the way an HTML form posts them.",
        ),
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "maxLength": 500, "pattern": TEXT},
                        "propertyNames": {"maxLength": 200, "pattern": TEXT},
                        "maxProperties": 100,
                        "properties": {p["name"]: p["schema"] for p in PARAMETERS},
                    },
                    "example": {
                        "mainSearchCriteria.v.c": "G35.A",
                        "mainSearchCriteria.v.cs": "2.16.840.1.113883.6.90",
                        "knowledgeResponseType": "application/json",
                    },
                }
            },
        }
    },
}
