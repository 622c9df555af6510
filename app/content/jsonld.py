"""schema.org JSON-LD for single records (`Accept: application/ld+json`), made from the read shape.

Each record becomes the schema.org type a search engine or a health knowledge graph expects:
conditions are MedicalCondition with their codes as MedicalCode, therapies MedicalTherapy,
DietarySupplement or LifestyleModification by type, experts Person, topics MedicalWebPage, claims Claim,
quotes Quotation, sources Article. Related records are nodes with an `@id` (their URL in this API).

What schema.org has no property for travels as `additionalProperty` PropertyValues, each named by its
`propertyID`: `provenance` (a field the editors inferred, or the source states in our words: `name` is the
field, `value` its basis, `description` the note), `caution` (the record's own and those of what it mentions:
`name` is the term, `value` the caution) and the reading grades (`flesch-kincaid-grade`, `coleman-liau-index`)."""

from __future__ import annotations

from typing import Any

from app.api.cachekey import NEGOTIATED_MEDIA_TYPES, media_preferences
from app.content.resources import RESOURCES

MEDIA_TYPE = NEGOTIATED_MEDIA_TYPES[0]
CONTEXT = "https://schema.org"

CODING_SYSTEMS = {"icd10cm": "ICD-10-CM", "mesh": "MeSH", "snomedct": "SNOMED-CT"}


def wanted(accept: str | None) -> bool:
    """Whether the Accept header prefers JSON-LD to plain JSON (a wildcard alone means JSON). Read with the
    response cache's own reading of `Accept`, so what the cache keeps apart is exactly what differs here."""
    ld, json = media_preferences(accept)
    return ld > 0 and ld >= json


def _clean(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if v not in (None, [], "", {})}


class _Builder:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def url(self, resource: str, key: str) -> str:
        return f"{self.base}/v1/{RESOURCES[resource].plural}/{key}"

    def ref(self, resource: str, ref: dict[str, Any] | None) -> dict[str, Any] | None:
        """A related record as a small node: its type, @id and name."""
        if not ref:
            return None
        key = ref.get("slug") or ref["id"]  # every reference carries its key
        label = ref.get("name") or ref.get("title")
        spec = RESOURCES[resource]
        kind = spec.jsonld.of(ref)
        name_field = "text" if spec.label == "text" else "name"  # a claim or quote is named by its words
        return _clean({"@type": kind, "@id": self.url(resource, key), name_field: label})

    def refs(self, resource: str, refs: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return [node for node in (self.ref(resource, r) for r in refs or []) if node]

    def codes(self, codes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return [
            {
                "@type": "MedicalCode",
                "codeValue": c["code"],
                "codingSystem": CODING_SYSTEMS.get(c["system"], c["system"]),
            }
            for c in codes or []
        ]


def _condition(b: _Builder, item: dict) -> dict:
    return {
        "name": item["name"],
        "alternateName": item.get("synonyms"),
        "description": item.get("description"),
        "code": b.codes(item.get("codes")),
    }


def _therapy(b: _Builder, item: dict) -> dict:
    return {
        "name": item["name"],
        "alternateName": item.get("synonyms"),
        "description": item.get("description"),
        "code": b.codes(item.get("codes")),
        "category": item["type"],
    }


def _expert(b: _Builder, item: dict) -> dict:
    affiliation = item.get("affiliation")
    location = item.get("location")
    return {
        "name": item["name"],
        "honorificPrefix": item.get("honorific"),
        "jobTitle": item.get("job_title"),
        "description": item.get("described_as"),
        "affiliation": {"@type": "Organization", "name": affiliation} if affiliation else None,
        "workLocation": {"@type": "Place", "name": location} if location else None,
        "hasCredential": [
            {"@type": "EducationalOccupationalCredential", "name": c} for c in item.get("credentials") or []
        ],
        "knowsAbout": item.get("specialties"),
    }


def _source(b: _Builder, item: dict) -> dict:
    author = item.get("author") or {}
    return {
        "name": item["title"],
        "headline": item["title"],
        "author": _clean({"@type": "Person", "name": author.get("name"), "jobTitle": author.get("role")})
        if author.get("name")
        else None,
        "publisher": {"@type": "Organization", "name": item["publisher"]} if item.get("publisher") else None,
        "sameAs": item.get("url"),
        "inLanguage": item.get("language"),
        "license": item.get("license"),
        "datePublished": item.get("published_at"),
        "hasPart": b.refs("topic", item.get("topics")),
    }


def _topic(b: _Builder, item: dict) -> dict:
    reviewer = item.get("reviewed_by")
    return {
        "name": item["title"],
        "headline": item["title"],
        "abstract": item.get("summary"),
        "text": item.get("body"),
        "inLanguage": item.get("language"),
        "lastReviewed": item.get("last_reviewed_at"),
        "reviewedBy": {"@type": "Organization", "name": reviewer} if reviewer else None,
        "about": b.refs("condition", item.get("conditions")) + b.refs("therapy", item.get("therapies")),
        "isPartOf": b.ref("source", item.get("source")),
        "hasPart": b.refs("claim", item.get("claims")) + b.refs("quote", item.get("quotes")),
    }


def _claim(b: _Builder, item: dict) -> dict:
    page = b.ref("topic", item.get("topic"))
    if page and item.get("source"):
        page["isPartOf"] = b.ref("source", item["source"])
    evidence = item.get("evidence") or {}
    return {
        "text": item["text"],
        "appearance": _clean({"@type": "Quotation", "text": item.get("source_excerpt"), "isPartOf": page}),
        "author": b.ref("expert", item.get("expert")),
        "about": b.refs("condition", item.get("conditions")) + b.refs("therapy", item.get("therapies")),
        "citation": evidence.get("citations"),
    }


def _quote(b: _Builder, item: dict) -> dict:
    speaker = b.ref("expert", item.get("expert"))
    page = b.ref("topic", item.get("topic"))
    if page and item.get("source"):
        page["isPartOf"] = b.ref("source", item["source"])
    return {
        "text": item["text"],
        "creator": speaker,
        "spokenByCharacter": speaker,
        "isPartOf": page,
        "about": b.refs("claim", item.get("claims")),
    }


def _thing(b: _Builder, item: dict) -> dict:
    """A resource with no shape of its own: its type (`ResourceSpec.jsonld`) and its name."""
    return {"name": item.get("name") or item.get("title") or item.get("text")}


SCHEMA_TYPES = {name: spec.jsonld.described() for name, spec in RESOURCES.items()}
SHAPES = {
    "condition": _condition,
    "therapy": _therapy,
    "expert": _expert,
    "source": _source,
    "topic": _topic,
    "claim": _claim,
    "quote": _quote,
}


def _property(property_id: str, name: str | None, value: Any, description: str | None = None) -> dict[str, Any]:
    return _clean(
        {"@type": "PropertyValue", "propertyID": property_id, "name": name, "value": value, "description": description}
    )


def _annotations(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Provenance, cautions and reading grades of the record, as PropertyValues."""
    out = [
        _property("provenance", name, given["basis"], given.get("note"))
        for name, given in (item.get("provenance") or {}).items()
    ]
    for caution in (item.get("cautions") or []) + (item.get("related_cautions") or []):
        about = caution.get("about")
        out.append(_property("caution", caution.get("term"), caution["text"], about and about["name"]))
    grade = item.get("reading_grade") or {}
    for property_id, name in (("flesch-kincaid-grade", "flesch_kincaid"), ("coleman-liau-index", "coleman_liau")):
        if grade.get(name) is not None:
            out.append(_property(property_id, None, grade[name]))
    return out


def document(resource: str, item: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The record (read shape, as `get_one` returns it) as a schema.org JSON-LD document."""
    b = _Builder(base_url)
    spec = RESOURCES[resource]
    key = item[spec.key_field]
    node = SHAPES.get(resource, _thing)(b, item)
    return _clean(
        {
            "@context": CONTEXT,
            "@type": spec.jsonld.of(item),
            "@id": b.url(resource, key),
            "url": b.url(resource, key),
            "identifier": key,
            **node,
            "additionalProperty": _annotations(item),
            "dateCreated": item.get("created_at"),
            "dateModified": item.get("updated_at"),
        }
    )


def openapi_content(resource: str, example: dict[str, Any]) -> dict[str, Any]:
    """The JSON-LD media type of a detail route in the OpenAPI document, with an example."""
    example = document(resource, example, "https://api.example.org")
    return {MEDIA_TYPE: {"schema": {"type": "object"}, "example": example}}
