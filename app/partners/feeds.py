"""Topic feeds: JSON Feed 1.1 and Atom (RFC 4287). An entry is a published topic whose content carries its
published claims (with their evidence) and quotes (with who said them). Pages are the topic list's pages,
so the feeds take the same filters and cursors behave the same way."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from sqlalchemy import Connection, select

from app import __version__
from app.content.documents import expand, load_documents, pks_by_key
from app.content.queries import Filters, list_page, resolve_conditions
from app.content.resources import RESOURCES
from app.content.vocab import Status
from app.pages.links import JSON_TYPE, PAGE_TYPE, topic_json_url, topic_page_url
from app.partners.changes import newest_change

# Tag URIs (RFC 4151) name entries for good: they survive a change of host name, scheme or API version.
TAG_AUTHORITY = "tag:health-content.dev,2026"
FEED_TITLE = "Health topics"
FEED_AUTHOR = "Health-content API"
EPOCH = "1970-01-01T00:00:00Z"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")  # BCP 47's shape


def topic_tag(slug: str) -> str:
    return f"{TAG_AUTHORITY}:topic:{slug}"


def feed_tag(filters: Filters) -> str:
    """One id per filtered feed: the same filters always name the same feed."""
    given = sorted((name, value) for name, values in filters.given().items() for value in sorted(values))
    if filters.max_grade is not None:
        given.append(("max_grade", f"{filters.max_grade:g}"))
    return f"{TAG_AUTHORITY}:feed" + (f"?{urlencode(given)}" if given else "")


@dataclass
class Links:
    """Absolute URLs a feed page points at (built by the router from the public base URL)."""

    base: str
    self_url: str
    first_url: str
    alternate_url: str
    next_url: str | None = None


@dataclass
class Entry:
    topic: dict[str, Any]
    source: dict[str, Any] | None
    claims: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    experts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def modified(self) -> str:
        stamps = [
            self.topic["updated_at"],
            *(c["updated_at"] for c in self.claims),
            *(q["updated_at"] for q in self.quotes),
        ]
        return max(stamps)


@dataclass
class FeedPage:
    entries: list[Entry]
    last_position: int | None
    updated: str
    title: str = FEED_TITLE


def _published_labels(conn: Connection, resource: str, keys: list[str]) -> dict[str, str]:
    """The names of the published records among `keys` (an unpublished one is never named in public)."""
    spec = RESOURCES[resource]
    table = spec.table
    rows = conn.execute(
        select(table.c.key, table.c[spec.label]).where(table.c.key.in_(keys), table.c.status == Status.published.value)
    ).all()
    return {key: label for key, label in rows}


def feed_title(conn: Connection, filters: Filters) -> str:
    """ "Health topics", or for a filtered feed what it is filtered by: "Health topics: Rheumatoid arthritis".
    Values of one filter are joined by "or", different filters by ";", as the filters combine."""
    parts = []
    for name, values in filters.given().items():
        if name == "condition":
            slugs = {value: resolve_conditions(conn, [value]) for value in values}
            names = _published_labels(conn, "condition", [s for found in slugs.values() for s in found])
            labels = [" or ".join(names.get(s, s) for s in slugs[value]) or value for value in values]
        elif name in ("therapy", "source", "topic", "expert"):
            names = _published_labels(conn, name, list(values))
            labels = [names.get(value, value) for value in values]
        elif name == "therapy_type":
            labels = [value.replace("-", " ") for value in values]
        else:  # `lang` is not checked against a list: only a well-formed tag is repeated in a title
            labels = [f"language {value}" for value in values if LANGUAGE_TAG.fullmatch(value)]
        if labels:
            parts.append(" or ".join(labels))
    return f"{FEED_TITLE}: {'; '.join(parts)}" if parts else FEED_TITLE


def _published_children(conn: Connection, resource: str, topic_pks: list[int]) -> list[dict[str, Any]]:
    spec = RESOURCES[resource]
    table = spec.table
    # Published is checked here, not in SQL: given `status = ?`, SQLite plans with the status index, which
    # matches nearly every row (a feed page took 250 ms at a million claims instead of 1 ms).
    rows = (
        conn.execute(
            select(table.c.pk, table.c.status).where(table.c.topic_pk.in_(topic_pks)).order_by(table.c.pk)
        ).all()
        if topic_pks
        else []
    )
    pks = [pk for pk, status in rows if status == Status.published.value]
    docs = load_documents(conn, spec, pks)
    return expand(conn, spec, [docs[pk] for pk in pks], public=True)


def _documents_by_key(conn: Connection, resource: str, keys: set[str]) -> dict[str, dict[str, Any]]:
    spec = RESOURCES[resource]
    docs = load_documents(conn, spec, list(pks_by_key(conn, resource, keys).values()))
    return {doc[spec.key_field]: doc for doc in docs.values()}


def feed_page(conn: Connection, filters: Filters, *, after: int, limit: int) -> FeedPage:
    """One page of entries: a fixed number of queries whatever the page length."""
    page = list_page(conn, RESOURCES["topic"], filters, after=after, limit=limit)
    topic_pks = list(pks_by_key(conn, "topic", [t["slug"] for t in page.items]).values())
    claims: dict[str, list] = defaultdict(list)
    for claim in _published_children(conn, "claim", topic_pks):
        claims[claim["topic"]["slug"]].append(claim)
    quotes: dict[str, list] = defaultdict(list)
    for quote in _published_children(conn, "quote", topic_pks):
        if quote["expert"] is not None:  # a quote is shown with who said it: not while they are unpublished
            quotes[quote["topic"]["slug"]].append(quote)
    experts = _documents_by_key(conn, "expert", {q["expert"]["slug"] for qs in quotes.values() for q in qs})
    sources = _documents_by_key(conn, "source", {t["source"]["slug"] for t in page.items if t["source"]})
    entries = [
        Entry(
            topic=topic,
            source=sources.get((topic["source"] or {}).get("slug", "")),
            claims=claims[topic["slug"]],
            quotes=quotes[topic["slug"]],
            experts=experts,
        )
        for topic in page.items
    ]
    newest = newest_change(conn)
    return FeedPage(
        entries=entries,
        last_position=page.last_position,
        updated=newest[1] if newest else EPOCH,
        title=feed_title(conn, filters),
    )


# ---- what an entry says ------------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{'<br>'.join(_e(line) for line in part.splitlines())}</p>" for part in parts)


def _evidence_html(evidence: dict[str, Any]) -> str:
    words = [f"evidence: {_e(evidence['kind'])}", f"strength: {_e(evidence['strength'])}"]
    if evidence.get("stated_as"):
        words.append(f"as the source puts it: \u201c{_e(evidence['stated_as'])}\u201d")
    text = "; ".join(words)
    if evidence.get("citations"):
        text += "<br>cited: " + "; ".join(_e(c) for c in evidence["citations"])
    return f"<small>{text}</small>"


def _expert_line(expert: dict[str, Any] | None, fallback: str) -> str:
    if not expert:
        return _e(fallback)
    name = " ".join(p for p in (expert.get("honorific"), expert["name"]) if p)
    if expert.get("credentials"):
        name += ", " + ", ".join(expert["credentials"])
    role = ", ".join(p for p in (expert.get("job_title"), expert.get("affiliation")) if p)
    return _e(name) + (f", {_e(role)}" if role else "")


def _notes_html(provenance: dict[str, Any], cautions: list[dict[str, Any]]) -> str:
    """Inferred fields and cautions, in small print under what they qualify."""
    lines = [f"{_e(name)} ({_e(given['basis'])}): {_e(given.get('note') or '')}" for name, given in provenance.items()]
    for caution in cautions:
        term = f" ({_e(caution['term'])})" if caution.get("term") else ""
        lines.append(f"Caution{term}: {_e(caution['text'])}")
    return "".join(f"<p><small>{line}</small></p>" for line in lines)


def content_html(entry: Entry) -> str:
    """The topic's text, then its claims with their evidence, then its quotes with who said them; every
    piece of content is escaped, so nothing in the data can become markup."""
    topic = entry.topic
    out = [f"<p><strong>{_e(topic['summary'])}</strong></p>", _paragraphs(topic["body"])]
    if entry.claims:
        out.append("<h3>Claims</h3><ul>")
        for claim in entry.claims:
            who = f" (said by {_e(claim['expert']['name'])})" if claim.get("expert") else ""
            notes = _notes_html(
                claim.get("provenance") or {}, claim.get("cautions", []) + claim.get("related_cautions", [])
            )
            out.append(f"<li><p>{_e(claim['text'])}{who}</p><p>{_evidence_html(claim['evidence'])}</p>{notes}</li>")
        out.append("</ul>")
    if entry.quotes:
        out.append("<h3>Quotes</h3>")
        for quote in entry.quotes:
            expert = entry.experts.get(quote["expert"]["slug"])
            out.append(
                f"<blockquote><p>\u201c{_e(quote['text'])}\u201d</p>"
                f"<footer>\u2014 {_expert_line(expert, quote['expert']['name'])}</footer></blockquote>"
            )
    source_notes = {k: v for k, v in ((entry.source or {}).get("provenance") or {}).items() if k in ("author", "title")}
    out.append(_notes_html({**source_notes, **(topic.get("provenance") or {})}, []))
    return "".join(out)


def _authors(entry: Entry) -> list[dict[str, Any]]:
    source = entry.source or {}
    author = source.get("author") or {}
    if author.get("name"):
        provenance = (source.get("provenance") or {}).get("author")
        return [{"name": author["name"], **({"_provenance": provenance} if provenance else {})}]
    if source.get("publisher"):
        return [{"name": source["publisher"]}]
    return [{"name": FEED_AUTHOR}]


def _tags(entry: Entry) -> list[tuple[str, str, str]]:
    """(vocabulary, term, label) for the topic's conditions and therapy types."""
    tags = [("conditions", c["slug"], c["name"]) for c in entry.topic["conditions"]]
    types = dict.fromkeys(t["type"] for t in entry.topic["therapies"] if t.get("type"))
    tags += [("therapy-types", str(kind), str(kind).replace("-", " ")) for kind in types]
    return tags


def _entry_links(links: Links, entry: Entry) -> list[dict[str, str]]:
    """An entry's links: first its page a person reads (what a reader opens), then the same topic as JSON,
    then the published piece the topic comes from. Two `alternate` links differ by type, as RFC 4287
    allows; a reader that takes the first alternate opens the page."""
    topic = entry.topic
    lang = topic["language"]
    found = [
        {"rel": "alternate", "type": PAGE_TYPE, "hreflang": lang, "href": topic_page_url(links.base, topic["slug"])},
        {"rel": "alternate", "type": JSON_TYPE, "hreflang": lang, "href": topic_json_url(links.base, topic["slug"])},
    ]
    if entry.source and entry.source.get("url"):  # the published piece the topic comes from, a web page
        found.append({"rel": "related", "type": "text/html", "href": entry.source["url"]})
    return found


# ---- JSON Feed 1.1 -----------------------------------------------------------------------------------


def json_feed(page: FeedPage, filters: Filters, links: Links) -> dict[str, Any]:
    items = []
    for entry in page.entries:
        topic = entry.topic
        item: dict[str, Any] = {
            "id": topic_tag(topic["slug"]),
            "url": topic_page_url(links.base, topic["slug"]),  # the page a person reads
            "title": topic["title"],
            "summary": topic["summary"],
            "content_html": content_html(entry),
            "date_published": topic["created_at"],
            "date_modified": entry.modified,
            "authors": _authors(entry),
            "language": topic["language"],
            "tags": [label for _, _, label in _tags(entry)],  # names a reader shows; slugs are below
            "_health_content": {
                "topic": topic["slug"],
                "json_url": topic_json_url(links.base, topic["slug"]),  # the same topic as the API's JSON
                "source": (topic["source"] or {}).get("slug"),
                "conditions": [c["slug"] for c in topic["conditions"]],
                "therapy_types": [term for vocabulary, term, _ in _tags(entry) if vocabulary == "therapy-types"],
                "claims": [c["id"] for c in entry.claims],
                "quotes": [q["id"] for q in entry.quotes],
                "provenance": {"source": (entry.source or {}).get("provenance") or {}, "topic": topic["provenance"]},
                "cautions": {c["id"]: c["cautions"] + c["related_cautions"] for c in entry.claims},
                "reading_grade": topic["reading_grade"],
            },
        }
        if entry.source and entry.source.get("url"):
            item["external_url"] = entry.source["url"]
        items.append(item)
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": page.title,
        "home_page_url": f"{links.base}/",  # the explorer page, where a person browses the same topics
        "feed_url": links.first_url,
        "description": "Published health topics, each with its claims (and their evidence) and its quotes.",
        "authors": [{"name": FEED_AUTHOR}],
        "items": items,
    }
    if language := _language(page, filters):
        feed["language"] = language
    if links.next_url:
        feed["next_url"] = links.next_url
    return feed


# ---- Atom --------------------------------------------------------------------------------------------


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class _NoFeedExtension(BaseExtension):
    pass


class _EntryLinksAndLanguage(BaseEntryExtension):
    """Writes an entry's links and `xml:lang` itself. feedgen 1.0's `atom_entry` reuses its loop variable
    for the element it makes, so the `rel` and `type` given to `entry.link()` never reach the XML (readers
    then take every link for `rel="alternate" type="text/html"`)."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.lang: str | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for link in self.links:
            etree.SubElement(entry, "link", link)
        if self.lang:
            entry.set(XML_LANG, self.lang)
        return entry


def _language(page: FeedPage, filters: Filters) -> str | None:
    """The feed's language: the one asked for, or the one all its entries share."""
    if filters.lang:
        return filters.lang[0] if LANGUAGE_TAG.fullmatch(filters.lang[0]) else None
    languages = {entry.topic["language"] for entry in page.entries}
    return languages.pop() if len(languages) == 1 else None


def atom_feed(page: FeedPage, filters: Filters, links: Links) -> bytes:
    generator = FeedGenerator()
    generator.register_extension("entry_links", _NoFeedExtension, _EntryLinksAndLanguage, atom=True, rss=False)
    generator.id(feed_tag(filters))
    generator.title(page.title)
    generator.subtitle("Published health topics, each with its claims (and their evidence) and its quotes.")
    generator.updated(_when(page.updated))
    generator.author({"name": FEED_AUTHOR})
    generator.generator("health-content-api", version=__version__)
    generator.link(href=links.self_url, rel="self", type="application/atom+xml")
    generator.link(href=links.first_url, rel="first", type="application/atom+xml")
    generator.link(href=links.alternate_url, rel="alternate", type="application/feed+json")
    if links.next_url:
        generator.link(href=links.next_url, rel="next", type="application/atom+xml")
    if language := _language(page, filters):
        generator.language(language)  # feedgen writes it as the feed's `xml:lang`
    for entry in page.entries:
        topic = entry.topic
        item = generator.add_entry(order="append")
        item.id(topic_tag(topic["slug"]))
        item.title(topic["title"])
        extra = item.entry_links
        extra.links.extend(_entry_links(links, entry))
        extra.lang = topic["language"]
        item.published(_when(topic["created_at"]))
        item.updated(_when(entry.modified))
        item.summary(topic["summary"])
        item.content(content_html(entry), type="html")
        for author in _authors(entry):
            item.author({"name": author["name"]})  # an inferred author's note is in the content
        for vocabulary, term, label in _tags(entry):
            item.category(term=term, scheme=f"{TAG_AUTHORITY}:{vocabulary}", label=label)
    return generator.atom_str(pretty=False)
