"""The editors' writes and the revision history. Each write is one `Database.write()` transaction through
`ContentWriter`, so the row, its revision, its change-log entry and its facets commit together; the
`If-Match` check reads the current revision inside that same (serialised) transaction, so no other write
can slip in between the check and the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, select

from app.content import queries
from app.content.documents import content_of, load_documents, pks_by_key, record_etag_of
from app.content.resources import ResourceSpec
from app.content.store import ContentWriter, new_id, writing
from app.content.vocab import Status
from app.core.db import Database, store_epoch
from app.core.errors import Conflict, NotFoundError, PreconditionFailed, ValidationFailed
from app.core.pagination import paged, split_page
from app.models import Revision, table_of

REVISIONS = table_of(Revision)
ALL_STATUSES = tuple(s.value for s in Status)


@dataclass
class Written:
    item: dict[str, Any]  # the read shape, as an editor's GET shows it
    etag: str


def _body_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"The body field {field!r} is invalid: {message}.",
        errors=[{"location": "body", "field": field, "message": message}],
    )


def _validated(spec: ResourceSpec, content: dict[str, Any]) -> BaseModel:
    """The whole record checked by its write shape, and the workflow's one rule: a retraction has a reason,
    and only a retraction has one."""
    try:
        payload = spec.write_schema.model_validate(content)
    except ValidationError as exc:
        errors = [
            {"location": "body", "field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
            for e in exc.errors()
        ]
        raise ValidationFailed(
            f"The body field {errors[0]['field']!r} is invalid: {errors[0]['message']}.", errors=errors
        ) from None
    retracted = payload.status == Status.retracted
    if retracted and not payload.retraction_reason:
        raise _body_error("retraction_reason", "required when the status is retracted")
    if not retracted and payload.retraction_reason:
        raise _body_error("retraction_reason", "only a retracted record has one")
    return payload


def _current(conn: Connection, spec: ResourceSpec, key: str) -> dict[str, Any]:
    pk = pks_by_key(conn, spec.name, [key]).get(key)
    if pk is None:
        raise NotFoundError(f"No {spec.name} has the {spec.key_field} {key!r}.")
    return load_documents(conn, spec, [pk])[pk]


def _check_if_match(conn: Connection, spec: ResourceSpec, key: str, doc: dict[str, Any], if_match: str | None) -> None:
    """RFC 9110 strong comparison: `*` or one of the listed tags must name the current revision."""
    if if_match is None or if_match.strip() == "*":
        return
    current = record_etag_of(spec, doc, store_epoch(conn).name)
    if current not in (tag.strip() for tag in if_match.split(",")):
        raise PreconditionFailed(
            f"The {spec.name} {key!r} has changed since the version you sent in If-Match (it is now at "
            f"revision {doc['revision']}, {current}); fetch it again and reapply your change.",
            headers={"ETag": current},
        )


def _commit(writer: ContentWriter, spec: ResourceSpec, key: str, payload: BaseModel) -> Written:
    """Write the record, bring facets and search in step, and read it back in the same transaction."""
    writer.put(spec.name, key, payload)
    writer.finish()
    item = queries.get_one(writer.conn, spec, key, statuses=ALL_STATUSES)
    return Written(item, record_etag_of(spec, item, store_epoch(writer.conn).name))


def create(db: Database, spec: ResourceSpec, body: BaseModel, *, actor: str) -> Written:
    """A new record: the client names slugged records, the server makes claims' and quotes' ids."""
    key = getattr(body, "slug", None) if spec.key_field == "slug" else new_id()
    assert key is not None, "the create shape of a slugged resource requires its slug"
    content = body.model_dump(mode="json", exclude={"slug"})
    with writing(db, actor) as writer:
        if pks_by_key(writer.conn, spec.name, [key]):
            raise Conflict(
                f"A {spec.name} with the {spec.key_field} {key!r} exists already.",
                [{"location": "body", "field": spec.key_field, "message": "exists already"}],
            )
        return _commit(writer, spec, key, _validated(spec, content))


def patch(
    db: Database, spec: ResourceSpec, key: str, changes: dict[str, Any], *, actor: str, if_match: str | None
) -> Written:
    """The fields given, merged onto the current record and checked whole. Leaving `retracted` clears the
    reason unless the body gives one (which is then refused). An unchanged record keeps its revision."""
    with writing(db, actor) as writer:
        doc = _current(writer.conn, spec, key)
        _check_if_match(writer.conn, spec, key, doc, if_match)
        content = content_of(spec, doc) | changes
        if content.get("status") != Status.retracted and "retraction_reason" not in changes:
            content["retraction_reason"] = None
        return _commit(writer, spec, key, _validated(spec, content))


def delete(db: Database, spec: ResourceSpec, key: str, *, actor: str, if_match: str | None) -> None:
    """Delete for good (retraction is a status change, not this). The store refuses while others use it."""
    with writing(db, actor) as writer:
        doc = _current(writer.conn, spec, key)
        _check_if_match(writer.conn, spec, key, doc, if_match)
        writer.delete(spec.name, key)


def revisions(
    conn: Connection, spec: ResourceSpec, key: str, *, before: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of a key's revisions, newest first; `before` is the position the previous page ended at
    (0: from the newest). Also answers for a deleted record, so it can be brought back."""
    query = (
        select(REVISIONS)
        .where(REVISIONS.c.resource == spec.name, REVISIONS.c.key == key)
        .order_by(REVISIONS.c.pk.desc())
    )
    if before:
        query = query.where(REVISIONS.c.pk < before)
    rows, more = split_page(conn.execute(paged(query, limit)).mappings().all(), limit)
    if not rows and not before:
        raise NotFoundError(f"No {spec.name} has ever had the {spec.key_field} {key!r}.")
    items = [
        {
            "revision": row["revision"],
            "op": row["op"],
            "at": row["at"],
            "actor": row["actor"],
            "data": content_of(spec, row["data"]),
        }
        for row in rows
    ]
    return items, rows[-1]["pk"] if more else None
