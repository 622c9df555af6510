"""Every table, imported once so that metadata (and Alembic) sees them all."""

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
from app.models.system import ApiKey, Change, Facet, Revision

metadata = SQLModel.metadata

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
    "Revision",
    "Source",
    "Therapy",
    "TherapyCode",
    "Topic",
    "TopicCondition",
    "TopicTherapy",
    "metadata",
]
