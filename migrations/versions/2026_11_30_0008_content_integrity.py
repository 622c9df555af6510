"""content integrity

Revision ID: 0008_content_integrity
Revises: 0007_read_model
Create Date: 2026-11-30 22:30:00.000000

Codes record their name, whether a category is meant, and the release they were checked against;
records carry the provenance of inferred fields and cautions; topics and claims their reading grades,
measured here for what is already stored. The kept read documents are rendered again (they gain the new
fields) and the search index is rebuilt (therapies become hits).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_content_integrity"
down_revision: str | None = "0007_read_model"
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
    _measure()
    from app.content.readmodel import rebuild as render_documents
    from app.search.index import rebuild as index_search

    render_documents(op.get_bind())
    index_search(op.get_bind())


def _measure() -> None:
    from app.content.readability import grades

    bind = op.get_bind()
    for table, column in (("topics", "body"), ("claims", "text")):
        rows = bind.execute(sa.text(f"SELECT pk, {column} FROM {table}")).all()
        updates = []
        for pk, text in rows:
            measured = grades(text)
            updates.append({"pk": pk, "fk": measured["flesch_kincaid"], "cl": measured["coleman_liau"]})
        if updates:
            bind.execute(sa.text(f"UPDATE {table} SET grade_fk = :fk, grade_cl = :cl WHERE pk = :pk"), updates)


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
