"""An Infobutton answer, independent of its format: the request echoed, and one entry per matched topic
with its link, summary (the topic's summary and its matching claims with their evidence) and why it
matched. The Atom, JSON and HTML renderers all read this one structure."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from app.content.documents import load_documents
from app.content.resources import RESOURCES
from app.infobutton.matching import Found, match
from app.infobutton.request import SYSTEM_NAMES, InfobuttonRequest
from app.pages.links import topic_json_url, topic_page_url
from app.partners.changes import newest_change

TAG_AUTHORITY = "tag:health-content.dev,2026"
MATCH_SCHEME = "https://health-content.dev/infobutton/match"
TITLE = "Health-content API"
AUTHOR = "Health-content API"
EPOCH = "1970-01-01T00:00:00Z"
MAX_ENTRIES = 20
CLAIMS_PER_ENTRY = 10


@dataclass
class Entry:
    slug: str
    title: str
    language: str
    summary: str  # the topic's summary
    summary_html: str  # the summary and the matching claims, escaped HTML
    updated: str
    level: str
    label: str
    claims: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{TAG_AUTHORITY}:topic:{self.slug}"


@dataclass
class Answer:
    request: InfobuttonRequest
    base: str  # the public base URL, no trailing slash
    self_url: str
    language: str  # of the content answered with
    updated: str
    entries: list[Entry]

    @property
    def id(self) -> str:
        digest = hashlib.blake2b(self.request.canonical().encode(), digest_size=12).hexdigest()
        return f"{TAG_AUTHORITY}:infobutton:{digest}"

    @property
    def title(self) -> str:
        return f"{TITLE}: {self.asked_for}"

    @property
    def asked_for(self) -> str:
        parts = []
        for criterion in self.request.criteria:
            if criterion.code:
                system = SYSTEM_NAMES.get(criterion.system or "", f"code system {criterion.system}")
                parts.append(
                    f"{system} {criterion.code}" + (f" ({criterion.display_name})" if criterion.display_name else "")
                )
            else:
                parts.append(" / ".join(criterion.texts))
        return "; ".join(parts)

    @property
    def subtitle(self) -> str:
        count = len(self.entries)
        return f"{count} topic{'s' if count != 1 else ''} for {self.asked_for}"

    def topic_url(self, slug: str) -> str:
        return topic_page_url(self.base, slug)

    def topic_api_url(self, slug: str) -> str:
        return topic_json_url(self.base, slug)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def summary_html(summary: str, claims: list[dict[str, Any]]) -> str:
    """The topic's summary, then each matching claim with its evidence; every piece of content escaped."""
    out = [f"<p>{_e(summary)}</p>"]
    if claims:
        out.append("<ul>")
        for claim in claims:
            evidence = claim["evidence"]
            out.append(
                f"<li>{_e(claim['text'])} <small>(evidence: {_e(evidence['kind'])}; "
                f"strength: {_e(evidence['strength'])})</small></li>"
            )
        out.append("</ul>")
    return "".join(out)


def _languages_wanted(entries: list[Entry], language: str) -> list[Entry]:
    """Entries in the language asked for when there are any; otherwise all (English, as we hold it)."""
    primary = language.split("-")[0]
    same = [e for e in entries if e.language.lower().split("-")[0] == primary]
    return same or entries


def build(conn: Connection, request: InfobuttonRequest, *, base: str, self_url: str) -> Answer:
    found: list[Found] = match(conn, request.criteria, request.therapy_types)
    topic_docs = load_documents(conn, RESOURCES["topic"], [f.topic_pk for f in found])
    claim_pks = [pk for f in found for pk in f.claim_pks[:CLAIMS_PER_ENTRY]]
    claim_docs = load_documents(conn, RESOURCES["claim"], claim_pks)
    entries = []
    for hit in found:
        topic = topic_docs.get(hit.topic_pk)
        if topic is None or topic["status"] != "published":
            continue
        claims = [claim_docs[pk] for pk in hit.claim_pks[:CLAIMS_PER_ENTRY] if pk in claim_docs]
        claims = [c for c in claims if c["status"] == "published"]
        entries.append(
            Entry(
                slug=topic["slug"],
                title=topic["title"],
                language=topic["language"],
                summary=topic["summary"],
                summary_html=summary_html(topic["summary"], claims),
                updated=max([topic["updated_at"], *(c["updated_at"] for c in claims)]),
                level=hit.level,
                label=hit.label,
                claims=claims,
            )
        )
    entries = _languages_wanted(entries, request.language)[:MAX_ENTRIES]
    languages = {e.language for e in entries}
    if entries:
        updated = max(e.updated for e in entries)
    else:
        newest = newest_change(conn)
        updated = newest[1] if newest else EPOCH
    return Answer(
        request=request,
        base=base,
        self_url=self_url,
        language=languages.pop() if len(languages) == 1 else "en",
        updated=updated,
        entries=entries,
    )
