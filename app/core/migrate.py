"""Schema migrations, used by the CLI, the tests and `serve` (through `app.importer.run.bootstrap`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.core.config import PROJECT_ROOT
from app.core.db import WRITE_LOCK_ID, Database


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
