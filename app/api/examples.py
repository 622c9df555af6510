"""Example responses shown in the OpenAPI document, taken from the seed content (data/) as the API serves
it; long texts are cut short with an ellipsis. EXAMPLES has the list-item shape; DETAIL_EXAMPLES adds what
a single-resource answer embeds (its "Detail only" fields)."""

# The FMT topic's claims, as the quote and the topic detail embed them.
_FMT_CLAIMS = [
    {
        "id": "fmt-restores-microbial-balance",
        "title": "Fecal microbiota transplantation transfers healthy donor microbiota into a "
        "patient's gut to restore microbial balance.",
    },
    {
        "id": "fmt-shown-promise-in-autoimmune-disease",
        "title": "Fecal microbiota transplantation has shown promise in treating autoimmune "
        "diseases by introducing a more diverse, healthy microbial population.",
    },
    {
        "id": "fmt-first-developed-for-gi-infections",
        "title": "Fecal microbiota transplantation was first developed to treat severe gastrointestinal infections.",
    },
]

EXAMPLES: dict[str, dict] = {
    "condition": {
        "slug": "rheumatoid-arthritis",
        "name": "Rheumatoid arthritis",
        "synonyms": ["RA", "rheumatoid disease"],
        "description": "A long-term autoimmune disease that mainly inflames the joints.",
        "provenance": {},
        "cautions": [],
        "parent": {"slug": "autoimmune-disorders", "name": "Autoimmune disorders"},
        "codes": [
            {
                "system": "icd10cm",
                "code": "M06.9",
                "version": "FY2026",
                "name": "Rheumatoid arthritis, unspecified",
                "category": False,
                "checked_against": "FY2026",
            },
            {
                "system": "mesh",
                "code": "D001172",
                "version": "2026",
                "name": "Arthritis, Rheumatoid",
                "category": False,
                "checked_against": "MeSH 2026",
            },
            {
                "system": "snomedct",
                "code": "69896004",
                "version": "International",
                "name": None,
                "category": False,
                "checked_against": None,
            },
        ],
        "status": "published",
        "retraction_reason": None,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "revision": 1,
    },
    "therapy": {
        "slug": "fecal-microbiota-transplantation",
        "name": "Fecal microbiota transplantation",
        "type": "microbiota-transplant",
        "synonyms": ["FMT", "faecal microbiota transplantation", "stool transplant"],
        "description": "Transfer of gut microbes from a healthy donor's stool into a patient's gut to "
        "restore microbial balance.",
        "provenance": {},
        "cautions": [],
        "codes": [
            {
                "system": "mesh",
                "code": "D000069467",
                "version": "2026",
                "name": "Fecal Microbiota Transplantation",
                "category": False,
                "checked_against": "MeSH 2026",
            }
        ],
        "status": "published",
        "retraction_reason": None,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "revision": 1,
    },
    "expert": {
        "slug": "houshang-aminian",
        "name": "Houshang Aminian",
        "honorific": "Dr.",
        "credentials": ["MD"],
        "job_title": "Medical Director",
        "affiliation": "American TMS Clinics",
        "location": None,
        "described_as": "Medical Director, American TMS Clinics",
        "specialties": ["psychiatry"],
        "provenance": {
            "specialties": {
                "basis": "inferred",
                "note": "Inferred from his post (medical director of TMS clinics, which treat depression with "
                "magnetic stimulation); the article names no specialty.",
            }
        },
        "status": "published",
        "retraction_reason": None,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "revision": 1,
    },
    "source": {
        "slug": "gut-microbiome-autoimmune",
        "title": "The Gut Microbiome and Autoimmune Disorders",
        "title_note": "The text has no title line; this title was made by us from the content, not given "
        "by the publisher.",
        "publisher": None,
        "url": None,
        "language": "en",
        "license": None,
        "published_at": None,
        "text_sha256": "2bf8bcc590acab2d63af39291e6a141cb4e3ef098772baad6081716d87979fda",
        "last_reviewed_at": None,
        "next_review_due": None,
        "reviewed_by": None,
        "author": {"name": "Lynn Martelli", "role": "editor at Readability"},
        "provenance": {
            "title": {
                "basis": "inferred",
                "note": "The text has no title line; this title was made by the editors from the content.",
            },
            "author": {
                "basis": "inferred",
                "note": "The article does not say who wrote it; it ends with Lynn Martelli's bio, from which she "
                "is taken to be its author.",
            },
        },
        "translation_of": None,
        "status": "published",
        "retraction_reason": None,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "revision": 1,
    },
    "topic": {
        "slug": "fecal-microbiota-transplantation",
        "title": "Fecal Microbiota Transplantation (FMT) as an Emerging Therapy",
        "summary": "Fecal microbiota transplantation, first developed for severe gut infections, is being "
        "explored as a treatment for autoimmune disease.",
        "body": "“Fecal microbiota transplantation (FMT) involves transferring healthy donor microbiota "
        "into a patient’s gut to restore microbial balance. This approach has shown promise in "
        "treating autoimmune …",
        "position": 5,
        "language": "en",
        "domains": ["gastroenterology", "microbiology", "immunology"],
        "provenance": {},
        "related_cautions": [],
        "reading_grade": {"flesch_kincaid": 16.8, "coleman_liau": 19.3},
        "last_reviewed_at": None,
        "next_review_due": None,
        "reviewed_by": None,
        "source": {"slug": "gut-microbiome-autoimmune", "title": "The Gut Microbiome and Autoimmune Disorders"},
        "translation_of": None,
        "conditions": [
            {"slug": "autoimmune-disorders", "name": "Autoimmune disorders"},
            {"slug": "gastrointestinal-infections", "name": "Gastrointestinal infections"},
        ],
        "therapies": [
            {
                "slug": "fecal-microbiota-transplantation",
                "name": "Fecal microbiota transplantation",
                "type": "microbiota-transplant",
            }
        ],
        "status": "published",
        "retraction_reason": None,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "revision": 1,
    },
    "claim": {
        "id": "fmt-shown-promise-in-autoimmune-disease",
        "text": "Fecal microbiota transplantation has shown promise in treating autoimmune diseases by "
        "introducing a more diverse, healthy microbial population.",
        "source_excerpt": "This approach has shown promise in treating autoimmune diseases by introducing "
        "a more diverse and healthy microbial population.",
        "evidence": {"kind": "expert-opinion", "stated_as": None, "citations": [], "strength": "very-low"},
        "provenance": {},
        "cautions": [],
        "related_cautions": [],
        "reading_grade": {"flesch_kincaid": 19.0, "coleman_liau": 22.5},
        "topic": {
            "slug": "fecal-microbiota-transplantation",
            "title": "Fecal Microbiota Transplantation (FMT) as an Emerging Therapy",
        },
        "expert": {"slug": "houshang-aminian", "name": "Houshang Aminian"},
        "conditions": [{"slug": "autoimmune-disorders", "name": "Autoimmune disorders"}],
        "therapies": [
            {
                "slug": "fecal-microbiota-transplantation",
                "name": "Fecal microbiota transplantation",
                "type": "microbiota-transplant",
            }
        ],
        "status": "published",
        "retraction_reason": None,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "revision": 1,
        "source": {"slug": "gut-microbiome-autoimmune", "title": "The Gut Microbiome and Autoimmune Disorders"},
    },
    "quote": {
        "id": "aminian-fmt",
        "text": "Fecal microbiota transplantation (FMT) involves transferring healthy donor microbiota "
        "into a patient’s gut to restore microbial balance. This approach has shown promise in "
        "treating autoimmune …",
        "expert": {"slug": "houshang-aminian", "name": "Houshang Aminian"},
        "topic": {
            "slug": "fecal-microbiota-transplantation",
            "title": "Fecal Microbiota Transplantation (FMT) as an Emerging Therapy",
        },
        "claims": _FMT_CLAIMS,
        "status": "published",
        "retraction_reason": None,
        "created_at": "2026-11-02T09:30:00Z",
        "updated_at": "2026-11-02T09:30:00Z",
        "revision": 1,
        "source": {"slug": "gut-microbiome-autoimmune", "title": "The Gut Microbiome and Autoimmune Disorders"},
        "specialty_fit": "outside",
    },
}

# What a detail adds to the list item.
_DETAIL_EXTRAS: dict[str, dict] = {
    "condition": {"children": [], "claim_count": 1},
    "therapy": {"claim_count": 5},
    "expert": {
        "quotes": [
            {
                "id": "aminian-fmt",
                "title": "Fecal microbiota transplantation (FMT) involves transferring healthy donor "
                "microbiota into a patient’s gut to restore microbial balance. This "
                "approach has shown promise in treating autoimmune …",
            }
        ]
    },
    "source": {
        "topics": [
            {"slug": "introduction", "title": "Introduction"},
            {"slug": "gut-microbiome-immune-interaction", "title": "The Gut Microbiome and Immune System Interaction"},
            {
                "slug": "microbiome-imbalance-autoimmune-link",
                "title": "The Link Between Gut Microbiome Imbalance and Autoimmune Disorders",
            },
        ]
    },
    "topic": {
        "claims": _FMT_CLAIMS,
        "quotes": [
            {
                "id": "aminian-fmt",
                "title": "Fecal microbiota transplantation (FMT) involves transferring healthy donor "
                "microbiota into a patient’s gut to restore microbial balance. This approach "
                "has shown promise in treating autoimmune …",
            }
        ],
    },
    "claim": {
        "quotes": [
            {
                "id": "aminian-fmt",
                "title": "Fecal microbiota transplantation (FMT) involves transferring healthy donor "
                "microbiota into a patient’s gut to restore microbial balance. This approach "
                "has shown promise in treating autoimmune …",
            }
        ]
    },
    "quote": {},
}

DETAIL_EXAMPLES: dict[str, dict] = {name: EXAMPLES[name] | _DETAIL_EXTRAS[name] for name in EXAMPLES}
