"""Webhook routes: subscriptions of the calling key, their deliveries, redelivery and a test ping. They
parse and delegate; the work is in app.webhooks.service, .outbox and .delivery."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal

import orjson
from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.api.deps import DatabaseDep, KeyDep, PageDep
from app.core.errors import NotFoundError, Unauthorized
from app.webhooks import service
from app.webhooks.delivery import iso, new_client, signing_secrets
from app.webhooks.schemas import (
    EXAMPLE_CREATED,
    EXAMPLE_DELIVERY,
    EXAMPLE_EVENT,
    EXAMPLE_WEBHOOK,
    WEBHOOK_ID,
    DeliveryPage,
    NewSecret,
    PingResult,
    Redelivered,
    RedeliverIn,
    Webhook,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookUpdate,
)
from app.webhooks.sender import send
from app.webhooks.service import InvalidWebhook
from app.webhooks.signing import Signer, new_message_id
from app.webhooks.ssrf import UnsafeTarget, check_url

TAGS: list[str | Enum] = ["webhooks"]
NO_STORE = {"Cache-Control": "no-store"}


NEEDS_KEY = Unauthorized.openapi(
    "No key, or an unknown or revoked one.", "This operation needs an X-API-Key (a partner's or an editor's)."
)
NOT_YOURS = NotFoundError.openapi("No webhook of this key has that id.", f"You have no webhook {WEBHOOK_ID!r}.")
BAD_BODY = InvalidWebhook.openapi(
    "The body is invalid; `errors` names the field (a target that is not https or not public is `url`).",
    "The body field 'url' resolves to 127.0.0.1, which is not a public address.",
    errors=[{"location": "body", "field": "url", "message": "resolves to 127.0.0.1, which is not a public address"}],
)
COMMON: dict[int | str, dict[str, Any]] = {401: NEEDS_KEY, 404: NOT_YOURS}


@dataclass(frozen=True)
class Owner:
    """The key a webhook belongs to: its public prefix, and the name it was made for."""

    prefix: str
    name: str


async def key_owner(principal: KeyDep) -> Owner:
    assert principal.prefix is not None  # require_key saw to it
    return Owner(principal.prefix, principal.name or "")


OwnerDep = Annotated[Owner, Depends(key_owner)]
router = APIRouter(prefix="/v1/webhooks", tags=TAGS)


@router.post(
    "",
    summary="Subscribe to changes",
    name="create_webhook",
    status_code=201,
    response_model=WebhookCreated,
    description="From now on (or from the change-log cursor `since`), every public change matching `events`, "
    "`resources` and `filters` is POSTed to `url` in the Standard Webhooks format: headers `webhook-id` (the "
    "same on every retry), `webhook-timestamp`, `webhook-signature` (`v1,` + base64 HMAC-SHA256 of "
    "`id.timestamp.body` with the secret), body `{type, timestamp, data: {resource, key, op, at, data | "
    "reason, seq, cursor}}`, for example: `" + str(EXAMPLE_EVENT).replace("'", '"').replace("None", "null") + "`. "
    "Delivered at least once, in seq order per webhook; a 2xx within the timeout is receipt; failures are "
    "retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then the webhook is disabled (as on a `410`). "
    "The URL must be https and resolve to public addresses only; nothing is sent to it on creation. The "
    "answer holds the signing secret, the only time it is shown.",
    responses={201: {"content": {"application/json": {"example": EXAMPLE_CREATED}}}, 401: NEEDS_KEY, 422: BAD_BODY},
)
def create_webhook(request: Request, db: DatabaseDep, principal: OwnerDep, body: WebhookIn) -> Response:
    settings = request.app.state.settings
    made = service.create(db, settings, principal.prefix, principal.name, body)
    return Response(WebhookCreated(**made).model_dump_json(), 201, media_type="application/json", headers=NO_STORE)


@router.get(
    "",
    summary="List your webhooks",
    name="list_webhooks",
    response_model=WebhookList,
    description="The webhooks made with this key (never another key's), oldest first, without secrets.",
    responses={200: {"content": {"application/json": {"example": {"items": [EXAMPLE_WEBHOOK]}}}}, 401: NEEDS_KEY},
)
def list_webhooks(db: DatabaseDep, principal: OwnerDep, response: Response) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return {"items": service.list_owned(db, principal.prefix)}


@router.get(
    "/{webhook_id}",
    summary="Read a webhook",
    name="get_webhook",
    response_model=Webhook,
    description="One of your webhooks: what it follows, whether it is active, and why it was disabled if it was.",
    responses={200: {"content": {"application/json": {"example": EXAMPLE_WEBHOOK}}}, **COMMON},
)
def get_webhook(webhook_id: str, db: DatabaseDep, principal: OwnerDep, response: Response) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return service.get(db, principal.prefix, webhook_id)


@router.patch(
    "/{webhook_id}",
    summary="Change or pause a webhook",
    name="update_webhook",
    response_model=Webhook,
    description='`{"active": false}` pauses (events are kept and sent on resume); `{"active": true}` resumes, '
    "also a webhook disabled after failures (redeliver what failed). `url`, `events`, `resources` and "
    "`filters` may change too; a new URL is checked as on creation.",
    responses={200: {"content": {"application/json": {"example": EXAMPLE_WEBHOOK}}}, **COMMON, 422: BAD_BODY},
)
def update_webhook(
    webhook_id: str, request: Request, db: DatabaseDep, principal: OwnerDep, body: WebhookUpdate, response: Response
) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return service.change(db, request.app.state.settings, principal.prefix, webhook_id, body)


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook",
    name="delete_webhook",
    status_code=204,
    description="The webhook and its pending and past deliveries are gone; nothing more is sent.",
    responses={204: {"description": "Deleted."}, **COMMON},
)
def delete_webhook(webhook_id: str, db: DatabaseDep, principal: OwnerDep) -> Response:
    service.remove(db, principal.prefix, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    summary="Rotate the signing secret",
    name="rotate_webhook_secret",
    response_model=NewSecret,
    description="A new secret, shown once. Until `previous_secret_valid_until` both secrets sign: "
    "`webhook-signature` then carries two `v1,` signatures separated by a space.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "id": WEBHOOK_ID,
                        "secret": "whsec_2bVvG7Wm2yPq4sEJ3y0D9mJ4sS8l3mQpQ7uFJ1v0xYk=",
                        "previous_secret_valid_until": "2026-12-01T10:00:00.000000Z",
                    }
                }
            }
        },
        **COMMON,
    },
)
def rotate_webhook_secret(webhook_id: str, request: Request, db: DatabaseDep, principal: OwnerDep) -> Response:
    made = service.rotate(db, request.app.state.settings, principal.prefix, webhook_id)
    return Response(NewSecret(**made).model_dump_json(), media_type="application/json", headers=NO_STORE)


@router.get(
    "/{webhook_id}/deliveries",
    summary="List a webhook's deliveries",
    name="list_webhook_deliveries",
    response_model=DeliveryPage,
    description="Newest first: each event's status (`pending`, `succeeded`, `failed`), attempts, the last "
    "answer's status code or error and its time, and when it is tried next. Pages with `limit` and `cursor`.",
    responses={
        200: {"content": {"application/json": {"example": {"items": [EXAMPLE_DELIVERY], "next_cursor": None}}}},
        **COMMON,
    },
)
def list_webhook_deliveries(
    webhook_id: str,
    db: DatabaseDep,
    principal: OwnerDep,
    page: PageDep,
    response: Response,
    status: Literal["pending", "succeeded", "failed"] | None = None,
) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    items, cursor = service.deliveries(
        db, principal.prefix, webhook_id, limit=page.limit, cursor=page.cursor, status=status
    )
    return {"items": items, "next_cursor": cursor}


@router.post(
    "/{webhook_id}/redeliver",
    summary="Send deliveries again",
    name="redeliver_webhook",
    response_model=Redelivered,
    description='`{"delivery_id": 412}` sends one delivery again; `{"since": cursor}` every delivery of a '
    "change after that change-log cursor. Each keeps its `webhook-id` (a receiver may deduplicate) and "
    "starts a fresh retry schedule; they go in seq order.",
    responses={200: {"content": {"application/json": {"example": {"queued": 3}}}}, **COMMON, 422: BAD_BODY},
)
def redeliver_webhook(webhook_id: str, db: DatabaseDep, principal: OwnerDep, body: RedeliverIn) -> dict[str, int]:
    return {"queued": service.redeliver(db, principal.prefix, webhook_id, body)}


@router.post(
    "/{webhook_id}/ping",
    summary="Test a webhook's target",
    name="ping_webhook",
    response_model=PingResult,
    description="Sends a signed `webhook.ping` event to the URL now (checked again first) and tells what came "
    "back: `delivered` is true for a 2xx within the timeout. Works on a paused webhook too.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"delivered": True, "status_code": 204, "error": None, "duration_ms": 12.5}
                }
            }
        },
        **COMMON,
    },
)
async def ping_webhook(webhook_id: str, request: Request, db: DatabaseDep, principal: OwnerDep) -> dict[str, Any]:
    settings = request.app.state.settings
    row = await to_thread.run_sync(service.ping_job, db, principal.prefix, webhook_id)
    try:
        target = await to_thread.run_sync(
            lambda: check_url(row["url"], allow_private=settings.webhook_allow_private_targets)
        )
    except UnsafeTarget as exc:
        return {"delivered": False, "status_code": None, "error": f"refused: the URL {exc}", "duration_ms": 0.0}
    payload = {"type": "webhook.ping", "timestamp": iso(time.time()), "data": {"webhook": webhook_id}}
    async with new_client() as client:
        attempt = await send(
            client,
            row["url"],
            target,
            Signer(signing_secrets(row, time.time())),
            new_message_id(),
            orjson.dumps(payload),
            timeout=settings.webhook_timeout_seconds,
        )
    return {
        "delivered": attempt.ok,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": round(attempt.duration_ms, 1),
    }
