"""Request and answer shapes of the webhook routes, with the examples the OpenAPI document shows."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Len
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.content.queries import MAX_FILTER_VALUES
from app.content.schemas import Timestamp
from app.partners.schemas import ResourceName

EventName = Literal["upsert", "delete"]
FilterName = Literal["condition", "therapy", "therapy_type", "topic", "source", "expert", "lang"]
FilterValues = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=200)]], Len(0, MAX_FILTER_VALUES)
]

WEBHOOK_ID = "wh_3f9c2a7d41b84e0f9a1c"


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="Where events are POSTed: `https`, on a public address.")
    events: list[EventName] = Field(
        default=["upsert", "delete"], min_length=1, description="Which operations to hear about."
    )
    resources: list[ResourceName] | None = Field(
        default=None,
        description="Which resources (singular, as in the change log). Default: all; with `filters`, "
        "`claim`, `topic` and `quote`, the resources filters apply to.",
    )
    filters: dict[FilterName, FilterValues] = Field(
        default={},
        description="As the lists take them (`condition` also by code and with its descendants, "
        "`therapy_type`, ...): values of one name match any, names combine with AND.",
    )
    since: str | None = Field(
        default=None,
        max_length=200,
        description="A `/v1/changes` cursor: also deliver the changes after it. Default: from now.",
    )


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool | None = Field(default=None, description="`false` pauses; `true` resumes (also after a disable).")
    url: str | None = Field(default=None, max_length=2000)
    events: list[EventName] | None = Field(default=None, min_length=1)
    resources: list[ResourceName] | None = None
    filters: dict[FilterName, FilterValues] | None = None


class Webhook(BaseModel):
    id: str
    url: str
    events: list[EventName]
    resources: list[ResourceName]
    filters: dict[str, list[str]]
    active: bool
    disabled_reason: str | None = Field(
        description="Why deliveries stopped, when they stopped on their own (410, or the last retry failed)."
    )
    created_at: Timestamp
    updated_at: Timestamp
    previous_secret_valid_until: Timestamp | None = Field(
        description="During a rotation: until when the previous secret still signs beside the new one."
    )


class WebhookCreated(Webhook):
    secret: str = Field(description="The signing secret (`whsec_...`). Shown only in this answer.")


class WebhookList(BaseModel):
    items: list[Webhook]


class NewSecret(BaseModel):
    id: str
    secret: str = Field(description="The new signing secret; shown only in this answer.")
    previous_secret_valid_until: Timestamp


class Delivery(BaseModel):
    id: int
    event_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    type: str
    seq: int | None = Field(description="The change's sequence number in the change log.")
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: Timestamp | None
    next_attempt_at: Timestamp | None = Field(description="When it is tried next (pending only).")
    delivered_at: Timestamp | None
    queued_at: Timestamp


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class RedeliverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery_id: int | None = Field(default=None, description="Send this one delivery again.")
    since: str | None = Field(
        default=None, max_length=200, description="Send again every delivery of a change after this cursor."
    )


class Redelivered(BaseModel):
    queued: int = Field(description="How many deliveries are pending again.")


class PingResult(BaseModel):
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: float


EXAMPLE_WEBHOOK = {
    "id": WEBHOOK_ID,
    "url": "https://partner.example/hooks/health-content",
    "events": ["upsert", "delete"],
    "resources": ["claim", "topic", "quote"],
    "filters": {"condition": ["multiple-sclerosis"]},
    "active": True,
    "disabled_reason": None,
    "created_at": "2026-11-30T10:00:00.000000Z",
    "updated_at": "2026-11-30T10:00:00.000000Z",
    "previous_secret_valid_until": None,
}
EXAMPLE_CREATED = {**EXAMPLE_WEBHOOK, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
EXAMPLE_DELIVERY = {
    "id": 412,
    "event_id": "msg_5b0e1f0c9d3a4e7f8a6b2c1d",
    "type": "claim.delete",
    "seq": 1207,
    "status": "succeeded",
    "attempts": 2,
    "last_status_code": 204,
    "last_error": None,
    "last_attempt_at": "2026-11-30T10:00:05.120000Z",
    "next_attempt_at": None,
    "delivered_at": "2026-11-30T10:00:05.120000Z",
    "queued_at": "2026-11-30T10:00:00.020000Z",
}
EXAMPLE_EVENT = {
    "type": "claim.delete",
    "timestamp": "2026-11-30T10:00:00.020000Z",
    "data": {
        "resource": "claim",
        "key": "9f3b2c1d4e5f6a7b",
        "op": "delete",
        "at": "2026-11-30T10:00:00.020000Z",
        "reason": "retracted",
        "seq": 1207,
        "cursor": "eyJzIjoiY2hhbmdlcyIsInAiOjEyMDd9",
    },
}
