"""Query parameters of the content lists: the statuses a caller may list, and the filters a resource
supports (those that do no I/O are `async def`, as in `app.api.deps`)."""

from typing import Annotated, Any, Literal

from fastapi import Depends, Query

from app.api.deps import PrincipalDep
from app.content.queries import MAX_FILTER_VALUES, Filters
from app.content.vocab import Status, TherapyType
from app.core.errors import Forbidden


async def statuses_param(
    principal: PrincipalDep,
    status: Annotated[
        list[Status] | None,
        Query(
            description="Editors only: the statuses to list (repeat for several). Others always see published content.",
            max_length=MAX_FILTER_VALUES,
        ),
    ] = None,
) -> tuple[str, ...]:
    if not status:
        return (Status.published.value,)
    if not principal.is_editor and set(status) != {Status.published}:
        raise Forbidden("Only editors can list drafts and retracted content.")
    return tuple(sorted({s.value for s in status}))


StatusesDep = Annotated[tuple[str, ...], Depends(statuses_param)]


def _filter(description: str) -> Any:
    """A filter's query parameter: repeat it to match any of several values."""
    return Query(
        description=description + f" Repeat to match any of several (at most {MAX_FILTER_VALUES}).",
        max_length=MAX_FILTER_VALUES,
    )


ConditionFilter = Annotated[
    list[str] | None,
    _filter(
        "A condition's slug, or a code as `icd10cm:M06.9`, `mesh:D001172`, `snomedct:69896004`. "
        "A parent condition includes its descendants."
    ),
]
TherapyFilter = Annotated[list[str] | None, _filter("A therapy's slug, e.g. `fecal-microbiota-transplantation`.")]
TherapyTypeFilter = Annotated[list[TherapyType] | None, _filter("A therapy type from the vocabulary.")]
TopicFilter = Annotated[list[str] | None, _filter("A topic's slug.")]
SourceFilter = Annotated[list[str] | None, _filter("A source's slug.")]
ExpertFilter = Annotated[list[str] | None, _filter("An expert's slug.")]
LangFilter = Annotated[list[str] | None, _filter("A language tag (BCP 47), e.g. `en`.")]

GRADE_DOC = (
    "Only records whose text reads at or below this US school grade (Flesch-Kincaid, measured on every "
    "write); consumer health material aims at 6-8, e.g. `max_grade=8`."
)
GradeFilter = Annotated[float | None, Query(ge=0, le=30, allow_inf_nan=False, description=GRADE_DOC)]

REVIEW_DOC = (
    "`overdue`: only records whose `next_review_due` is before today (UTC), the editors' queue of "
    "content to review again. Records without a due date are never overdue."
)
ReviewFilter = Annotated[Literal["overdue"] | None, Query(description=REVIEW_DOC)]


def _filters(review: str | None = None, max_grade: float | None = None, **values: list[Any] | None) -> Filters:
    return Filters(
        **{
            name: [str(v.value if isinstance(v, TherapyType) else v) for v in value or []]
            for name, value in values.items()
        },
        review=review,
        max_grade=max_grade,
    )


# One dependency per resource, taking exactly the filters its `ResourceSpec.filters` names (and `review`
# where the resource has a review date), so the OpenAPI document lists them; tests/test_params.py holds
# each to its registry entry.


async def condition_filters(therapy: TherapyFilter = None, therapy_type: TherapyTypeFilter = None) -> Filters:
    return _filters(therapy=therapy, therapy_type=therapy_type)


async def therapy_filters(condition: ConditionFilter = None, therapy_type: TherapyTypeFilter = None) -> Filters:
    return _filters(condition=condition, therapy_type=therapy_type)


async def expert_filters(
    condition: ConditionFilter = None,
    therapy: TherapyFilter = None,
    therapy_type: TherapyTypeFilter = None,
    topic: TopicFilter = None,
    source: SourceFilter = None,
) -> Filters:
    return _filters(condition=condition, therapy=therapy, therapy_type=therapy_type, topic=topic, source=source)


async def source_filters(review: ReviewFilter = None, lang: LangFilter = None) -> Filters:
    return _filters(review, lang=lang)


async def topic_filters(
    review: ReviewFilter = None,
    max_grade: GradeFilter = None,
    condition: ConditionFilter = None,
    therapy: TherapyFilter = None,
    therapy_type: TherapyTypeFilter = None,
    source: SourceFilter = None,
    lang: LangFilter = None,
) -> Filters:
    return _filters(
        review,
        max_grade,
        condition=condition,
        therapy=therapy,
        therapy_type=therapy_type,
        source=source,
        lang=lang,
    )


async def claim_filters(
    max_grade: GradeFilter = None,
    condition: ConditionFilter = None,
    therapy: TherapyFilter = None,
    therapy_type: TherapyTypeFilter = None,
    topic: TopicFilter = None,
    source: SourceFilter = None,
    expert: ExpertFilter = None,
    lang: LangFilter = None,
) -> Filters:
    return _filters(
        max_grade=max_grade,
        condition=condition,
        therapy=therapy,
        therapy_type=therapy_type,
        topic=topic,
        source=source,
        expert=expert,
        lang=lang,
    )


async def quote_filters(
    condition: ConditionFilter = None,
    therapy: TherapyFilter = None,
    therapy_type: TherapyTypeFilter = None,
    topic: TopicFilter = None,
    source: SourceFilter = None,
    expert: ExpertFilter = None,
    lang: LangFilter = None,
) -> Filters:
    return _filters(
        condition=condition,
        therapy=therapy,
        therapy_type=therapy_type,
        topic=topic,
        source=source,
        expert=expert,
        lang=lang,
    )


ConditionFilters = Annotated[Filters, Depends(condition_filters)]
TherapyFilters = Annotated[Filters, Depends(therapy_filters)]
ExpertFilters = Annotated[Filters, Depends(expert_filters)]
SourceFilters = Annotated[Filters, Depends(source_filters)]
TopicFilters = Annotated[Filters, Depends(topic_filters)]
ClaimFilters = Annotated[Filters, Depends(claim_filters)]
QuoteFilters = Annotated[Filters, Depends(quote_filters)]
FILTER_DEPENDENCIES = {
    "condition": condition_filters,
    "therapy": therapy_filters,
    "expert": expert_filters,
    "source": source_filters,
    "topic": topic_filters,
    "claim": claim_filters,
    "quote": quote_filters,
}
