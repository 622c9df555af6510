"""What a topic page shows: the topic, its published claims (with evidence and the source's words), its
published quotes (with the expert and how well the topic fits their specialties), its source and licence,
and its schema.org JSON-LD. A fixed number of queries whatever the topic holds."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection, select

from app.content import jsonld
from app.content.documents import expand, load_documents, pks_by_key
from app.content.queries import PUBLIC, get_one
from app.content.resources import RESOURCES


def _published(conn: Connection, resource: str, topic_pk: int) -> list[dict[str, Any]]:
    spec = RESOURCES[resource]
    t = spec.table
    pks = conn.execute(
        select(t.c.pk).where(t.c.topic_pk == topic_pk, t.c.status == PUBLIC[0]).order_by(t.c.pk)
    ).scalars()
    docs = load_documents(conn, spec, list(pks))
    return expand(conn, spec, list(docs.values()), public=True)


def _documents(conn: Connection, resource: str, keys: set[str]) -> dict[str, dict[str, Any]]:
    spec = RESOURCES[resource]
    docs = load_documents(conn, spec, list(pks_by_key(conn, resource, keys).values()))
    return {doc[spec.key_field]: doc for doc in docs.values() if doc["status"] == PUBLIC[0]}


def json_ld_markup(document: dict[str, Any]) -> Markup:
    """JSON for a <script> element: `<`, `>` and `&` escaped, so no text in it can close the element."""
    text = json.dumps(document, ensure_ascii=False, indent=1)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def paragraphs(text: str) -> list[list[str]]:
    """Body text as paragraphs (blank-line separated) of lines."""
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return [part.splitlines() for part in parts]


def topic_page(conn: Connection, slug: str, base: str) -> dict[str, Any]:
    """The template's context; NotFoundError (404) when no published topic has the slug."""
    topic = get_one(conn, RESOURCES["topic"], slug)
    topic_pk = pks_by_key(conn, "topic", [slug])[slug]
    claims = _published(conn, "claim", topic_pk)
    # a quote is shown with who said it: not while they are unpublished (app.content.visibility)
    quotes = [quote for quote in _published(conn, "quote", topic_pk) if quote["expert"] is not None]
    experts = _documents(conn, "expert", {q["expert"]["slug"] for q in quotes if q.get("expert")})
    source_key = (topic.get("source") or {}).get("slug")
    source = _documents(conn, "source", {source_key}).get(source_key) if source_key else None
    return {
        "topic": topic,
        "paragraphs": paragraphs(topic["body"]),
        "claims": claims,
        "quotes": quotes,
        "experts": experts,
        "source": source,
        "base": base,
        "json_ld": json_ld_markup(jsonld.document("topic", topic, base + "/")),
    }
