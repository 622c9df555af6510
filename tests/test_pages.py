"""Topic pages: server-rendered HTML a person can read, with the topic's claims, quotes, review dates,
source and licence, and its JSON-LD; cached like every public read; drafts and unknown slugs are 404s."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from app.content.schemas import TopicIn
from app.content.store import writing

SLUG = "fecal-microbiota-transplantation"


class Outline(HTMLParser):
    """What the page is made of: its headings, links, scripts (and their types) and the html lang."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = None
        self.headings: list[tuple[str, str]] = []
        self.scripts: list[dict] = []
        self.links: list[dict] = []
        self._heading: str | None = None
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag in ("h1", "h2", "h3"):
            self._heading = tag
            self.headings.append((tag, ""))
        elif tag == "script":
            self._script = {**attrs, "text": ""}
        elif tag == "a":
            self.links.append(attrs)

    def handle_endtag(self, tag):
        if tag == self._heading:
            self._heading = None
        if tag == "script" and self._script is not None:
            self.scripts.append(self._script)
            self._script = None

    def handle_data(self, data):
        if self._heading:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)
        if self._script is not None:
            self._script["text"] += data


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def test_a_topic_page_shows_the_topic_its_claims_quotes_source_and_json_ld(client):
    response = client.get(f"/topics/{SLUG}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src" not in response.headers["content-security-policy"]  # no script may run
    assert "default-src 'none'" in response.headers["content-security-policy"]
    topic = client.get(f"/v1/topics/{SLUG}").json()
    page = outline(response.text)
    assert page.lang == "en"
    assert [text for tag, text in page.headings if tag == "h1"] == [topic["title"]]
    assert {"Claims and their evidence", "Quotes", "Review and source"} <= {t for _, t in page.headings}
    for claim in topic["claims"]:
        full = client.get(f"/v1/claims/{claim['id']}").json()
        assert f'id="claim-{claim["id"]}"' in response.text
        assert full["evidence"]["strength"] in response.text
    for quote in topic["quotes"]:
        full = client.get(f"/v1/quotes/{quote['id']}").json()
        assert f"Speaking <strong>{full['specialty_fit']}</strong>" in response.text
    source = client.get(f"/v1/sources/{topic['source']['slug']}").json()
    assert (source["license"] or "not stated") in response.text
    (script,) = page.scripts
    assert script["type"] == "application/ld+json"
    document = json.loads(script["text"])
    assert document["@type"] == "MedicalWebPage" and document["name"] == topic["title"]
    assert '<meta name="viewport"' in response.text


def test_topic_pages_are_cached_and_drafts_and_unknown_slugs_are_404(client, seeded_db):
    first = client.get(f"/topics/{SLUG}")
    assert client.get(f"/topics/{SLUG}", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    missing = client.get("/topics/no-such-topic")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    with writing(seeded_db, "test") as writer:
        writer.put(
            "topic",
            "a-draft",
            TopicIn(source="gut-microbiome-autoimmune", title="Draft", summary="S.", body="B.", status="draft"),
        )
    assert client.get("/topics/a-draft").status_code == 404


def test_every_topic_has_a_page_and_the_infobutton_links_to_them(client):
    topics = client.get("/v1/topics", params={"limit": 100}).json()["items"]
    for topic in topics:
        assert client.get(f"/topics/{topic['slug']}").status_code == 200
    answer = client.get(
        "/v1/infobutton",
        params={
            "mainSearchCriteria.v.cs": "2.16.840.1.113883.6.90",
            "mainSearchCriteria.v.c": "M06.9",
            "knowledgeResponseType": "text/html",
        },
    )
    page = outline(answer.text)
    assert page.lang == "en" and page.scripts == []
    targets = [a["href"] for a in page.links if a.get("type") == "text/html"]
    assert targets
    for href in targets:
        assert client.get(href).status_code == 200
