"""Example request bodies and problems shown in the OpenAPI document for the editors' API."""

from __future__ import annotations

from typing import Any

from app.core.errors import (
    Conflict,
    Forbidden,
    InUse,
    NotFoundError,
    PayloadTooLarge,
    PreconditionFailed,
    Unauthorized,
    UnknownReference,
)

CREATE: dict[str, dict[str, Any]] = {
    "condition": {
        "slug": "coeliac-disease",
        "name": "Coeliac disease",
        "parent": "autoimmune-disorders",
        "synonyms": ["celiac disease"],
        "description": "An immune reaction to gluten that damages the small intestine.",
        # As the server stores them: a code's release, name and checked release are filled in when left out.
        "codes": [
            {
                "system": "icd10cm",
                "code": "K90.0",
                "version": "FY2026",
                "name": "Celiac disease",
                "category": False,
                "checked_against": "FY2026",
            },
            {
                "system": "mesh",
                "code": "D002446",
                "version": "2026",
                "name": "Celiac Disease",
                "category": False,
                "checked_against": "MeSH 2026",
            },
        ],
        "status": "draft",
    },
    "therapy": {
        "slug": "kefir",
        "name": "Kefir",
        "type": "diet",
        "synonyms": ["fermented milk"],
        "description": "A fermented milk drink.",
        "status": "draft",
    },
    "expert": {
        "slug": "jane-doe",
        "name": "Jane Doe",
        "honorific": "Dr.",
        "credentials": ["MD"],
        "job_title": "Gastroenterologist",
        "affiliation": "Example Hospital",
        "specialties": ["gastroenterology"],
        "status": "draft",
    },
    "source": {
        "slug": "fibre-and-the-gut",
        "title": "Fibre and the gut",
        "author": {"name": "Jane Doe", "role": None},
        "language": "en",
        "published_at": "2026-01-15",
        "last_reviewed_at": "2026-01-15",
        "next_review_due": "2027-01-15",
        "reviewed_by": "Jane Doe",
        "status": "draft",
    },
    "topic": {
        "slug": "fibre-feeds-gut-bacteria",
        "source": "gut-microbiome-autoimmune",
        "title": "Fibre feeds gut bacteria",
        "summary": "Why fibre matters to the microbiome.",
        "body": "Dietary fibre is food for beneficial gut bacteria.",
        "position": 9,
        "domains": ["nutrition"],
        "conditions": [],
        "therapies": ["high-fibre-diet"],
        "next_review_due": "2027-01-15",
        "status": "draft",
    },
    "claim": {
        "topic": "fecal-microbiota-transplantation",
        "text": "FMT is being studied for autoimmune disorders.",
        "source_excerpt": "FMT is being explored",
        "conditions": ["autoimmune-disorders"],
        "therapies": ["fecal-microbiota-transplantation"],
        "expert": None,
        "evidence": {
            "kind": "ongoing-research",
            "stated_as": "is being explored",
            "citations": [],
            "strength": "very-low",
        },
        "status": "draft",
    },
    "quote": {
        "expert": "houshang-aminian",
        "topic": "fecal-microbiota-transplantation",
        "text": "FMT is a promising therapy.",
        "claims": [],
        "status": "draft",
    },
}

PATCH: dict[str, dict[str, Any]] = {
    "condition": {"synonyms": ["celiac disease", "gluten-sensitive enteropathy"]},
    "therapy": {"status": "published"},
    "expert": {"affiliation": "Another Hospital"},
    "source": {"last_reviewed_at": "2026-11-25", "next_review_due": "2027-11-25", "reviewed_by": "Jane Doe"},
    "topic": {"status": "retracted", "retraction_reason": "The section misquoted its source."},
    "claim": {"status": "published"},
    "quote": {"claims": ["fmt-restores-microbial-balance"]},
}


def write_problems(
    spec_name: str,
    *,
    in_use: bool = False,
    conflict: bool = False,
    precondition: bool = True,
    not_found: bool = True,
) -> dict[int | str, dict[str, Any]]:
    """The problem responses a write operation documents, each with an example."""
    responses: dict[int | str, dict[str, Any]] = {
        401: Unauthorized.openapi(
            "No `X-API-Key`, or a key that is unknown or revoked.",
            "This operation needs an X-API-Key with the editor scope.",
        ),
        403: Forbidden.openapi(
            "The key lacks the editor scope (a partner key).", "This key does not have the editor scope."
        ),
        413: PayloadTooLarge.openapi(
            "The body is over the size limit (1 MiB by default).", "The request body is over 1048576 bytes."
        ),
        422: UnknownReference.openapi(
            "The body is invalid: a wrong or unknown field (server-owned fields such as `id`, `revision` or "
            "timestamps included), a retraction without `retraction_reason`, or a relation naming an unknown "
            "record.",
            "claim 'new': conditions names an unknown condition 'gout'.",
            errors=[{"field": "conditions", "key": "new", "message": "unknown condition 'gout'"}],
        ),
    }
    if not_found:
        responses[404] = NotFoundError.openapi(
            f"No {spec_name} has this key.", f"No {spec_name} has the key 'unknown'."
        )
    if conflict:
        responses[409] = Conflict.openapi(
            f"A {spec_name} with this slug exists already.",
            f"A {spec_name} with the slug 'probiotics' exists already.",
        )
    if in_use:
        responses[409] = InUse.openapi(
            f"Other records still point at this {spec_name}.",
            f"3 claims still use this {spec_name}; change or delete them first.",
            errors=[{"field": "slug", "message": "used by 3 claims"}],
        )
    if precondition:
        responses[412] = PreconditionFailed.openapi(
            "`If-Match` names a revision that is no longer current.",
            f"The {spec_name} has changed since the version you sent in If-Match (it is now at "
            f'revision 4, "r4-3f9a0c1b2d4e"); fetch it again and reapply your change.',
        )
    return responses
