"""Schema migrations and first-start bootstrap, used by the CLI, the tests and `serve`."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from app.core.config import PROJECT_ROOT
from app.core.db import WRITE_LOCK_ID, Database

log = logging.getLogger("app.migrate")


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def upgrade(db: Database) -> None:
    """Apply every pending migration; several workers starting at once take turns (one lock)."""
    config = alembic_config()
    with db.engine.connect() as conn:
        if not db.is_sqlite:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({WRITE_LOCK_ID + 1})")
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
        finally:
            if not db.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({WRITE_LOCK_ID + 1})")
                conn.commit()


def is_empty(db: Database) -> bool:
    with db.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        if "sources" not in tables:
            return True
        return conn.exec_driver_sql("SELECT count(*) FROM sources").scalar_one() == 0


def bootstrap(db: Database, data_dir: Path) -> None:
    """On an empty database: migrate, then import data/, so one command gives a working API."""
    from app.importer.run import import_path

    empty = is_empty(db)
    upgrade(db)
    if empty and data_dir.is_dir():
        outcome = import_path(db, data_dir)
        log.info("imported %s: %s", data_dir, dict(outcome))
