"""content integrity

Revision ID: 0005_content_integrity
Revises: 0004
Create Date: 2026-11-30 22:30:00.000000

Codes record their name, whether a category is meant, and the release they were checked against;
records carry the provenance of inferred fields and cautions; topics and claims their reading grades.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_content_integrity"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANNOTATED = ("sources", "conditions", "therapies", "experts", "topics", "claims")
CAUTIONED = ("conditions", "therapies", "claims")
GRADED = ("topics", "claims")
CODES = ("condition_codes", "therapy_codes")


def upgrade() -> None:
    for name in CODES:
        with op.batch_alter_table(name) as batch:
            batch.alter_column("version", type_=sa.String(length=40), existing_type=sa.String(length=16))
            batch.add_column(sa.Column("name", sa.String(), nullable=True))
            batch.add_column(sa.Column("category", sa.Boolean(), nullable=False, server_default=sa.false()))
            batch.add_column(sa.Column("checked_against", sa.String(length=40), nullable=True))
    for name in ANNOTATED:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("provenance", sa.JSON(), nullable=False, server_default="{}"))
    for name in CAUTIONED:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("cautions", sa.JSON(), nullable=False, server_default="[]"))
    for name in GRADED:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("grade_fk", sa.Float(), nullable=True))
            batch.add_column(sa.Column("grade_cl", sa.Float(), nullable=True))


def downgrade() -> None:
    for name in GRADED:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("grade_cl")
            batch.drop_column("grade_fk")
    for name in CAUTIONED:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("cautions")
    for name in ANNOTATED:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("provenance")
    for name in CODES:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("checked_against")
            batch.drop_column("category")
            batch.drop_column("name")
            batch.alter_column("version", type_=sa.String(length=16), existing_type=sa.String(length=40))
