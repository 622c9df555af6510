"""Dependencies the routers share: the store, the caller and page parameters (the content filters are in
`app.content.params`).

Those that do no I/O are `async def`: FastAPI runs a sync dependency in the threadpool, and five
threadpool round trips per request cost more than a list page's queries."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from app.api.principal import ANONYMOUS, Principal, Scope
from app.core.db import Database
from app.core.errors import Forbidden, Unauthorized
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_principal(request: Request) -> Principal:
    return getattr(request.state, "principal", ANONYMOUS)


DatabaseDep = Annotated[Database, Depends(get_db)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


EDITOR_KEY_NEEDED = "This operation needs an X-API-Key with the editor scope."
KEY_NEEDED = "This operation needs an X-API-Key (a partner's or an editor's)."
OPS_KEY_NEEDED = "This operation needs an X-API-Key with the ops scope."


def require_editor(principal: PrincipalDep) -> Principal:
    if principal.scope is None:
        raise Unauthorized(
            EDITOR_KEY_NEEDED,
            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'},
        )
    if not principal.is_editor:
        raise Forbidden("This key does not have the editor scope.")
    return principal


EditorDep = Annotated[Principal, Depends(require_editor)]


def require_key(principal: PrincipalDep) -> Principal:
    """Any key, a partner's or an editor's: for what belongs to the key itself (its webhooks)."""
    if principal.scope is None or principal.prefix is None:
        raise Unauthorized(
            KEY_NEEDED,
            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'},
        )
    return principal


KeyDep = Annotated[Principal, Depends(require_key)]


def require_ops(principal: PrincipalDep) -> Principal:
    """An operations key: for what tells about the running service (metrics), not about content."""
    if principal.scope is None:
        raise Unauthorized(OPS_KEY_NEEDED, headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'})
    if principal.scope != Scope.ops:
        raise Forbidden("This key does not have the ops scope.")
    return principal


OpsDep = Annotated[Principal, Depends(require_ops)]


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
