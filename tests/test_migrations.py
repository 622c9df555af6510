"""The schema is made only by migrations, and the models have nothing left to migrate."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.core.migrate import alembic_config
from app.models import metadata


def test_migrations_build_exactly_the_models(empty_db):
    with empty_db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _models_only})
        diff = compare_metadata(context, metadata)
    assert diff == []


def _models_only(obj, name, type_, reflected, compare_to):
    # Tables made by hand-written DDL (the full-text index) have no model; everything else must match.
    return not (type_ == "table" and reflected and compare_to is None and name.startswith("search"))


def test_facets_keyed_by_scan_order_keep_every_row_down_and_up(seeded_db):
    """0012 makes the facets table its own scan index (no surrogate key); going back to 0011 and forward
    again keeps every row, and the key is the scan order on both databases."""
    before = _facet_rows(seeded_db)
    assert before, "the seed content has facets"
    _migrate(seeded_db, command.downgrade, "0011_facets_by_record")
    assert "pk" in _facet_columns(seeded_db)
    assert _facet_rows(seeded_db) == before
    _migrate(seeded_db, command.upgrade, "head")
    assert _facet_rows(seeded_db) == before
    with seeded_db.engine.connect() as conn:
        inspector = inspect(conn)
        assert inspector.get_pk_constraint("facets")["constrained_columns"] == SCAN_ORDER
        assert {index["name"] for index in inspector.get_indexes("facets")} == {"ix_facets_record"}
        if seeded_db.is_sqlite:
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'facets'").scalar()
            assert sql.rstrip().endswith("WITHOUT ROWID")
    assert "pk" not in _facet_columns(seeded_db)


SCAN_ORDER = ["resource", "facet", "status", "record_pk"]


def _migrate(db, step, revision: str) -> None:
    config = alembic_config()
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        step(config, revision)
        conn.commit()


def _facet_rows(db) -> list[tuple]:
    with db.engine.connect() as conn:
        return sorted(conn.exec_driver_sql(f"SELECT {', '.join(SCAN_ORDER)} FROM facets").all())


def _facet_columns(db) -> set[str]:
    with db.engine.connect() as conn:
        return {column["name"] for column in inspect(conn).get_columns("facets")}
