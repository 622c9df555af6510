"""Shapes of the partner endpoints, for the OpenAPI document, with the examples it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from app.content.annotations import Provenance
from app.content.resources import RESOURCES
from app.content.schemas import Timestamp

if TYPE_CHECKING:  # a checker sees a string; the OpenAPI document, the registry's names
    ResourceName = str
else:
    ResourceName = Literal[tuple(RESOURCES)]


class Change(BaseModel):
    resource: ResourceName
    key: str = Field(description="The record's key: a slug, or the id of a claim or quote.")
    op: Literal["upsert", "delete"] = Field(
        description="`upsert`: store `data` under (resource, key); `delete`: drop it (the record left public view)."
    )
    at: Timestamp = Field(description="When the change was made (RFC 3339, UTC).")
    data: dict[str, Any] | None = Field(description="The record's document (relations by key), null for a delete.")


class ChangesPage(BaseModel):
    items: list[Change]
    next_cursor: str = Field(description="Always present: pass it as `since` to resume, also when nothing is new.")


class FeedAuthor(BaseModel):
    name: str
    provenance: Provenance | None = Field(
        None,
        alias="_provenance",
        description="Present when the editors inferred the author (the source does not name one): how.",
    )


class FeedItemExtension(BaseModel):
    """JSON Feed's room for a publisher's own fields (a key starting with `_`): the slugs and ids behind
    an item, and where its JSON is."""

    topic: str = Field(description="The topic's slug.")
    json_url: str = Field(description="The topic as the API's JSON (`/v1/topics/{slug}`).")
    source: str | None = Field(description="The source's slug.")
    conditions: list[str] = Field(description="Slugs of the topic's conditions.")
    therapy_types: list[str] = Field(description="The therapy types of the topic's therapies.")
    claims: list[str] = Field(
        description="Ids of the topic's published claims, in the order `content_html` shows them."
    )
    quotes: list[str] = Field(description="Ids of the topic's published quotes.")


class FeedItem(BaseModel):
    id: str = Field(description="A tag URI that never changes for this topic.")
    url: str = Field(description="The topic's page a person reads (`/topics/{slug}`, HTML).")
    external_url: str | None = Field(None, description="The published piece the topic comes from.")
    title: str
    summary: str
    content_html: str
    date_published: Timestamp
    date_modified: Timestamp
    authors: list[FeedAuthor]
    language: str
    tags: list[str] = Field(
        description="Names of the topic's conditions and its therapy types, as a reader shows them."
    )
    health_content: FeedItemExtension = Field(alias="_health_content")


class JsonFeed(BaseModel):
    version: str
    title: str
    home_page_url: str
    feed_url: str
    description: str
    language: str | None = None
    authors: list[FeedAuthor]
    next_url: str | None = Field(None, description="The next page; absent on the last one.")
    items: list[FeedItem]


CHANGE_EXAMPLE = {
    "items": [
        {
            "resource": "condition",
            "key": "rheumatoid-arthritis",
            "op": "upsert",
            "at": "2026-01-05T10:00:00.000000Z",
            "data": {
                "slug": "rheumatoid-arthritis",
                "name": "Rheumatoid arthritis",
                "parent": "autoimmune-disorders",
                "synonyms": ["RA"],
                "description": None,
                "codes": [
                    {
                        "system": "icd10cm",
                        "code": "M06.9",
                        "version": "FY2026",
                        "name": "Rheumatoid arthritis, unspecified",
                        "category": False,
                        "checked_against": "FY2026",
                    }
                ],
                "status": "published",
                "retraction_reason": None,
                "created_at": "2026-01-05T10:00:00.000000Z",
                "updated_at": "2026-01-05T10:00:00.000000Z",
                "revision": 1,
            },
        },
        {
            "resource": "claim",
            "key": "probiotics-ease-ibd",
            "op": "delete",
            "at": "2026-01-06T09:30:00.000000Z",
            "data": None,
        },
    ],
    "next_cursor": "eyJzIjoiY2hhbmdlcyIsInAiOjQyfQ",
}

FEED_EXAMPLE = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Health topics",
    "home_page_url": "https://api.example.org/",
    "feed_url": "https://api.example.org/v1/feed.json?condition=autoimmune-disorders",
    "description": "Published health topics, each with its claims (and their evidence) and its quotes.",
    "authors": [{"name": "Health-content API"}],
    "items": [
        {
            "id": "tag:health-content.dev,2026:topic:fecal-microbiota-transplantation",
            "url": "https://api.example.org/topics/fecal-microbiota-transplantation",
            "title": "Fecal Microbiota Transplantation (FMT) as an Emerging Therapy",
            "summary": "FMT moves stool from a healthy donor to restore a balanced gut microbiome.",
            "content_html": "<p><strong>FMT moves stool ...</strong></p><h3>Claims</h3><ul><li>...</li></ul>",
            "date_published": "2026-01-05T10:00:00.000000Z",
            "date_modified": "2026-01-06T09:30:00.000000Z",
            "authors": [{"name": "Lynn Martelli"}],
            "language": "en",
            "tags": ["Autoimmune disorders", "microbiota transplant"],
            "_health_content": {
                "topic": "fecal-microbiota-transplantation",
                "json_url": "https://api.example.org/v1/topics/fecal-microbiota-transplantation",
                "source": "gut-microbiome-autoimmune",
                "conditions": ["autoimmune-disorders"],
                "therapy_types": ["microbiota-transplant"],
                "claims": ["fmt-restores-microbial-balance"],
                "quotes": ["aminian-fmt"],
            },
        }
    ],
    "next_url": "https://api.example.org/v1/feed.json?condition=autoimmune-disorders&cursor=eyJzIjoiZmVlZCIsInAiOjR9",
}

ATOM_EXAMPLE = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>tag:health-content.dev,2026:feed</id>
<title>Health topics</title>
<updated>2026-01-06T09:30:00+00:00</updated><author><name>Health-content API</name></author>
<link href="https://api.example.org/v1/feed.atom" rel="self" type="application/atom+xml"/>
<entry><id>tag:health-content.dev,2026:topic:fecal-microbiota-transplantation</id>
<title>Fecal Microbiota Transplantation (FMT) as an Emerging Therapy</title>
<link rel="alternate" type="text/html" hreflang="en" href="https://api.example.org/topics/fecal-microbiota-transplantation"/>
<link rel="alternate" type="application/json" hreflang="en" href="https://api.example.org/v1/topics/fecal-microbiota-transplantation"/>
<updated>2026-01-06T09:30:00+00:00</updated>
<content type="html">&lt;p&gt;...&lt;/p&gt;</content></entry></feed>"""
