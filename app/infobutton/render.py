"""The answer as Atom (RFC 4287, as the HL7 Infobutton knowledge response profile builds on it), as JSON in
the shape MedlinePlus Connect's JSON uses, and as an HTML page.

In the JSON every element that may repeat in the Atom (`author`, `link`, `category`, `entry`) is always an
array, even with one item or none, so clients never have to tell a single object from a list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import etree

from app.infobutton.answer import AUTHOR, MATCH_SCHEME, Answer, Entry

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def rfc3339(stamp: str) -> str:
    """An RFC 3339 date-time in UTC, whole seconds: 2026-01-02T03:04:05Z."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def echoed(answer: Answer) -> list[dict[str, str]]:
    """The request as categories: scheme the parameter's name as sent, term its value."""
    return [{"scheme": name, "term": value} for name, value in answer.request.parameters]


def _match_category(entry: Entry) -> dict[str, str]:
    return {"scheme": MATCH_SCHEME, "term": entry.level, "label": entry.label}


def _links(answer: Answer, entry: Entry) -> list[dict[str, str]]:
    return [
        {
            "rel": "alternate",
            "type": "text/html",
            "href": answer.topic_url(entry.slug),
            "hreflang": entry.language,
            "title": entry.title,
        },
        {
            "rel": "related",
            "type": "application/json",
            "href": answer.topic_api_url(entry.slug),
            "hreflang": entry.language,
            "title": f"{entry.title} (JSON)",
        },
    ]


# ---- Atom --------------------------------------------------------------------------------------------


def _el(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def atom(answer: Answer) -> bytes:
    feed = etree.Element(
        f"{{{ATOM_NS}}}feed",
        {f"{{{XML_NS}}}lang": answer.language, f"{{{XML_NS}}}base": answer.base + "/"},
        nsmap={None: ATOM_NS},
    )
    _el(feed, "title", answer.title, type="text")
    _el(feed, "subtitle", answer.subtitle, type="text")
    author = _el(feed, "author")
    _el(author, "name", AUTHOR)
    _el(author, "uri", answer.base + "/")
    _el(feed, "updated", rfc3339(answer.updated))
    _el(feed, "id", answer.id)
    _el(feed, "link", rel="self", type=answer.request.response_type, href=answer.self_url)
    for category in echoed(answer):
        _el(feed, "category", **category)
    for entry in answer.entries:
        item = _el(feed, "entry", **{f"{{{XML_NS}}}lang": entry.language})
        _el(item, "title", entry.title, type="text")
        for link in _links(answer, entry):
            _el(item, "link", **link)
        _el(item, "id", entry.id)
        _el(item, "updated", rfc3339(entry.updated))
        _el(item, "summary", entry.summary_html, type="html")
        _el(item, "category", **_match_category(entry))
    return etree.tostring(feed, encoding="utf-8", xml_declaration=True)


# ---- JSON --------------------------------------------------------------------------------------------


def json_feed(answer: Answer) -> dict[str, Any]:
    entries = [
        {
            "lang": entry.language,
            "title": {"_value": entry.title, "type": "text"},
            "link": _links(answer, entry),
            "id": {"_value": entry.id},
            "updated": {"_value": rfc3339(entry.updated)},
            "summary": {"type": "html", "_value": entry.summary_html},
            "category": [_match_category(entry)],
        }
        for entry in answer.entries
    ]
    return {
        "feed": {
            "base": answer.base + "/",
            "lang": answer.language,
            "title": {"_value": answer.title, "type": "text"},
            "subtitle": {"_value": answer.subtitle, "type": "text"},
            "author": [{"name": {"_value": AUTHOR}, "uri": {"_value": answer.base + "/"}}],
            "updated": {"_value": rfc3339(answer.updated)},
            "id": {"_value": answer.id},
            "link": [{"rel": "self", "type": answer.request.response_type, "href": answer.self_url}],
            "category": echoed(answer),
            "entry": entries,
        }
    }
