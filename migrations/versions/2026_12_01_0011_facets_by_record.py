"""facets by record, covering

Revision ID: 0011_facets_by_record
Revises: 0010_store_identity
Create Date: 2026-12-01 02:40:00.000000

A search counts the conditions and therapy types of the records it considers (up to 1,000) by looking up
their facets by record. The index on `record_pk` alone sent every one of those lookups to the table's rows;
`(record_pk, resource, status, facet)` answers them from the index, and still serves every lookup by
record, so it replaces it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_facets_by_record"
down_revision: str | None = "0010_store_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("facets", schema=None) as batch_op:
        batch_op.create_index("ix_facets_record", ["record_pk", "resource", "status", "facet"], unique=False)
        batch_op.drop_index(batch_op.f("ix_facets_record_pk"))


def downgrade() -> None:
    with op.batch_alter_table("facets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_facets_record_pk"), ["record_pk"], unique=False)
        batch_op.drop_index("ix_facets_record")
