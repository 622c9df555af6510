"""Strict query strings: a query parameter no route reads is a 422 that names it and lists the ones the
route accepts. A misspelt filter (`?conditon=...`) would otherwise be ignored and broaden the answer, and
for a health query "all claims" reads as "the claims about this condition".

Installed once, as an app-wide dependency; what a route accepts is read from the parameters FastAPI
resolved for it (so the OpenAPI document and the check can never disagree). A route that must take
parameters it does not know (a protocol whose clients add their own, such as HL7 Infobutton) opts out,
visibly, with `@accepts_extra_query_parameters`."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.core.errors import ApiError

F = TypeVar("F", bound=Callable)

OPT_OUT = "accepts_extra_query_parameters"
_ACCEPTED = "_accepted_query_parameters"


def accepts_extra_query_parameters(endpoint: F) -> F:
    """Mark a route's endpoint as taking query parameters beyond those it declares (they are ignored).
    Apply it below the route decorator, so the route sees the mark."""
    setattr(endpoint, OPT_OUT, True)
    return endpoint


class UnknownQueryParameters(ApiError):
    status = 422
    title = "Unknown query parameter"
    slug = "unknown-query-parameter"

    def __init__(self, unknown: list[str], accepted: list[str]) -> None:
        listed = ", ".join(accepted) if accepted else "none"
        names = ", ".join(repr(name) for name in unknown)
        noun = "parameter" if len(unknown) == 1 else "parameters"
        errors = []
        for name in unknown:
            close = difflib.get_close_matches(name, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(
                {
                    "location": "query",
                    "field": name,
                    "message": f"unknown query parameter{hint} This endpoint accepts: {listed}.",
                }
            )
        super().__init__(
            f"Unknown query {noun} {names}: nothing was filtered by it. This endpoint accepts: {listed}.",
            errors=errors,
        )


def accepted_query_parameters(route: APIRoute) -> frozenset[str] | None:
    """The query parameter names `route` reads (None: it takes any), worked out once per route."""
    if not hasattr(route, _ACCEPTED):
        opted_out = getattr(route.endpoint, OPT_OUT, False)
        setattr(route, _ACCEPTED, None if opted_out else frozenset(_query_names(route.dependant)))
    accepted: frozenset[str] | None = getattr(route, _ACCEPTED)
    return accepted


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route's dependency tree declares, by the name clients send (the alias)."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(field.alias for field in current.query_params)
        pending.extend(current.dependencies)
    return names


async def reject_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.scope.get("query_string"):
        return
    accepted = accepted_query_parameters(route)
    if accepted is None:
        return
    unknown = sorted({name for name in request.query_params if name not in accepted})
    if unknown:
        raise UnknownQueryParameters(unknown, sorted(accepted))
