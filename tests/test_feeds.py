"""The topic feeds: JSON Feed 1.1 and Atom, parsed and validated, filtered and paged like the topic list."""

from __future__ import annotations

from datetime import datetime

import feedparser
import jsonschema
import pytest
from lxml import etree

from app.content.documents import content_of, load_documents, pks_by_key
from app.content.resources import RESOURCES
from app.content.schemas import TopicIn
from app.content.store import writing
from tests.atom_rules import check

ATOM = "{http://www.w3.org/2005/Atom}"

# The JSON Feed 1.1 spec's required fields and types (https://jsonfeed.org/version/1.1).
JSON_FEED_SCHEMA = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string"},
        "feed_url": {"type": "string"},
        "next_url": {"type": "string"},
        "description": {"type": "string"},
        "language": {"type": "string"},
        "authors": {"type": "array", "items": {"$ref": "#/$defs/author"}},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
                "properties": {
                    "id": {"type": "string"},
                    "url": {"type": "string"},
                    "external_url": {"type": "string"},
                    "title": {"type": "string"},
                    "summary": {"type": "string"},
                    "content_html": {"type": "string"},
                    "date_published": {"type": "string"},
                    "date_modified": {"type": "string"},
                    "authors": {"type": "array", "items": {"$ref": "#/$defs/author"}},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "language": {"type": "string"},
                },
            },
        },
    },
    "$defs": {
        "author": {
            "type": "object",
            "anyOf": [{"required": ["name"]}, {"required": ["url"]}, {"required": ["avatar"]}],
        }
    },
}


def rfc3339(value: str) -> datetime:
    assert "T" in value and (value.endswith("Z") or value[-6] in "+-"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def topic_slugs(client, **params) -> list[str]:
    return [t["slug"] for t in client.get("/v1/topics", params={**params, "limit": 100}).json()["items"]]


def follow(client, url: str, params: dict | None = None) -> list[dict]:
    """Every page of a JSON Feed, by next_url."""
    pages = []
    while url:
        response = client.get(url, params=params)
        assert response.status_code == 200
        pages.append(response.json())
        url, params = pages[-1].get("next_url"), None
    return pages


def write_topic(db, slug: str, **changes) -> None:
    with writing(db, "test") as writer:
        conn = writer.conn
        spec = RESOURCES["topic"]
        pk = pks_by_key(conn, "topic", [slug])[slug]
        content = content_of(spec, load_documents(conn, spec, [pk])[pk]) | changes
        writer.put("topic", slug, TopicIn(**content))


def test_json_feed_validates_and_carries_each_topic_with_its_claims_and_quotes(client):
    response = client.get("/v1/feed.json", params={"limit": 100})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/feed+json"
    feed = response.json()
    jsonschema.validate(feed, JSON_FEED_SCHEMA)
    assert [item["id"].rsplit(":", 1)[1] for item in feed["items"]] == topic_slugs(client)
    assert "next_url" not in feed
    fmt = next(i for i in feed["items"] if i["id"].endswith(":fecal-microbiota-transplantation"))
    topic = client.get("/v1/topics/fecal-microbiota-transplantation").json()
    assert fmt["id"] == "tag:health-content.dev,2026:topic:fecal-microbiota-transplantation"
    assert fmt["url"] == "http://testserver/topics/fecal-microbiota-transplantation"  # the page a person reads
    page = client.get(fmt["url"].removeprefix("http://testserver"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert fmt["_health_content"]["json_url"] == "http://testserver/v1/topics/fecal-microbiota-transplantation"
    assert client.get(fmt["_health_content"]["json_url"].removeprefix("http://testserver")).json() == topic
    assert fmt["title"] == topic["title"] and fmt["summary"] == topic["summary"]
    assert fmt["language"] == "en" and fmt["authors"] and fmt["authors"][0]["name"]
    assert rfc3339(fmt["date_published"]) <= rfc3339(fmt["date_modified"])
    assert "Autoimmune disorders" in fmt["tags"] and "microbiota transplant" in fmt["tags"]  # names, not slugs
    assert "autoimmune-disorders" in fmt["_health_content"]["conditions"]
    claim = client.get(f"/v1/claims/{topic['claims'][0]['id']}").json()
    quote = client.get(f"/v1/quotes/{topic['quotes'][0]['id']}").json()
    html = fmt["content_html"]
    assert f"strength: {claim['evidence']['strength']}" in html
    assert quote["expert"]["name"] in html and "<blockquote>" in html


def test_atom_feed_is_well_formed_with_the_required_elements(client):
    response = client.get("/v1/feed.atom", params={"limit": 100})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(response.content)  # raises on anything not well-formed
    assert root.tag == f"{ATOM}feed"
    check(response.content)  # RFC 4287's rules, as for the Infobutton's Atom (one alternate per type)
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{name}") is not None, name
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == len(topic_slugs(client))
    for entry in entries:
        for name in ("id", "title", "updated", "published", "summary", "content", "author"):
            assert entry.find(f"{ATOM}{name}") is not None, name
        links = entry.findall(f"{ATOM}link")
        assert any(link.get("rel", "alternate") == "alternate" and link.get("href") for link in links)

    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    json_items = client.get("/v1/feed.json", params={"limit": 100}).json()["items"]
    assert [e.id for e in parsed.entries] == [i["id"] for i in json_items]
    first = parsed.entries[0]
    assert first.content[0].type == "text/html" and first.content[0].value == json_items[0]["content_html"]
    assert {t.label for t in first.tags} == set(json_items[0]["tags"])


@pytest.mark.parametrize(
    "params",
    [
        {"condition": "rheumatoid-arthritis"},
        {"condition": "icd10cm:M06.9"},
        {"condition": "autoimmune-disorders"},
        {"therapy_type": "probiotic"},
        {"therapy": "fecal-microbiota-transplantation"},
        {"source": "gut-microbiome-autoimmune", "lang": "en"},
    ],
)
def test_feeds_take_the_topic_lists_filters(client, params):
    expected = topic_slugs(client, **params)
    assert expected
    items = client.get("/v1/feed.json", params={**params, "limit": 100}).json()["items"]
    assert [i["id"].rsplit(":", 1)[1] for i in items] == expected
    atom = feedparser.parse(client.get("/v1/feed.atom", params={**params, "limit": 100}).content)
    assert [e.id.rsplit(":", 1)[1] for e in atom.entries] == expected


def test_feeds_page_by_next_url_and_rel_next_without_gaps(client):
    everything = topic_slugs(client)
    pages = follow(client, "/v1/feed.json", {"limit": 3})
    assert len(pages) > 1 and all(p["feed_url"] == pages[0]["feed_url"] for p in pages)
    assert [i["id"].rsplit(":", 1)[1] for p in pages for i in p["items"]] == everything
    seen, url, params = [], "/v1/feed.atom", {"limit": 3}
    while url:
        parsed = feedparser.parse(client.get(url, params=params).content)
        seen += [e.id.rsplit(":", 1)[1] for e in parsed.entries]
        url, params = next((link.href for link in parsed.feed.links if link.rel == "next"), None), None
    assert seen == everything


def test_public_base_url_makes_the_links_and_ids_do_not_depend_on_it(seeded_db):
    from tests.conftest import client_for

    with client_for(seeded_db, public_base_url="https://api.example.org/") as other:
        feed = other.get("/v1/feed.json", params={"limit": 1}).json()
    assert feed["next_url"].startswith("https://api.example.org/v1/feed.json?")
    assert feed["items"][0]["url"].startswith("https://api.example.org/topics/")
    assert feed["items"][0]["_health_content"]["json_url"].startswith("https://api.example.org/v1/topics/")
    with client_for(seeded_db, public_base_url="https://api.example.org/") as other:
        atom = etree.fromstring(other.get("/v1/feed.atom", params={"limit": 1}).content)
    hrefs = [
        link.get("href") for link in atom.iter("{http://www.w3.org/2005/Atom}link") if link.get("rel") == "alternate"
    ]
    slug = feed["items"][0]["_health_content"]["topic"]
    assert f"https://api.example.org/topics/{slug}" in hrefs and f"https://api.example.org/v1/topics/{slug}" in hrefs
    assert feed["items"][0]["id"].startswith("tag:health-content.dev,2026:topic:")


def test_content_is_escaped_and_drafts_stay_out(client, seeded_db):
    hostile = '<script>alert("x")</script> & <b>bold</b>'
    write_topic(seeded_db, "introduction", summary=hostile, body=f"First {hostile}\n\nSecond paragraph")
    items = client.get("/v1/feed.json", params={"limit": 100}).json()["items"]
    intro = next(i for i in items if i["id"].endswith(":introduction"))
    assert "<script>" not in intro["content_html"] and "&lt;script&gt;" in intro["content_html"]
    assert intro["summary"] == hostile  # plain text in JSON; escaping is the HTML's business
    atom = client.get("/v1/feed.atom", params={"limit": 100})
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo and b"<script>" not in atom.content
    write_topic(seeded_db, "introduction", status="draft")
    ids = [i["id"] for i in client.get("/v1/feed.json", params={"limit": 100}).json()["items"]]
    assert not any(i.endswith(":introduction") for i in ids)


def test_a_changed_claim_moves_date_modified_but_never_the_id(client, seeded_db):
    from app.content.schemas import ClaimIn

    before = {i["id"]: i for i in client.get("/v1/feed.json", params={"limit": 100}).json()["items"]}
    topic = client.get("/v1/topics/fecal-microbiota-transplantation").json()
    with writing(seeded_db, "test") as writer:
        conn = writer.conn
        spec = RESOURCES["claim"]
        key = topic["claims"][0]["id"]
        pk = pks_by_key(conn, "claim", [key])[key]
        content = content_of(spec, load_documents(conn, spec, [pk])[pk])
        writer.put("claim", key, ClaimIn(**{**content, "text": "A reworded claim."}))
    after = {i["id"]: i for i in client.get("/v1/feed.json", params={"limit": 100}).json()["items"]}
    assert after.keys() == before.keys()
    tag = "tag:health-content.dev,2026:topic:fecal-microbiota-transplantation"
    assert rfc3339(after[tag]["date_modified"]) > rfc3339(before[tag]["date_modified"])
    assert "A reworded claim." in after[tag]["content_html"]


@pytest.mark.parametrize("path", ["/v1/feed.json", "/v1/feed.atom"])
def test_feeds_answer_conditional_requests(client, seeded_db, path):
    first = client.get(path)
    assert first.headers["etag"] and first.headers["last-modified"]
    assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]}).status_code in (
        200,
        304,
    )
    assert client.get(path, headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status_code == 200
    write_topic(seeded_db, "introduction", summary="Changed.")
    assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "nonsense"},
        {"condition": "gout"},
        {"limit": 0},
        {"limit": 101},
        {"therapy_type": "surgery"},
    ],
)
@pytest.mark.parametrize("path", ["/v1/feed.json", "/v1/feed.atom"])
def test_bad_feed_parameters_are_422_problems(client, path, params):
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_list_cursor_is_not_a_feed_cursor(client):
    cursor = client.get("/v1/topics", params={"limit": 1}).json()["next_cursor"]
    assert client.get("/v1/feed.json", params={"cursor": cursor}).status_code == 422


def test_an_empty_store_has_a_valid_empty_feed(empty_client):
    feed = empty_client.get("/v1/feed.json").json()
    jsonschema.validate(feed, JSON_FEED_SCHEMA)
    assert feed["items"] == []
    parsed = feedparser.parse(empty_client.get("/v1/feed.atom").content)
    assert not parsed.bozo and parsed.entries == []
