"""Dependencies the routers share: the store, the caller, page and filter parameters.

Those that do no I/O are `async def`: FastAPI runs a sync dependency in the threadpool, and five
threadpool round trips per request cost more than a list page's queries."""

import inspect
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from app.content.queries import Filters
from app.content.resources import ResourceSpec
from app.content.vocab import Status, TherapyType
from app.core.db import Database
from app.core.errors import Forbidden, Unauthorized
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.principal import ANONYMOUS, Principal


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_principal(request: Request) -> Principal:
    return getattr(request.state, "principal", ANONYMOUS)


DatabaseDep = Annotated[Database, Depends(get_db)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_editor(principal: PrincipalDep) -> Principal:
    if principal.scope is None:
        raise Unauthorized(
            "This operation needs an X-API-Key with the editor scope.",
            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'},
        )
    if not principal.is_editor:
        raise Forbidden("This key does not have the editor scope.")
    return principal


EditorDep = Annotated[Principal, Depends(require_editor)]


@dataclass
class PageParams:
    limit: int
    cursor: str | None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 100).")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=200, description="Opaque: the `next_cursor` of the previous page.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


async def statuses_param(
    principal: PrincipalDep,
    status: Annotated[
        list[Status] | None,
        Query(
            description="Editors only: the statuses to list (repeat for several). Others always see published content."
        ),
    ] = None,
) -> tuple[str, ...]:
    if not status:
        return (Status.published.value,)
    if not principal.is_editor and set(status) != {Status.published}:
        raise Forbidden("Only editors can list drafts and retracted content.")
    return tuple(sorted({s.value for s in status}))


StatusesDep = Annotated[tuple[str, ...], Depends(statuses_param)]

_FILTER_DOCS = {
    "condition": (
        str,
        "A condition's slug, or a code as `icd10cm:M06.9`, `mesh:D001172`, `snomedct:69896004`. "
        "A parent condition includes its descendants.",
    ),
    "therapy": (str, "A therapy's slug, e.g. `fecal-microbiota-transplantation`."),
    "therapy_type": (TherapyType, "A therapy type from the vocabulary."),
    "topic": (str, "A topic's slug."),
    "source": (str, "A source's slug."),
    "expert": (str, "An expert's slug."),
    "lang": (str, "A language tag (BCP 47), e.g. `en`."),
}


REVIEW_DOC = (
    "`overdue`: only records whose `next_review_due` is before today (UTC), the editors' queue of "
    "content to review again. Records without a due date are never overdue."
)


def filters_dependency(spec: ResourceSpec):
    """A dependency taking exactly the filters `spec` supports, so the OpenAPI document lists them."""

    async def dependency(**values: list[str] | None) -> Filters:
        review = values.pop("review", None)
        request = values.pop("request", None)
        if review and request is not None:  # "overdue" changes at midnight too, not only on writes
            request.state.etag_salt = datetime.now(UTC).date().isoformat()
        return Filters(
            **{
                name: [str(v.value if isinstance(v, TherapyType) else v) for v in value or []]
                for name, value in values.items()
            },
            review=review,
        )

    parameters = [inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)]
    if "next_review_due" in spec.columns:
        parameters.append(
            inspect.Parameter(
                "review",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[Literal["overdue"] | None, Query(description=REVIEW_DOC)],
            )
        )
    for name in spec.filters:
        kind, description = _FILTER_DOCS[name]
        annotation = Annotated[
            list[kind] | None, Query(description=description + " Repeat to match any of several.", max_length=50)
        ]
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    dependency.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    dependency.__name__ = f"{spec.name}_filters"
    return dependency
