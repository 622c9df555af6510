"""Read routes of the content resources, one list and one detail route per resource, made from the
registry so every resource behaves alike. The routes parse and delegate; queries live in
app.content.queries."""

import functools
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.api.deps import DatabaseDep, PageDep, PrincipalDep
from app.api.examples import DETAIL_EXAMPLES, EXAMPLES
from app.content import jsonld, queries
from app.content.documents import record_etag_of
from app.content.params import StatusesDep, filters_dependency
from app.content.queries import Filters
from app.content.resources import RESOURCES, ResourceSpec
from app.content.vocab import Status, TherapyType
from app.core.caching import cached_read_async
from app.core.errors import BadParameter, NotFoundError
from app.core.pagination import decode_cursor, encode_cursor, next_link

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
    "A parameter is invalid (an unknown condition, a bad cursor, a limit over 100).",
    "Query parameter 'condition' names no known condition: 'gout'.",
    errors=[{"location": "query", "field": "condition", "message": "names no known condition: 'gout'"}],
)


def not_found(spec: ResourceSpec) -> dict[str, Any]:
    return NotFoundError.openapi(
        f"No published {spec.name} has this key.", f"No {spec.name} has the {spec.key_field} 'unknown'."
    )


async def list_response(
    request: Request, db, spec: ResourceSpec, filters: Filters, page, statuses, public: bool
) -> Response:
    after = decode_cursor(spec.plural, page.cursor)

    def build(conn):
        result = queries.list_page(conn, spec, filters, after=after, limit=page.limit, statuses=statuses)
        next_cursor = encode_cursor(spec.plural, result.last_position) if result.last_position else None
        headers = next_link(request, next_cursor)
        return {"items": result.items, "next_cursor": next_cursor}, headers

    return await cached_read_async(request, db, build, public=public, max_age=request.app.state.settings.cache_max_age)


def _list_route(spec: ResourceSpec):
    filters_dep = filters_dependency(spec)

    async def endpoint(
        request: Request,
        db: DatabaseDep,
        principal: PrincipalDep,
        page: PageDep,
        statuses: StatusesDep,
        filters: Annotated[Filters, Depends(filters_dep)],
    ) -> Response:
        public = statuses == (Status.published.value,)
        return await list_response(request, db, spec, filters, page, statuses, public)

    return endpoint


def _detail_route(spec: ResourceSpec):
    async def endpoint(
        request: Request,
        db: DatabaseDep,
        principal: PrincipalDep,
        key: Annotated[str, Path(alias=spec.key_field, max_length=200)],
    ) -> Response:
        statuses = tuple(s.value for s in Status) if principal.is_editor else (Status.published.value,)
        if jsonld.wanted(request.headers.get("accept")):  # the same record as schema.org JSON-LD
            base = str(request.base_url)
            return await cached_read_async(
                request,
                db,
                lambda conn: (
                    jsonld.document(spec.name, queries.get_one(conn, spec, key, statuses=statuses), base),
                    {},
                ),
                public=not principal.is_editor,
                media_type=jsonld.MEDIA_TYPE,
                max_age=request.app.state.settings.cache_max_age,
            )

        return await cached_read_async(
            request,
            db,
            lambda conn: (queries.get_one(conn, spec, key, statuses=statuses), {}),
            public=not principal.is_editor,
            max_age=request.app.state.settings.cache_max_age,
            etag_of=functools.partial(record_etag_of, spec) if principal.is_editor else None,
        )

    return endpoint


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1")
    for spec in RESOURCES.values():
        tag = spec.plural
        filters = ", ".join(f"`{name}`" for name in spec.filters) or "none"
        router.add_api_route(
            f"/{spec.plural}",
            _list_route(spec),
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
            _detail_route(spec),
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
