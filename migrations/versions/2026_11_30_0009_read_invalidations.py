"""read invalidations

Revision ID: 0009_read_invalidations
Revises: 0008_content_integrity
Create Date: 2026-11-30 23:00:00.000000

What each write changed for the read side, under the content version it made: kept list responses stay
current across writes that change nothing they show.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_read_invalidations"
down_revision: str | None = "0008_content_integrity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_invalidations",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource", sa.String(length=16), nullable=False),
        sa.Column("record_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_read_invalidations")),
    )
    op.create_index(op.f("ix_read_invalidations_seq"), "read_invalidations", ["seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_read_invalidations_seq"), table_name="read_invalidations")
    op.drop_table("read_invalidations")
