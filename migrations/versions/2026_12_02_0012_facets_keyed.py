"""facets keyed by their scan order

Revision ID: 0012_facets_keyed
Revises: 0011_facets_by_record
Create Date: 2026-12-02 01:30:00.000000

The facets table had a surrogate key that nothing read, so every row went into three B-trees: the table,
the scan index `(resource, facet, status, record_pk)` and the index by record. Keyed by the scan order
itself, the table is the scan index (on SQLite a `WITHOUT ROWID` table; on PostgreSQL the primary key's
index replaces the scan index), so each row goes into two. The rows of one record are unique by
construction (a record has a facet once, under one status); the key now says so.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_facets_keyed"
down_revision: str | None = "0011_facets_by_record"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "resource, facet, status, record_pk"


def _columns() -> list[sa.Column]:
    return [
        sa.Column("resource", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("facet", sa.String(length=240), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("record_pk", sa.Integer(), autoincrement=False, nullable=False),
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a table's key in place: the rows move to a new table, in key order.
        op.create_table(
            "facets_keyed",
            *_columns(),
            sa.PrimaryKeyConstraint("resource", "facet", "status", "record_pk", name=op.f("pk_facets")),
            sqlite_with_rowid=False,
        )
        op.execute(f"INSERT INTO facets_keyed ({COLUMNS}) SELECT {COLUMNS} FROM facets ORDER BY {COLUMNS}")
        op.drop_table("facets")  # and its two indexes
        op.rename_table("facets_keyed", "facets")
        op.create_index("ix_facets_record", "facets", ["record_pk", "resource", "status", "facet"], unique=False)
    else:
        op.drop_constraint(op.f("pk_facets"), "facets", type_="primary")
        op.drop_column("facets", "pk")
        op.drop_index("ix_facets_scan", table_name="facets")
        op.create_primary_key(op.f("pk_facets"), "facets", ["resource", "facet", "status", "record_pk"])


def downgrade() -> None:
    op.drop_index("ix_facets_record", table_name="facets")
    if op.get_bind().dialect.name == "sqlite":
        op.create_table(
            "facets_numbered",
            sa.Column("pk", sa.Integer(), nullable=False),
            *_columns(),
            sa.PrimaryKeyConstraint("pk", name=op.f("pk_facets")),
        )
        op.execute(f"INSERT INTO facets_numbered ({COLUMNS}) SELECT {COLUMNS} FROM facets")
        op.drop_table("facets")
        op.rename_table("facets_numbered", "facets")
    else:
        op.drop_constraint(op.f("pk_facets"), "facets", type_="primary")
        op.add_column("facets", sa.Column("pk", sa.Integer(), sa.Identity(), nullable=False))
        op.create_primary_key(op.f("pk_facets"), "facets", ["pk"])
    op.create_index("ix_facets_scan", "facets", ["resource", "facet", "status", "record_pk"], unique=False)
    op.create_index("ix_facets_record", "facets", ["record_pk", "resource", "status", "facet"], unique=False)
