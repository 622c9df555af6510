"""Read routes of the content resources: one list and one detail route per resource (`list_claims`,
`get_claim`, ...), each parsing its parameters and delegating to `list_records` or `get_record`, so every
resource behaves alike; `build_router` documents them from the registry. Queries live in
app.content.queries."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from starlette.responses import Response

from app.api.caching import Built, cached_read_async
from app.api.deps import DatabaseDep, PageDep, PageParams, PrincipalDep
from app.api.examples import DETAIL_EXAMPLES, EXAMPLES
from app.api.principal import Principal
from app.api.validity import PageScope
from app.content import jsonld, queries
from app.content.documents import record_etag_of
from app.content.params import (
    ClaimFilters,
    ConditionFilters,
    ExpertFilters,
    QuoteFilters,
    SourceFilters,
    StatusesDep,
    TherapyFilters,
    TopicFilters,
)
from app.content.queries import Filters
from app.content.resources import RESOURCES, ResourceSpec
from app.content.vocab import Status, TherapyType
from app.core.db import Database, store_epoch
from app.core.errors import BadParameter, NotFoundError
from app.core.pagination import cursor_epoch, decode_cursor, encode_cursor, next_link

T = TypeVar("T")


class ListPage(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def page_model(item: type[BaseModel]) -> type[BaseModel]:
    """A page of `item`s as a named class (`ClaimPage`), so the document and generated clients get a clean
    name rather than `ListPage_ClaimOut_`."""
    name = item.__name__.removesuffix("Out") + "Page"
    page = ListPage[item]  # type: ignore[valid-type]  # the item type is chosen at run time
    return type(name, (page,), {"__module__": __name__, "__doc__": f"A page of {name[:-4].lower()}s."})


class TherapyTypeOut(BaseModel):
    type: TherapyType
    description: str
    therapy_count: int
    claim_count: int


BAD_PARAMETER = BadParameter.openapi(
    "A parameter is invalid (an unknown or unpublished condition, therapy, topic, source or expert: both are "
    "the same answer; a bad cursor; a limit over 100).",
    "Query parameter 'condition' names no known condition: 'gout'.",
    errors=[{"location": "query", "field": "condition", "message": "names no known condition: 'gout'"}],
)


def not_found(spec: ResourceSpec) -> dict[str, Any]:
    return NotFoundError.openapi(
        f"No published {spec.name} has this key.", f"No {spec.name} has the {spec.key_field} 'unknown'."
    )


async def list_records(
    request: Request, db: Database, spec: ResourceSpec, filters: Filters, page: PageParams, statuses: tuple[str, ...]
) -> Response:
    """A page of `spec`'s records: public (cached, shared) when only published ones are listed."""
    public = statuses == (Status.published.value,)
    after = decode_cursor(spec.plural, page.cursor)

    shown: list[queries.Page] = []

    def build(conn: Connection) -> Built:
        epoch = cursor_epoch(conn, page.cursor)
        result = queries.list_page(
            conn, spec, filters, after=after, limit=page.limit, statuses=statuses, rendered=public
        )
        shown.append(result)
        next_cursor = encode_cursor(spec.plural, result.last_position, epoch) if result.last_position else None
        headers = next_link(request, next_cursor)
        return {"items": result.items, "next_cursor": next_cursor}, headers

    def page_of() -> PageScope | None:
        """What the page shows and spans, so that a write elsewhere leaves it kept (`api/validity.py`)."""
        depends = queries.page_depends(spec, filters)
        if depends is None or not shown:
            return None
        last = shown[-1]
        return PageScope(spec.name, frozenset(last.pks), after, last.last_position, depends)

    max_age = request.app.state.settings.cache_max_age
    return await cached_read_async(
        request, db, build, public=public, max_age=max_age, salt=filters.salt(), page_of=page_of
    )


async def get_record(request: Request, db: Database, principal: Principal, spec: ResourceSpec, key: str) -> Response:
    """One record of `spec`; editors also see drafts and retracted ones, tagged by their revision."""
    statuses = tuple(s.value for s in Status) if principal.is_editor else (Status.published.value,)
    if jsonld.wanted(request.headers.get("accept")):  # the same record as schema.org JSON-LD
        base = request.app.state.settings.public_base_url or str(request.base_url)  # never the Host, when set
        return await cached_read_async(
            request,
            db,
            lambda conn: (jsonld.document(spec.name, queries.get_one(conn, spec, key, statuses=statuses), base), {}),
            public=not principal.is_editor,
            media_type=jsonld.MEDIA_TYPE,
            max_age=request.app.state.settings.cache_max_age,
        )
    if not principal.is_editor:  # the public detail: the read model's body and the detail's extras
        return await cached_read_async(
            request,
            db,
            lambda conn: (queries.detail_bytes(conn, spec, key), {}),
            public=True,
            max_age=request.app.state.settings.cache_max_age,
        )
    epochs: list[str] = []

    def build(conn: Connection) -> Built:
        epochs.append(store_epoch(conn).name)  # the record's tag names the epoch of the snapshot it is read in
        return queries.get_one(conn, spec, key, statuses=statuses), {}

    return await cached_read_async(
        request,
        db,
        build,
        public=False,
        max_age=request.app.state.settings.cache_max_age,
        etag_of=lambda doc: record_etag_of(spec, doc, epochs[-1]),
    )


# ---- the routes, one list and one detail per resource; build_router gives them their documentation ----

CONDITION, THERAPY, EXPERT, SOURCE, TOPIC, CLAIM, QUOTE = (
    RESOURCES[name] for name in ("condition", "therapy", "expert", "source", "topic", "claim", "quote")
)
SlugPath = Annotated[str, Path(alias="slug", max_length=200)]
IdPath = Annotated[str, Path(alias="id", max_length=200)]


async def list_conditions(
    request: Request, db: DatabaseDep, page: PageDep, statuses: StatusesDep, filters: ConditionFilters
) -> Response:
    return await list_records(request, db, CONDITION, filters, page, statuses)


async def get_condition(request: Request, db: DatabaseDep, principal: PrincipalDep, key: SlugPath) -> Response:
    return await get_record(request, db, principal, CONDITION, key)


async def list_therapies(
    request: Request, db: DatabaseDep, page: PageDep, statuses: StatusesDep, filters: TherapyFilters
) -> Response:
    return await list_records(request, db, THERAPY, filters, page, statuses)


async def get_therapy(request: Request, db: DatabaseDep, principal: PrincipalDep, key: SlugPath) -> Response:
    return await get_record(request, db, principal, THERAPY, key)


async def list_experts(
    request: Request, db: DatabaseDep, page: PageDep, statuses: StatusesDep, filters: ExpertFilters
) -> Response:
    return await list_records(request, db, EXPERT, filters, page, statuses)


async def get_expert(request: Request, db: DatabaseDep, principal: PrincipalDep, key: SlugPath) -> Response:
    return await get_record(request, db, principal, EXPERT, key)


async def list_sources(
    request: Request, db: DatabaseDep, page: PageDep, statuses: StatusesDep, filters: SourceFilters
) -> Response:
    return await list_records(request, db, SOURCE, filters, page, statuses)


async def get_source(request: Request, db: DatabaseDep, principal: PrincipalDep, key: SlugPath) -> Response:
    return await get_record(request, db, principal, SOURCE, key)


async def list_topics(
    request: Request, db: DatabaseDep, page: PageDep, statuses: StatusesDep, filters: TopicFilters
) -> Response:
    return await list_records(request, db, TOPIC, filters, page, statuses)


async def get_topic(request: Request, db: DatabaseDep, principal: PrincipalDep, key: SlugPath) -> Response:
    return await get_record(request, db, principal, TOPIC, key)


async def list_claims(
    request: Request, db: DatabaseDep, page: PageDep, statuses: StatusesDep, filters: ClaimFilters
) -> Response:
    return await list_records(request, db, CLAIM, filters, page, statuses)


async def get_claim(request: Request, db: DatabaseDep, principal: PrincipalDep, key: IdPath) -> Response:
    return await get_record(request, db, principal, CLAIM, key)


async def list_quotes(
    request: Request, db: DatabaseDep, page: PageDep, statuses: StatusesDep, filters: QuoteFilters
) -> Response:
    return await list_records(request, db, QUOTE, filters, page, statuses)


async def get_quote(request: Request, db: DatabaseDep, principal: PrincipalDep, key: IdPath) -> Response:
    return await get_record(request, db, principal, QUOTE, key)


ROUTES: dict[str, tuple[Callable[..., Awaitable[Response]], Callable[..., Awaitable[Response]]]] = {
    "condition": (list_conditions, get_condition),
    "therapy": (list_therapies, get_therapy),
    "expert": (list_experts, get_expert),
    "source": (list_sources, get_source),
    "topic": (list_topics, get_topic),
    "claim": (list_claims, get_claim),
    "quote": (list_quotes, get_quote),
}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1")
    assert ROUTES.keys() == RESOURCES.keys(), "every resource has its list and detail route"
    for spec in RESOURCES.values():
        list_route, detail_route = ROUTES[spec.name]
        tag = spec.plural
        filters = ", ".join(f"`{name}`" for name in spec.filters) or "none"
        router.add_api_route(
            f"/{spec.plural}",
            list_route,
            methods=["GET"],
            name=f"list_{spec.plural}",
            summary=f"List {spec.plural}",
            tags=[tag],
            response_model=page_model(spec.out_schema),
            description=(
                f"{spec.description}\n\nPublished {spec.plural} in a stable order (oldest first), "
                f'`limit` per page (default 20, at most 100); follow `next_cursor` or the `Link: rel="next"` '
                f"header. Filters: {filters}. Values of one filter combine with OR, different filters with AND. "
                f"Answers carry an `ETag`; send it back as `If-None-Match` to get `304` when nothing changed."
            ),
            responses={
                200: {
                    "content": {"application/json": {"example": {"items": [EXAMPLES[spec.name]], "next_cursor": None}}}
                },
                422: BAD_PARAMETER,
            },
        )
        router.add_api_route(
            f"/{spec.plural}/{{{spec.key_field}}}",
            detail_route,
            methods=["GET"],
            name=f"get_{spec.name}",
            summary=f"Get one {spec.name}",
            tags=[tag],
            response_model=spec.out_schema,
            description=f"One {spec.name} by its {spec.key_field}, with its related items embedded. "
            f"Editors also see drafts and retracted records. With `Accept: application/ld+json` "
            f"the answer is schema.org JSON-LD (`{jsonld.SCHEMA_TYPES[spec.name]}`).",
            responses={
                200: {
                    "content": {
                        "application/json": {"example": DETAIL_EXAMPLES[spec.name]},
                        **jsonld.openapi_content(spec.name, EXAMPLES[spec.name]),
                    }
                },
                404: not_found(spec),
            },
        )

    @router.get(
        "/therapy-types",
        summary="List therapy types",
        tags=["therapies"],
        response_model=list[TherapyTypeOut],
        name="list_therapy_types",
        description="The fixed vocabulary of therapy types, each with a description and how many "
        "published therapies and claims it has.",
        responses={
            200: {
                "content": {
                    "application/json": {
                        "example": [
                            {
                                "type": "probiotic",
                                "description": "Live microorganisms taken to benefit the host.",
                                "therapy_count": 1,
                                "claim_count": 4,
                            }
                        ]
                    }
                }
            }
        },
    )
    async def list_therapy_types(request: Request, db: DatabaseDep) -> Response:
        return await cached_read_async(
            request,
            db,
            lambda conn: (queries.therapy_types(conn), {}),
            public=True,
            max_age=request.app.state.settings.cache_max_age,
        )

    return router
