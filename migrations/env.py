"""Alembic environment: the URL comes from the app's settings (or the caller's connection)."""

from alembic import context
from sqlalchemy import create_engine, pool

from app.core.config import get_settings
from app.models import metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=get_settings().database_url, target_metadata=metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(get_settings().database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
