"""Backups. SQLite: `VACUUM INTO` copies one read snapshot, so the copy is consistent while writes go on
(WAL lets them), and restoring goes through SQLite's backup API into the live file, which takes the write
lock and keeps the WAL right for anyone else reading it. PostgreSQL: pg_dump and pg_restore are the tools;
these functions run them when they are installed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from app.core.db import Database, renew_epoch
from app.core.migrate import upgrade
from app.ops.files import written_whole


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupInfo:
    path: Path
    bytes: int
    schema: str | None
    last_change: int


def _sqlite_file(db: Database) -> Path:
    name = db.engine.url.database
    if not name or name == ":memory:":
        raise BackupError("This database is in memory; there is nothing to back up.")
    return Path(name)


def inspect_sqlite(path: Path) -> BackupInfo:
    """Check a SQLite file is whole and ours: integrity, foreign keys, a schema version."""
    if not path.is_file():
        raise BackupError(f"No such file: {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} fails PRAGMA integrity_check.")
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise BackupError(f"{path} fails PRAGMA foreign_key_check.")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"alembic_version", "changes"} <= tables:
            raise BackupError(f"{path} is not a database of this service.")
        schema = (conn.execute("SELECT version_num FROM alembic_version").fetchone() or [None])[0]
        last = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from None
    finally:
        conn.close()
    return BackupInfo(path=path, bytes=path.stat().st_size, schema=schema, last_change=last)


def backup(db: Database, target: Path) -> BackupInfo:
    """A consistent copy of the store at `target`: a SQLite file, or a pg_dump archive for PostgreSQL."""
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file (a backup never overwrites).")
    if not db.is_sqlite:
        return _pg_dump(db, target)
    source = _sqlite_file(db)
    with written_whole(target) as partial:
        conn = sqlite3.connect(source, timeout=10)
        try:
            conn.execute("VACUUM INTO ?", (str(partial),))
        except sqlite3.Error as exc:  # a full disk among others: nothing is left behind
            raise BackupError(f"The backup could not be written to {target}: {exc}.") from None
        finally:
            conn.close()
        inspect_sqlite(partial)
    return inspect_sqlite(target)


def restore(db: Database, source: Path) -> BackupInfo:
    """Replace the store's content with a backup's. Checked first; on SQLite one write transaction. The
    restored store is brought to the current schema and given a new epoch: its change log goes back to
    the backup's numbers, which the store handed out again after the backup for other changes, so no
    cursor or tag made before the restore may be read as one of the store after it."""
    source = Path(source)
    info = _pg_restore(db, source) if not db.is_sqlite else _sqlite_restore(db, source)
    upgrade(db)  # a backup made before the newest migrations (which a starting server would also apply)
    with db.write() as conn:
        renew_epoch(conn)
    return info


def _sqlite_restore(db: Database, source: Path) -> BackupInfo:
    info = inspect_sqlite(source)
    target = _sqlite_file(db)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=10)
    try:
        dst.execute("PRAGMA journal_mode=WAL")
        src.backup(dst)  # one step: takes the write lock, copies every page, commits through the WAL
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        src.close()
        dst.close()
    return info


def _libpq_url(db: Database) -> tuple[str, dict[str, str]]:
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"On PostgreSQL, backups are made with {name} (from the PostgreSQL client tools), "
            f"which is not installed here. Install it, or run {name} where it is."
        )
    return found


def _pg_dump(db: Database, target: Path) -> BackupInfo:
    url, env = _libpq_url(db)
    with written_whole(target) as partial:
        command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), "--dbname", url]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return BackupInfo(path=target, bytes=target.stat().st_size, schema=None, last_change=0)


def _pg_restore(db: Database, source: Path) -> BackupInfo:
    if not source.is_file():
        raise BackupError(f"No such file: {source}")
    url, env = _libpq_url(db)
    command = [
        _tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--dbname",
        url,
        str(source),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
    return BackupInfo(path=source, bytes=source.stat().st_size, schema=None, last_change=0)
