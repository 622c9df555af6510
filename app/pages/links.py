"""Where a topic lives, for every answer that links to it: its page a person reads (`/topics/{slug}`, HTML)
and its JSON resource (`/v1/topics/{slug}`). `base` is the public base URL (PUBLIC_BASE_URL, else the
request's own), without a trailing slash."""

from __future__ import annotations

from urllib.parse import quote

PAGE_TYPE = "text/html"
JSON_TYPE = "application/json"


def topic_page_url(base: str, slug: str) -> str:
    return f"{base}/topics/{quote(slug, safe='')}"


def topic_json_url(base: str, slug: str) -> str:
    return f"{base}/v1/topics/{quote(slug, safe='')}"
