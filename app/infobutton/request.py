"""The HL7 Context-Aware Knowledge Retrieval (Infobutton) URL-based request, parsed.

Parameter names are matched case-insensitively and in any order. Search criteria may be numbered, on the
element (`mainSearchCriteria1.v.c`) or on the attribute (`mainSearchCriteria.v.c1`); criteria sharing a
number belong together. Every parameter, known or not, is kept in the order sent so the answer can echo
it: EHRs send many HL7 parameters this service has no use for, and those are accepted, not refused."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.core.errors import BadParameter

# Code systems by OID. The first three hold our content's codes; the others are recognised, and answered
# with no entries, because we hold no codes of theirs.
ICD10CM = "2.16.840.1.113883.6.90"
SNOMEDCT = "2.16.840.1.113883.6.96"
MESH = "2.16.840.1.113883.6.177"
ICD9CM = "2.16.840.1.113883.6.103"
RXNORM = "2.16.840.1.113883.6.88"
LOINC = "2.16.840.1.113883.6.1"
CODE_SYSTEMS = {ICD10CM: "icd10cm", SNOMEDCT: "snomedct", MESH: "mesh"}
SYSTEM_NAMES = {
    ICD10CM: "ICD-10-CM",
    SNOMEDCT: "SNOMED CT",
    MESH: "MeSH",
    ICD9CM: "ICD-9-CM",
    RXNORM: "RxNorm",
    LOINC: "LOINC",
}

ATOM = "text/xml"
JSON = "application/json"
HTML = "text/html"
RESPONSE_TYPES = (ATOM, JSON, HTML)

MAX_PARAMETERS = 100
MAX_CRITERIA = 10
MAX_VALUE = 500
MAX_CODE = 64

# MeSH qualifiers (subTopic.v.c) the content can narrow by: to claims and topics about therapies of these
# types (an empty set: any therapy).
SUBTOPIC_THERAPY_TYPES: dict[str, frozenset[str]] = {
    "Q000628": frozenset(),  # therapy
    "Q000188": frozenset({"pharmacological"}),  # drug therapy
    "Q000178": frozenset({"diet"}),  # diet therapy
}

_CRITERION = re.compile(r"^mainsearchcriteria(\d*)\.v\.(c|cs|dn|ot)(\d*)$")
_SUBTOPIC = re.compile(r"^subtopic\.v\.c\d*$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
# Characters XML 1.0 cannot carry: a value holding one could not be echoed in the Atom answer.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Criterion:
    """One main search criterion: a code in a code system, and/or free text (display name, original text)."""

    number: str  # "" for the unnumbered one, "1", "2", ... for the others
    code: str | None = None
    system: str | None = None  # the OID as sent
    display_name: str | None = None
    original_text: str | None = None

    def parameter(self, attribute: str) -> str:
        return f"mainSearchCriteria.v.{attribute}{self.number}"

    @property
    def texts(self) -> list[str]:
        return list(dict.fromkeys(t for t in (self.display_name, self.original_text) if t))


@dataclass
class InfobuttonRequest:
    criteria: list[Criterion]
    parameters: list[tuple[str, str]]  # every parameter as sent, for the echo
    language: str = "en"
    response_type: str = ATOM
    subtopics: list[str] = field(default_factory=list)
    recipient: str | None = None

    @property
    def therapy_types(self) -> frozenset[str] | None:
        """What the subTopic qualifiers narrow to: None for no narrowing, an empty set for any therapy."""
        known = [SUBTOPIC_THERAPY_TYPES[s] for s in self.subtopics if s in SUBTOPIC_THERAPY_TYPES]
        if not known:
            return None
        if any(not types for types in known):
            return frozenset()
        return frozenset().union(*known)

    def canonical(self) -> str:
        """The request as one string that is the same however the parameters were cased or ordered."""
        return "&".join(f"{name.lower()}={value}" for name, value in sorted(self.parameters, key=_lowered))


def _lowered(item: tuple[str, str]) -> tuple[str, str]:
    return item[0].lower(), item[1]


def _first(found: dict[str, str], name: str) -> str | None:
    value = found.get(name)
    return value.strip() or None if value is not None else None


def parse(items: list[tuple[str, str]]) -> InfobuttonRequest:
    """The request from its parameters (query string or form), or BadParameter naming what is wrong."""
    if len(items) > MAX_PARAMETERS:
        raise BadParameter("mainSearchCriteria.v.c", f"a request may have at most {MAX_PARAMETERS} parameters")
    found: dict[str, str] = {}  # lower-cased name -> first value
    criteria: dict[str, Criterion] = {}
    subtopics: list[str] = []
    for name, value in items:
        if len(name) > 200 or _NOT_XML.search(name):
            raise BadParameter(name[:200], "is not a usable parameter name")
        if len(value) > MAX_VALUE or _NOT_XML.search(value):
            raise BadParameter(name, f"must be at most {MAX_VALUE} characters of text")
        lowered = name.lower()
        found.setdefault(lowered, value)
        if _SUBTOPIC.match(lowered) and value.strip():
            subtopics.append(value.strip().upper())
        match = _CRITERION.match(lowered)
        if not match:
            continue
        element, attribute, suffix = match.groups()
        if element and suffix and element != suffix:
            raise BadParameter(name, "numbers the criterion twice, differently")
        number = element or suffix
        criterion = criteria.setdefault(number, Criterion(number=number))
        attr = {"c": "code", "cs": "system", "dn": "display_name", "ot": "original_text"}[attribute]
        if getattr(criterion, attr) is None and value.strip():
            setattr(criterion, attr, value.strip())
    if len(criteria) > MAX_CRITERIA:
        raise BadParameter("mainSearchCriteria.v.c", f"a request may have at most {MAX_CRITERIA} criteria")
    ordered = [criteria[n] for n in sorted(criteria, key=lambda n: int(n or 0))]
    usable = [c for c in ordered if c.code or c.texts]
    if not usable:
        raise BadParameter("mainSearchCriteria.v.c", "is required: a code (with mainSearchCriteria.v.cs) or text")
    for criterion in usable:
        if criterion.code and not criterion.system:
            raise BadParameter(criterion.parameter("cs"), "is required with a code: the code system's OID")
        if criterion.code and (len(criterion.code) > MAX_CODE or not _CODE.match(criterion.code)):
            raise BadParameter(criterion.parameter("c"), "is not a code: letters, digits, '.' and '-' only")
    language = _first(found, "informationrecipient.languagecode.c") or "en"
    if not _LANGUAGE.match(language):
        raise BadParameter("informationRecipient.languageCode.c", "is not a language tag (en, es, pt-BR, ...)")
    response_type = (_first(found, "knowledgeresponsetype") or ATOM).lower()
    if response_type not in RESPONSE_TYPES:
        raise BadParameter("knowledgeResponseType", f"must be one of {', '.join(RESPONSE_TYPES)}")
    return InfobuttonRequest(
        criteria=usable,
        parameters=list(items),
        language=language.lower(),
        response_type=response_type,
        subtopics=subtopics,
        recipient=_first(found, "informationrecipient"),
    )
