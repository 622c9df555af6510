"""Webhook subscriptions and their outbox: one delivery row per (subscription, change), written in the
transaction of the change itself, so a change that committed always has its deliveries."""

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel


class WebhookSubscription(SQLModel, table=True):
    """A partner's target URL and what it wants to hear about. The signing secret is kept as it is (an
    HMAC needs it), shown to its owner once; during a rotation the previous one signs too until it expires."""

    __tablename__ = "webhook_subscriptions"
    id: str = Field(sa_column=Column(String(40), primary_key=True))
    owner: str = Field(max_length=16, index=True)  # the key prefix of who made it
    owner_name: str = Field(max_length=200)
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    resources: list[str] = Field(sa_column=Column(JSON, nullable=False))
    filters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    facet_groups: list[Any] = Field(sa_column=Column(JSON, nullable=False))  # filters resolved to facet names
    secret: str = Field(max_length=80)
    previous_secret: str | None = Field(default=None, max_length=80)
    previous_secret_until: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: str = Field(max_length=32)
    updated_at: str = Field(max_length=32)
    start_seq: int = Field(sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), nullable=False))
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription. `msg_id` is the `webhook-id` header, the same on every attempt.
    Times are seconds since the epoch, so the worker's "due" query is a plain comparison."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_queue", "subscription_id", "status", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    msg_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    subscription_id: str = Field(
        sa_column=Column(String(40), ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), nullable=True))
    event_type: str = Field(max_length=40)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16)  # pending | succeeded | failed
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    next_attempt_at: float = Field(sa_column=Column(Float, nullable=False))
    created_at: float = Field(sa_column=Column(Float, nullable=False))
    last_attempt_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    last_status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    delivered_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
