"""Write routes of the content resources (create, patch, delete) and their revision history, made from
the registry like the read routes. Every route needs an editor key; the routes parse and delegate to
app.editing.service."""

# No `from __future__ import annotations`: each endpoint's body type is its resource's class, a local name.

from enum import Enum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Request
from starlette.responses import Response

from app.api.caching import cached_read
from app.api.deps import DatabaseDep, EditorDep, PageDep
from app.api.examples import EXAMPLES
from app.content.resources import RESOURCES, ResourceSpec
from app.core.errors import BadParameter
from app.core.pagination import cursor_epoch, decode_cursor, encode_cursor, next_link
from app.editing import examples, service
from app.editing.schemas import CREATE_SCHEMAS, PATCH_SCHEMAS, RevisionPage

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The `ETag` of the record as you last read it (an editor's `GET` or a write's answer). "
        "If the record has changed since, the write is refused with `412` and nothing is changed. "
        "Optional: without it "
        "the write applies to whatever is current.",
    ),
]

ETAG_HEADER = {
    "ETag": {
        "description": "The record's new revision tag: send it as `If-Match` in the next write.",
        "schema": {"type": "string"},
    }
}


def _written(written: service.Written, status: int, **headers: str) -> Response:
    return Response(
        orjson.dumps(written.item),
        status_code=status,
        media_type="application/json",
        headers={"ETag": written.etag, "Cache-Control": "no-store", **headers},
    )


def _key_param(spec: ResourceSpec) -> Any:
    return Annotated[
        str, Path(alias=spec.key_field, max_length=200, description=f"The {spec.name}'s {spec.key_field}.")
    ]


def _create_route(spec: ResourceSpec):
    body_model = CREATE_SCHEMAS[spec.name]

    def endpoint(
        request: Request,
        db: DatabaseDep,
        editor: EditorDep,
        body: body_model,  # type: ignore[valid-type]  # the resource's create body (editing/schemas.py)
    ) -> Response:
        written = service.create(db, spec, body, actor=editor.actor)
        key = written.item[spec.key_field]
        location = str(request.url_for(f"get_{spec.name}", **{spec.key_field: key}))
        return _written(written, 201, Location=location)

    return endpoint


def _patch_route(spec: ResourceSpec):
    body_model = PATCH_SCHEMAS[spec.name]

    def endpoint(
        db: DatabaseDep,
        editor: EditorDep,
        key: _key_param(spec),  # type: ignore[valid-type]
        body: body_model,  # type: ignore[valid-type]  # the resource's patch body (editing/schemas.py)
        if_match: IfMatch = None,
    ) -> Response:
        changes = body.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]
        return _written(service.patch(db, spec, key, changes, actor=editor.actor, if_match=if_match), 200)

    return endpoint


def _delete_route(spec: ResourceSpec):
    def endpoint(
        db: DatabaseDep,
        editor: EditorDep,
        key: _key_param(spec),  # type: ignore[valid-type]
        if_match: IfMatch = None,
    ) -> Response:
        service.delete(db, spec, key, actor=editor.actor, if_match=if_match)
        return Response(status_code=204)

    return endpoint


def _revisions_route(spec: ResourceSpec):
    scope = f"{spec.plural}-revisions"

    def endpoint(
        request: Request,
        db: DatabaseDep,
        editor: EditorDep,
        key: _key_param(spec),  # type: ignore[valid-type]
        page: PageDep,
    ) -> Response:
        before = decode_cursor(scope, page.cursor)

        def build(conn):
            epoch = cursor_epoch(conn, page.cursor)
            items, position = service.revisions(conn, spec, key, before=before, limit=page.limit)
            cursor = encode_cursor(scope, position, epoch) if position else None
            headers = next_link(request, cursor)
            return {"items": items, "next_cursor": cursor}, headers

        return cached_read(request, db, build, public=False)

    return endpoint


def _body_example(example: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"example": example}}}}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1")
    for spec in RESOURCES.values():
        tags: list[str | Enum] = [spec.plural]
        name, item = spec.name, f"/{spec.plural}/{{{spec.key_field}}}"
        made = "the server makes its `id`" if spec.key_field == "id" else "the body names its `slug`"
        router.add_api_route(
            f"/{spec.plural}",
            _create_route(spec),
            methods=["POST"],
            status_code=201,
            name=f"create_{name}",
            summary=f"Create a {name}",
            tags=tags,
            response_model=spec.out_schema,
            description=(
                f"Editors only. A new {name} ({made}), `draft` unless the body says `published`. "
                f"Relations are "
                f"given by key; an unknown one is a `422` naming it. Server-owned fields (`id`, `revision`, "
                f"timestamps) are refused with `422`. Answers `201` with `Location`, the {name} as an editor "
                f"reads it, and its `ETag`."
            ),
            responses={
                201: {
                    "description": f"The {name}, created.",
                    "headers": {
                        "Location": {
                            "description": f"Where the {name} is read.",
                            "schema": {"type": "string"},
                        },
                        **ETAG_HEADER,
                    },
                    "content": {"application/json": {"example": EXAMPLES[name]}},
                },
                **examples.write_problems(name, conflict=spec.key_field == "slug", precondition=False, not_found=False),
            },
            openapi_extra=_body_example(examples.CREATE[name]),
        )
        router.add_api_route(
            item,
            _patch_route(spec),
            methods=["PATCH"],
            name=f"update_{name}",
            summary=f"Change a {name}",
            tags=tags,
            response_model=spec.out_schema,
            description=(
                f"Editors only. Only the fields sent change; lists and nested objects are replaced whole, "
                f"and "
                f'the merged {name} is checked as a whole. Publish with `{{"status": "published"}}`; '
                f'retract with `{{"status": "retracted", "retraction_reason": "..."}}` (the reason is '
                f"required; the record stays, out of public view). A body equal to the current content "
                f"changes "
                f"nothing. To restore an old revision, send its `data` from `GET {item}/revisions`. Send the "
                f"`ETag` you read as `If-Match` so that a change made meanwhile is a `412`, not lost."
            ),
            responses={
                200: {
                    "description": f"The {name} after the change.",
                    "headers": ETAG_HEADER,
                    "content": {"application/json": {"example": EXAMPLES[name]}},
                },
                **examples.write_problems(name),
            },
            openapi_extra=_body_example(examples.PATCH[name]),
        )
        router.add_api_route(
            item,
            _delete_route(spec),
            methods=["DELETE"],
            status_code=204,
            name=f"delete_{name}",
            summary=f"Delete a {name}",
            tags=tags,
            description=(
                f"Editors only. Deletes the {name} for good (its revisions stay; to take published content "
                f"out of view but keep it, retract it instead). Refused with `409` while other records still "
                f"point at it. Takes `If-Match` like `PATCH`."
            ),
            responses={
                204: {"description": f"The {name} is gone."},
                **examples.write_problems(name, in_use=True),
            },
        )
        router.add_api_route(
            f"{item}/revisions",
            _revisions_route(spec),
            methods=["GET"],
            name=f"list_{name}_revisions",
            summary=f"List a {name}'s revisions",
            tags=tags,
            response_model=RevisionPage,
            description=(
                f"Editors only (drafts' history is not public). Every change of the {name}, newest first, "
                f"each with its revision number, operation, time, the name of the key that made it and the "
                f"content it had after the change (`data`, the write shape: `PATCH` it to restore). "
                f"A deleted "
                f"{name}'s history stays readable, so it can be re-created from it. Paged like the lists."
            ),
            responses={
                200: {
                    "content": {
                        "application/json": {
                            "example": {
                                "items": [
                                    {
                                        "revision": 2,
                                        "op": "updated",
                                        "at": "2026-11-25T10:02:03.000000Z",
                                        "actor": "jane",
                                        "data": {k: v for k, v in examples.CREATE[name].items() if k != "slug"},
                                    }
                                ],
                                "next_cursor": None,
                            }
                        }
                    }
                },
                **{
                    status: problem
                    for status, problem in examples.write_problems(name).items()
                    if status in (401, 403, 404)
                },
                422: BadParameter.openapi(
                    "A bad `limit` or `cursor`.", "Query parameter 'cursor' is not a cursor this list handed out."
                ),
            },
        )
    return router
