"""Feeds as a reader follows them: links typed by what they answer, titles saying what a feed is filtered
by, the language declared, tags a person can read. And a refused CORS preflight is a problem document."""

from __future__ import annotations

import feedparser
import pytest
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def test_atom_entry_links_carry_the_rel_and_type_of_what_they_answer(client):
    """Each entry's first alternate is the topic's page (HTML, what a reader opens); a second alternate
    is the same topic as JSON. Every link answers with the type it announces."""
    root = etree.fromstring(client.get("/v1/feed.atom", params={"limit": 100}).content)
    entries = root.findall(f"{ATOM}entry")
    assert entries
    for entry in entries:
        links = entry.findall(f"{ATOM}link")
        assert links and all(link.get("rel") and link.get("type") for link in links)
        alternates = [link for link in links if link.get("rel") == "alternate"]
        assert [link.get("type") for link in alternates] == ["text/html", "application/json"]
        assert {link.get("hreflang") for link in alternates} == {entry.get(XML_LANG)}
        for link in alternates:
            answer = client.get(link.get("href").removeprefix("http://testserver"))
            assert answer.status_code == 200
            assert answer.headers["content-type"].split(";")[0] == link.get("type")
    parsed = feedparser.parse(etree.tostring(root))
    for entry in parsed.entries:  # what a reader sees: the entry's link is its page, typed as one
        slug = entry.id.rsplit(":", 1)[1]
        assert entry.link == f"http://testserver/topics/{slug}"
        [page] = [link for link in entry.links if link.rel == "alternate" and link.type == "text/html"]
        [json_link] = [link for link in entry.links if link.rel == "alternate" and link.type == "application/json"]
        assert page.href == entry.link and json_link.href == f"http://testserver/v1/topics/{slug}"


@pytest.mark.parametrize(
    ("params", "title"),
    [
        ({}, "Health topics"),
        ({"condition": "rheumatoid-arthritis"}, "Health topics: Rheumatoid arthritis"),
        ({"condition": "icd10cm:M06.9"}, "Health topics: Rheumatoid arthritis"),
        ({"therapy_type": ["probiotic", "prebiotic"]}, "Health topics: probiotic or prebiotic"),
        (
            {"condition": "rheumatoid-arthritis", "therapy": "fecal-microbiota-transplantation"},
            "Health topics: Rheumatoid arthritis; Fecal microbiota transplantation",
        ),
    ],
)
def test_a_filtered_feed_is_titled_by_its_filter(client, params, title):
    assert client.get("/v1/feed.json", params=params).json()["title"] == title
    assert feedparser.parse(client.get("/v1/feed.atom", params=params).content).feed.title == title


def test_a_filter_naming_an_unpublished_record_does_not_reveal_its_name(client, seeded_db):
    from tests.test_changes import put_changed

    put_changed(seeded_db, "therapy", "fecal-microbiota-transplantation", name="Secret draft name", status="draft")
    answer = client.get("/v1/feed.json", params={"therapy": "fecal-microbiota-transplantation"})
    assert "Secret draft name" not in answer.text


def test_atom_declares_its_language_and_each_entrys(client):
    root = etree.fromstring(client.get("/v1/feed.atom").content)
    assert root.get(XML_LANG) == "en"
    assert all(entry.get(XML_LANG) == "en" for entry in root.findall(f"{ATOM}entry"))
    assert etree.fromstring(client.get("/v1/feed.atom", params={"lang": "en"}).content).get(XML_LANG) == "en"


def test_json_feed_tags_are_names_and_home_page_is_not_the_api_reference(client):
    feed = client.get("/v1/feed.json", params={"limit": 100}).json()
    assert not feed["home_page_url"].endswith("/docs")
    home = client.get(feed["home_page_url"].removeprefix("http://testserver"))
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    conditions = {c["slug"]: c["name"] for c in client.get("/v1/conditions", params={"limit": 100}).json()["items"]}
    tagged = [item for item in feed["items"] if item["_health_content"]["conditions"]]
    assert tagged
    for item in tagged:
        for slug in item["_health_content"]["conditions"]:
            assert conditions[slug] in item["tags"] and slug not in item["tags"]


def test_a_refused_cors_preflight_is_a_problem(client):
    refused = client.options(
        "/v1/claims",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "DELETE"},
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 400 and "method" in problem["detail"].lower()
    allowed = client.options(
        "/v1/claims", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    )
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"]
