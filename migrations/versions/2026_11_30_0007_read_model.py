"""read model

Revision ID: 0007_read_model
Revises: 0004
Create Date: 2026-11-30 22:30:00.000000

Each published record's public read shape as JSON bytes, kept by the write path; filled here from the
content tables (the same rendering `python -m app db rebuild-documents` runs).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_read_model"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_documents",
        sa.Column("resource", sa.String(length=16), nullable=False),
        sa.Column("record_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("resource", "record_pk", name=op.f("pk_read_documents")),
    )
    from app.content.readmodel import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("read_documents")
