"""RFC 4287 (Atom) checked element by element: the cardinalities of section 4, the date-time construct of
3.3, the link rules of 4.2.7 and the text constructs of 3.1, over a document parsed by an XML parser."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TEXT_TYPES = {"text", "html", "xhtml"}


def _one(element, name: str, where: str):
    found = element.findall(ATOM + name)
    assert len(found) == 1, f"{where} must have exactly one atom:{name}, has {len(found)}"
    return found[0]


def _at_most_one(element, name: str, where: str):
    found = element.findall(ATOM + name)
    assert len(found) <= 1, f"{where} may have at most one atom:{name}"
    return found[0] if found else None


def _text_construct(element, where: str) -> None:
    kind = element.get("type", "text")
    assert kind in TEXT_TYPES, f"{where}: type {kind!r}"
    if kind in ("text", "html"):
        assert len(element) == 0, f"{where}: a {kind} construct holds no child elements"


def _date(element, where: str) -> None:
    assert DATE_TIME.match(element.text or ""), f"{where}: {element.text!r} is not an RFC 3339 date-time"


def _iri(value: str, where: str) -> None:
    assert value and not re.search(r"\s", value), f"{where}: {value!r} is not an IRI"
    assert urlsplit(value).scheme, f"{where}: {value!r} is not absolute"


def _person(element, where: str) -> None:
    _one(element, "name", where)
    assert len(element.findall(ATOM + "uri")) <= 1 and len(element.findall(ATOM + "email")) <= 1


def _links(element, where: str) -> list:
    links = element.findall(ATOM + "link")
    for link in links:
        assert link.get("href"), f"{where}: a link without href"
    alternates = Counter(
        (link.get("type"), link.get("hreflang")) for link in links if link.get("rel", "alternate") == "alternate"
    )
    assert all(n == 1 for n in alternates.values()), f"{where}: two alternate links share a type and hreflang"
    return links


def _categories(element, where: str) -> None:
    for category in element.findall(ATOM + "category"):
        assert category.get("term") is not None, f"{where}: a category without term"


def check(document: bytes) -> etree._Element:
    """The parsed feed, or an AssertionError naming the rule it breaks."""
    feed = etree.fromstring(document)
    assert feed.tag == ATOM + "feed", feed.tag
    _text_construct(_one(feed, "title", "feed"), "feed title")
    if (subtitle := _at_most_one(feed, "subtitle", "feed")) is not None:
        _text_construct(subtitle, "feed subtitle")
    _iri(_one(feed, "id", "feed").text, "feed id")
    _date(_one(feed, "updated", "feed"), "feed updated")
    authors = feed.findall(ATOM + "author")
    for author in authors:
        _person(author, "feed author")
    _links(feed, "feed")
    _categories(feed, "feed")
    for n, entry in enumerate(feed.findall(ATOM + "entry")):
        where = f"entry {n}"
        _text_construct(_one(entry, "title", where), where + " title")
        _iri(_one(entry, "id", where).text, where + " id")
        _date(_one(entry, "updated", where), where + " updated")
        if (summary := _at_most_one(entry, "summary", where)) is not None:
            _text_construct(summary, where + " summary")
        content = _at_most_one(entry, "content", where)
        links = _links(entry, where)
        if content is None:  # 4.1.1.1: without content, an entry has an alternate link
            assert any(link.get("rel", "alternate") == "alternate" for link in links), where
        # 4.1.2: an entry has an author unless the feed has one
        assert authors or entry.findall(ATOM + "author"), f"{where} has no author and neither has the feed"
        _categories(entry, where)
    return feed
