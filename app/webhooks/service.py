"""Subscriptions: made, read, changed and deleted by their owner only (a partner or editor key); the
owner is the key's prefix, so another key, even of the same partner, sees none of them."""

from __future__ import annotations

import secrets
import time
from typing import Any, cast

from sqlalchemy import Connection, delete, func, insert, select, update

from app.content.queries import Filters, facet_groups
from app.content.vocab import TherapyType
from app.core.clock import utc_now
from app.core.config import Settings
from app.core.db import Database, content_version, store_epoch
from app.core.errors import BadParameter, NotFoundError, StaleCursor, ValidationFailed
from app.core.pagination import MAX_SEQ, check_epoch, cursor_epoch, decode_cursor, encode_cursor
from app.partners.changes import decode_since
from app.webhooks import outbox
from app.webhooks.delivery import iso
from app.webhooks.schemas import RedeliverIn, WebhookIn, WebhookUpdate
from app.webhooks.signing import new_secret
from app.webhooks.ssrf import UnsafeTarget, check_url

SUBSCRIPTIONS = outbox.SUBSCRIPTIONS
DELIVERIES = outbox.DELIVERIES
FILTERED_RESOURCES = ("claim", "topic", "quote")
DELIVERY_SCOPE = "webhook-deliveries"


class InvalidWebhook(ValidationFailed):
    """A 422 naming the body field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"The body field {field!r} {message}.",
            errors=[{"location": "body", "field": field, "message": message}],
        )


def check_target(url: str, settings: Settings) -> None:
    """A 422 naming `url` when it may not be a target; nothing is sent there."""
    try:
        check_url(url, allow_private=settings.webhook_allow_private_targets)
    except UnsafeTarget as exc:
        raise InvalidWebhook("url", str(exc)) from None


def _selection(
    conn: Connection, resources: list[str] | None, filters: dict[Any, list[str]]
) -> tuple[list[str], dict[str, list[str]], list[list[str]]]:
    """Resources, filters as given (deduplicated) and the filters as facet groups; 422 for what is unknown."""
    filters = {name: list(dict.fromkeys(values)) for name, values in filters.items() if values}
    for name, values in filters.items():
        if len(values) > 50 or any(not value or len(value) > 200 for value in values):
            raise InvalidWebhook(f"filters.{name}", "takes at most 50 values of 1 to 200 characters")
        if name == "therapy_type":
            for value in values:
                try:
                    TherapyType(value)
                except ValueError:
                    raise InvalidWebhook(f"filters.{name}", f"names no known therapy type: {value!r}") from None
    try:
        groups = facet_groups(conn, Filters(**cast(dict[str, Any], filters)))
    except BadParameter as exc:
        error = (exc.errors or [{}])[0]
        raise InvalidWebhook(f"filters.{error.get('field')}", error.get("message", "is invalid")) from None
    chosen = list(dict.fromkeys(resources)) if resources else None
    if groups:
        chosen = chosen or list(FILTERED_RESOURCES)
        others = [r for r in chosen if r not in FILTERED_RESOURCES]
        if others:
            raise InvalidWebhook("resources", f"cannot be filtered: {others} (filters apply to claim, topic, quote)")
    return chosen or list(outbox.RESOURCE_NAMES), filters, groups


def public_view(row: Any) -> dict[str, Any]:
    now = time.time()
    until = row["previous_secret_until"]
    return {
        "id": row["id"],
        "url": row["url"],
        "events": row["events"],
        "resources": row["resources"],
        "filters": row["filters"],
        "active": bool(row["active"]),
        "disabled_reason": row["disabled_reason"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "previous_secret_valid_until": iso(until) if row["previous_secret"] and until and until > now else None,
    }


def _owned(conn: Connection, owner: str, webhook_id: str) -> Any:
    row = (
        conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == webhook_id, SUBSCRIPTIONS.c.owner == owner))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"You have no webhook {webhook_id!r}.")
    return row


def create(db: Database, settings: Settings, owner: str, owner_name: str, body: WebhookIn) -> dict[str, Any]:
    check_target(body.url, settings)
    try:
        after = decode_since(body.since) if body.since else None
    except BadParameter:
        raise InvalidWebhook("since", "is not a cursor this list handed out (one of /v1/changes)") from None
    now = utc_now()
    with db.write() as conn:  # serialised with content writes: no change falls between `since` and now
        _same_epoch(conn, body.since)
        resources, filters, groups = _selection(conn, body.resources, body.filters)
        row = {
            "id": "wh_" + secrets.token_hex(10),
            "owner": owner,
            "owner_name": owner_name,
            "url": body.url,
            "events": list(dict.fromkeys(body.events)),
            "resources": resources,
            "filters": filters,
            "facet_groups": groups,
            "secret": new_secret(),
            "active": True,
            "created_at": now,
            "updated_at": now,
            "start_seq": content_version(conn) if after is None else after,
        }
        conn.execute(insert(SUBSCRIPTIONS).values(**row))
        if after is not None:
            outbox.backfill(conn, row, after)
    row |= {"previous_secret": None, "previous_secret_until": None, "disabled_reason": None}
    return public_view(row) | {"secret": row["secret"]}


def list_owned(db: Database, owner: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.owner == owner).order_by(SUBSCRIPTIONS.c.created_at)
        ).mappings()
        return [public_view(row) for row in rows]


def get(db: Database, owner: str, webhook_id: str) -> dict[str, Any]:
    with db.read() as conn:
        return public_view(_owned(conn, owner, webhook_id))


def change(db: Database, settings: Settings, owner: str, webhook_id: str, body: WebhookUpdate) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    if given.get("url") is not None:
        check_target(given["url"], settings)
    with db.write() as conn:
        row = _owned(conn, owner, webhook_id)
        values: dict[str, Any] = {"updated_at": utc_now()}
        for name in ("url", "events", "active"):
            if given.get(name) is not None:
                values[name] = given[name]
        if given.get("active") is True:
            values["disabled_reason"] = None
        elif given.get("active") is False:
            values["disabled_reason"] = None if row["active"] else row["disabled_reason"]
        if "resources" in given or "filters" in given:
            resources = given.get("resources") or (row["resources"] if "resources" not in given else None)
            filters = given["filters"] if given.get("filters") is not None else row["filters"]
            values["resources"], values["filters"], values["facet_groups"] = _selection(conn, resources, filters)
        conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == webhook_id).values(**values))
        return public_view(_owned(conn, owner, webhook_id))


def remove(db: Database, owner: str, webhook_id: str) -> None:
    with db.write() as conn:
        _owned(conn, owner, webhook_id)
        conn.execute(delete(DELIVERIES).where(DELIVERIES.c.subscription_id == webhook_id))
        conn.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == webhook_id))


def rotate(db: Database, settings: Settings, owner: str, webhook_id: str) -> dict[str, Any]:
    """A new secret; the old one keeps signing beside it for the grace period."""
    until = time.time() + settings.webhook_secret_grace_seconds
    secret = new_secret()
    with db.write() as conn:
        row = _owned(conn, owner, webhook_id)
        conn.execute(
            update(SUBSCRIPTIONS)
            .where(SUBSCRIPTIONS.c.id == webhook_id)
            .values(secret=secret, previous_secret=row["secret"], previous_secret_until=until, updated_at=utc_now())
        )
    return {"id": webhook_id, "secret": secret, "previous_secret_valid_until": iso(until)}


def delivery_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": row["msg_id"],
        "type": row["event_type"],
        "seq": row["seq"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "last_attempt_at": iso(row["last_attempt_at"]),
        "next_attempt_at": iso(row["next_attempt_at"]) if row["status"] == outbox.PENDING else None,
        "delivered_at": iso(row["delivered_at"]),
        "queued_at": iso(row["created_at"]),
    }


def deliveries(
    db: Database, owner: str, webhook_id: str, *, limit: int, cursor: str | None, status: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first."""
    before = decode_cursor(DELIVERY_SCOPE, cursor, maximum=MAX_SEQ)
    with db.read() as conn:
        epoch = cursor_epoch(conn, cursor)
        _owned(conn, owner, webhook_id)
        query = select(DELIVERIES).where(DELIVERIES.c.subscription_id == webhook_id)
        if before:
            query = query.where(DELIVERIES.c.id < before)
        if status:
            query = query.where(DELIVERIES.c.status == status)
        rows = conn.execute(query.order_by(DELIVERIES.c.id.desc()).limit(limit + 1)).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [delivery_view(r) for r in rows], encode_cursor(DELIVERY_SCOPE, rows[-1]["id"], epoch) if more else None


def _same_epoch(conn: Connection, since: str | None) -> None:
    """A `since` of another epoch of the store (before a restore) names no position of this change log."""
    try:
        check_epoch(since, store_epoch(conn), "since")
    except StaleCursor:
        raise InvalidWebhook(
            "since", "is a cursor from before this store was restored (or of another store): read /v1/export"
        ) from None


def redeliver(db: Database, owner: str, webhook_id: str, body: RedeliverIn) -> int:
    """Pending again, with the same `webhook-id`, from a fresh retry schedule; they go in seq order."""
    if (body.delivery_id is None) == (body.since is None):
        raise InvalidWebhook("delivery_id", "or `since` must be given, and only one of them")
    with db.write() as conn:
        _owned(conn, owner, webhook_id)
        query = update(DELIVERIES).where(DELIVERIES.c.subscription_id == webhook_id)
        if body.delivery_id is not None:
            query = query.where(DELIVERIES.c.id == body.delivery_id)
            found = conn.execute(
                select(func.count()).where(
                    DELIVERIES.c.id == body.delivery_id, DELIVERIES.c.subscription_id == webhook_id
                )
            ).scalar_one()
            if not found:
                raise NotFoundError(f"Webhook {webhook_id!r} has no delivery {body.delivery_id}.")
        else:
            try:
                after = decode_since(body.since)
            except BadParameter:
                raise InvalidWebhook("since", "is not a cursor this list handed out (one of /v1/changes)") from None
            _same_epoch(conn, body.since)
            query = query.where(DELIVERIES.c.seq > after)
        now = time.time()
        return conn.execute(
            query.values(status=outbox.PENDING, attempts=0, next_attempt_at=now, created_at=now, delivered_at=None)
        ).rowcount


def ping_job(db: Database, owner: str, webhook_id: str) -> dict[str, Any]:
    with db.read() as conn:
        return dict(_owned(conn, owner, webhook_id))
