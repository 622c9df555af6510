"""`GET /topics/{slug}`: a topic as a page a person can read. HTML only, so a link typed `text/html` (the
feeds', the Infobutton answers', the explorer's) opens a page. Cached like every public read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.api.caching import cached_read_async
from app.api.deps import DatabaseDep
from app.core.errors import NotFoundError
from app.pages.templating import PAGE_CSP, render
from app.pages.topic import topic_page

HTML = "text/html; charset=utf-8"
router = APIRouter()

HTML_EXAMPLE = (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>Fecal microbiota transplantation</title>\n"
    '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "MedicalWebPage", ...}'
    '</script>\n</head>\n<body>\n<main id="main">\n<article lang="en">\n'
    "<h1>Fecal microbiota transplantation</h1>\n...\n</article>\n</main>\n</body>\n</html>"
)


@router.get(
    "/topics/{slug}",
    summary="A topic as a page to read",
    name="topic_page",
    tags=["pages"],
    response_class=Response,
    description="The topic as a server-rendered HTML page: title, summary and text, its published claims with "
    "their evidence and the source's words, its quotes with the expert and their specialty fit, review dates, "
    "the source and its licence, and the topic's schema.org JSON-LD in the page. No script, nothing loaded "
    "from elsewhere, readable on a phone. The feeds, the Infobutton answers and the explorer link here. "
    "`ETag` and `304` like every public read.",
    responses={
        200: {
            "description": "The page.",
            "content": {"text/html": {"schema": {"type": "string"}, "example": HTML_EXAMPLE}},
        },
        404: NotFoundError.openapi("No published topic has this slug.", "No topic has the slug 'no-such-topic'."),
    },
)
async def topic(request: Request, db: DatabaseDep, slug: Annotated[str, Path(max_length=200)]) -> Response:
    base = (request.app.state.settings.public_base_url or str(request.base_url)).rstrip("/")

    def build(conn):
        context = topic_page(conn, slug, base)
        page = render("topic.html", lang=context["topic"]["language"], page_title=context["topic"]["title"], **context)
        return page, {"Content-Security-Policy": PAGE_CSP}

    return await cached_read_async(
        request, db, build, public=True, media_type=HTML, max_age=request.app.state.settings.cache_max_age
    )
