"""search index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 00:20:00.000000

SQLite: an FTS5 table (porter stemming over unicode61, diacritics folded). PostgreSQL: a table with a
generated, weighted tsvector (english) under a GIN index. Either is then filled from the content tables.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE = """
CREATE VIRTUAL TABLE search_index USING fts5(
    title, body,
    resource UNINDEXED, record_pk UNINDEXED, key UNINDEXED, status UNINDEXED, label UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
)"""

POSTGRES = [
    """
    CREATE TABLE search_index (
        id bigint NOT NULL,
        resource varchar(16) NOT NULL,
        record_pk integer NOT NULL,
        key varchar(200) NOT NULL,
        status varchar(16) NOT NULL,
        label text NOT NULL,
        title text NOT NULL,
        body text NOT NULL,
        document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english'::regconfig, title), 'A')
            || setweight(to_tsvector('english'::regconfig, body), 'B')
        ) STORED,
        CONSTRAINT pk_search_index PRIMARY KEY (id)
    )""",
    "CREATE INDEX ix_search_index_document ON search_index USING gin (document)",
]


def upgrade() -> None:
    from app.search.index import rebuild

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(SQLITE)
    else:
        for statement in POSTGRES:
            op.execute(statement)
    rebuild(bind)


def downgrade() -> None:
    op.execute("DROP TABLE search_index")
