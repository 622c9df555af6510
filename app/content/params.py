"""Query parameters of the content lists: the statuses a caller may list, and the filters a resource
supports (those that do no I/O are `async def`, as in `app.api.deps`)."""

import inspect
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from app.api.deps import PrincipalDep
from app.content.queries import Filters
from app.content.resources import ResourceSpec
from app.content.vocab import Status, TherapyType
from app.core.errors import Forbidden


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

    async def dependency(**values: Any) -> Filters:
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
            list[kind] | None,  # type: ignore[valid-type]  # the filter's value type
            Query(description=description + " Repeat to match any of several.", max_length=50),
        ]
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    dependency.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    dependency.__name__ = f"{spec.name}_filters"
    return dependency
