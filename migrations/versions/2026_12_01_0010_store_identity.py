"""store identity

Revision ID: 0010_store_identity
Revises: 0009_read_invalidations
Create Date: 2026-12-01 01:30:00.000000

The store's epoch: a random name made here (so every new store has its own) and renewed by every restore.
Cursors and tags carry it, so one from before a restore is never read as a position of the store after it.
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010_store_identity"
down_revision: str | None = "0009_read_invalidations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    identity = op.create_table(
        "store_identity",
        sa.Column("pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.String(length=16), nullable=False),
        sa.Column("made_at", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_store_identity")),
    )
    made_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    op.bulk_insert(identity, [{"pk": 1, "epoch": secrets.token_urlsafe(8), "made_at": made_at, "origin": "migration"}])


def downgrade() -> None:
    op.drop_table("store_identity")
