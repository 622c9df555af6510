"""Every table, imported once so that metadata (and Alembic) sees them all."""

from typing import cast

from sqlalchemy import Table
from sqlmodel import SQLModel

from app.models.content import (
    Claim,
    ClaimCondition,
    ClaimTherapy,
    Condition,
    ConditionCode,
    Expert,
    Quote,
    QuoteClaim,
    Source,
    Therapy,
    TherapyCode,
    Topic,
    TopicCondition,
    TopicTherapy,
)
from app.models.system import ApiKey, Change, Facet, ReadDocument, ReadInvalidation, Revision, StoreIdentity
from app.models.webhooks import WebhookDelivery, WebhookSubscription

metadata = SQLModel.metadata


def table_of(model: type[SQLModel]) -> Table:
    """A table model's SQLAlchemy `Table` (SQLModel sets `__table__` when it makes the class; its typing
    does not say so)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


__all__ = [
    "ApiKey",
    "Change",
    "Claim",
    "ClaimCondition",
    "ClaimTherapy",
    "Condition",
    "ConditionCode",
    "Expert",
    "Facet",
    "Quote",
    "QuoteClaim",
    "ReadDocument",
    "ReadInvalidation",
    "Revision",
    "StoreIdentity",
    "Source",
    "Therapy",
    "TherapyCode",
    "Topic",
    "TopicCondition",
    "TopicTherapy",
    "WebhookDelivery",
    "WebhookSubscription",
    "metadata",
    "table_of",
]
