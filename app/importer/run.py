"""Applying a dataset: all or nothing, idempotent; what data/ no longer holds is deleted only when asked
(`prune`), and then in dependency order (quotes before claims before topics..., a subtree from its leaves)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from sqlalchemy import inspect, select

from app.content.resources import RESOURCES, WRITE_ORDER
from app.content.store import writing
from app.core.db import Database
from app.core.migrate import upgrade
from app.importer.loader import Dataset, load_dataset

IMPORT_ACTOR = "import"

log = logging.getLogger("app.migrate")


def apply_dataset(db: Database, dataset: Dataset, actor: str = IMPORT_ACTOR, *, prune: bool = False) -> Counter:
    """Write the dataset in one transaction; returns how many records were created, updated, deleted
    and, without `prune`, how many imported records the files no longer hold were kept (`stale`)."""
    outcome: Counter = Counter()
    with writing(db, actor) as writer:
        for resource in WRITE_ORDER:
            items = dataset.records[resource]
            for result in writer.put_many(resource, items):
                outcome[result.op] += 1
            table = RESOURCES[resource].table
            keys = [key for key, _ in items]
            if keys:
                writer.conn.execute(
                    table.update().where(table.c.key.in_(keys), table.c.origin != "import").values(origin="import")
                )
        for resource in reversed(WRITE_ORDER):
            table = RESOURCES[resource].table
            wanted = {key for key, _ in dataset.records[resource]}
            held = writer.conn.execute(select(table.c.key).where(table.c.origin == "import")).scalars().all()
            gone = [key for key in held if key not in wanted]
            if gone and prune:
                outcome["deleted"] += len(writer.delete_many(resource, gone))
            elif gone:
                outcome["stale"] += len(gone)
    return outcome


def import_path(db: Database, path: Path, *, prune: bool = False) -> Counter:
    return apply_dataset(db, load_dataset(path), prune=prune)


def is_empty(db: Database) -> bool:
    with db.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        if "sources" not in tables:
            return True
        return conn.exec_driver_sql("SELECT count(*) FROM sources").scalar_one() == 0


def bootstrap(db: Database, data_dir: Path) -> None:
    """On an empty database: migrate, then import data/, so one command gives a working API."""
    empty = is_empty(db)
    upgrade(db)
    if empty and data_dir.is_dir():
        outcome = import_path(db, data_dir)
        log.info("imported %s: %s", data_dir, dict(outcome))
