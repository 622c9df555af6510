"""GET /v1/search: parse, delegate to the service, answer with the list envelope and facet counts."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.api.caching import cached_read_async
from app.api.deps import DatabaseDep, PageDep
from app.content.queries import MAX_FILTER_VALUES, Filters
from app.content.vocab import TherapyType
from app.core.errors import ValidationFailed
from app.core.pagination import cursor_epoch, decode_cursor, encode_cursor, next_link
from app.search import service

router = APIRouter(prefix="/v1", tags=["search"])


async def search_filters(
    condition: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_FILTER_VALUES,
            description=(
                "A condition's slug, or a code as `icd10cm:M06.9`, `mesh:D001172`; a parent condition "
                "includes its "
                "descendants. Repeat to match any of several (at most 20)."
            ),
        ),
    ] = None,
    therapy: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_FILTER_VALUES,
            description=(
                "A therapy's slug, e.g. `fecal-microbiota-transplantation`. "
                "Repeat to match any of several (at most 20)."
            ),
        ),
    ] = None,
    therapy_type: Annotated[
        list[TherapyType] | None,
        Query(
            max_length=MAX_FILTER_VALUES,
            description=("A therapy type from the vocabulary. Repeat to match any of several (at most 20)."),
        ),
    ] = None,
) -> Filters:
    """The list filters search shares: one name's values combine with OR, different names with AND."""
    return Filters(condition=condition or [], therapy=therapy or [], therapy_type=[t.value for t in therapy_type or []])


class SearchHit(BaseModel):
    resource: str = Field(description="topic, claim, quote, expert, condition or therapy.")
    key: str = Field(description="The record's slug or id.")
    title: str = Field(description="What to show for the hit: a title, name, or the start of a claim or quote.")
    snippet: str = Field(description="HTML: the best passage, escaped, with the matched words in `<mark>`.")
    score: float = Field(description="Relevance; higher is better. Comparable within one answer only.")
    url: str = Field(description="The record's path in this API.")


class SearchFacets(BaseModel):
    resource: dict[str, int] = Field(description="Hits per resource type (of the matches considered: see `complete`).")
    condition: dict[str, int] = Field(
        description="Claim, topic and quote hits per condition slug (a parent condition counts its descendants' hits)."
    )
    therapy_type: dict[str, int] = Field(description="Claim, topic and quote hits per therapy type.")
    complete: bool = Field(
        description="False when the words match over 1,000 published records: a search then considers the "
        "1,000 most recent matches and every matching condition, therapy and expert, so the hits, their "
        "pages and every count here (`resource` too) cover those only, and more may exist. True: every "
        "match was considered and the counts are exact."
    )


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    facets: SearchFacets


EXAMPLE = {
    "items": [
        {
            "resource": "condition",
            "key": "inflammatory-bowel-disease",
            "title": "Inflammatory bowel disease",
            "snippet": "<mark>Inflammatory bowel disease</mark>\n<mark>IBD</mark>; inflammatory bowel diseases",
            "score": 4.2,
            "url": "/v1/conditions/inflammatory-bowel-disease",
        }
    ],
    "next_cursor": None,
    "facets": {
        "resource": {"condition": 1, "claim": 3},
        "condition": {"inflammatory-bowel-disease": 3},
        "therapy_type": {"probiotic": 1},
        "complete": True,
    },
}
BAD_QUERY = ValidationFailed.openapi(
    "`q` is missing, empty, longer than 500 characters or over 32 words; or a filter names nothing known, or "
    "the cursor is not one this search handed out.",
    "The query field 'q' is invalid: String should have at most 500 characters.",
    errors=[{"location": "query", "field": "q", "message": "String should have at most 500 characters"}],
)


@router.get(
    "/search",
    name="search",
    summary="Search the content",
    response_model=SearchPage,
    description=(
        "Topics, claims, quotes, experts, conditions and therapies whose words match `q`, best first (bm25 on "
        "SQLite, ts_rank on PostgreSQL), with stemming (`probiotic` finds `probiotics`). Names, synonyms and "
        "abbreviations of conditions and therapies are expanded (`IBD`, `MS`, `RA`, `FMT`, `leaky gut`), and "
        "British and American spellings find each other (`fibre`/`fiber`, `faecal`/`fecal`). "
        "All words must match; punctuation and operators are ignored, so any text is safe to send. Each hit "
        "has a snippet in which the matched words stand in `<mark>`; the rest of the snippet is escaped "
        "HTML. "
        "Takes the `condition`, `therapy` and `therapy_type` filters of the lists, and `facets` counts every "
        "hit by resource, condition and therapy type so a frontend can draw filters. Words matching over "
        "1,000 records are answered from the 1,000 most recent matches plus every matching condition, "
        "therapy and expert, and `facets.complete` is false (see there). Published content only."
    ),
    responses={200: {"content": {"application/json": {"example": EXAMPLE}}}, 422: BAD_QUERY},
)
async def search(
    request: Request,
    db: DatabaseDep,
    page: PageDep,
    filters: Annotated[Filters, Depends(search_filters)],
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for, as typed.")],
) -> Response:
    offset = decode_cursor("search", page.cursor)

    def build(conn):
        epoch = cursor_epoch(conn, page.cursor)
        found = service.search(conn, q, filters, offset=offset, limit=page.limit)
        next_cursor = encode_cursor("search", offset + page.limit, epoch) if found["more"] else None
        headers = next_link(request, next_cursor)
        return {"items": found["items"], "next_cursor": next_cursor, "facets": found["facets"]}, headers

    return await cached_read_async(request, db, build, public=True, max_age=request.app.state.settings.cache_max_age)
