"""`db backup` makes a consistent copy while writes go on; `db restore` brings it back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading

import pytest

from app.content.resources import RESOURCES
from app.content.store import writing
from app.core.config import PROJECT_ROOT
from app.ops.backup import BackupError, backup, inspect_sqlite, restore
from tests.conftest import POSTGRES_URL, client_for

sqlite_only = pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite backup path")


def write_claims(db, prefix: str, count: int, stop: threading.Event | None = None) -> int:
    """Write claims one transaction each (as editors do) until `count` or `stop`; returns how many."""
    claim = RESOURCES["claim"]
    written = 0
    for i in range(count):
        if stop is not None and stop.is_set():
            break
        body = {
            "topic": "fecal-microbiota-transplantation",
            "text": f"{prefix} {i} \U0001f9a0",
            "source_excerpt": "x",
            "evidence": {"kind": "background", "strength": "low"},
        }
        with writing(db, "backup-test") as writer:
            writer.put("claim", f"{prefix}-{i}", claim.write_schema.model_validate(body))
        written += 1
    return written


def consistent(path) -> tuple[int, int]:
    """The copy's claim count and last change; every published claim is in the log exactly as stored."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        claims = {key for (key,) in conn.execute("SELECT key FROM claims WHERE status = 'published'")}
        replayed: dict[str, str] = {}
        for key, op in conn.execute("SELECT key, op FROM changes WHERE resource = 'claim' ORDER BY seq"):
            replayed[key] = op
        assert claims == {k for k, op in replayed.items() if op == "upsert"}
        revisions = conn.execute("SELECT count(DISTINCT key) FROM revisions WHERE resource = 'claim'").fetchone()[0]
        assert revisions == conn.execute("SELECT count(*) FROM claims").fetchone()[0]
        return len(claims), conn.execute("SELECT max(seq) FROM changes").fetchone()[0]
    finally:
        conn.close()


@sqlite_only
def test_a_backup_taken_while_writes_go_on_is_consistent_and_restores(seeded_db, tmp_path):
    stop = threading.Event()
    counts: list[int] = []
    writer = threading.Thread(target=lambda: counts.append(write_claims(seeded_db, "during", 400, stop)))
    seed_claims = consistent(seeded_db.engine.url.database)[0]
    write_claims(seeded_db, "before", 5)
    writer.start()
    copies = []
    try:
        for n in range(3):
            copies.append(backup(seeded_db, tmp_path / f"copy-{n}.db"))
    finally:
        stop.set()
        writer.join()
    assert counts[0] > 0
    seen = [consistent(info.path) for info in copies]
    assert seen == sorted(seen) and seen[0][0] >= seed_claims + 5  # each copy is one moment, in order
    live = consistent(seeded_db.engine.url.database)
    assert live[0] == seed_claims + 5 + counts[0]
    # Restore the first copy into the live database: its content comes back exactly.
    expected_claims, expected_seq = seen[0]
    restore(seeded_db, copies[0].path)
    assert consistent(seeded_db.engine.url.database) == (expected_claims, expected_seq)
    with client_for(seeded_db) as client:
        after = client.get("/v1/changes", params={"limit": 1}).json()
        assert client.get("/readyz").json()["status"] == "ready"
        assert client.get("/v1/claims/before-0").status_code == 200
        assert after["items"]
    assert live[0] >= expected_claims  # the restore went back in time


@sqlite_only
def test_backup_refuses_to_overwrite_and_restore_refuses_a_damaged_file(seeded_db, tmp_path):
    first = backup(seeded_db, tmp_path / "one.db")
    with pytest.raises(BackupError, match="exists"):
        backup(seeded_db, first.path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
    with pytest.raises(BackupError):
        restore(seeded_db, junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(BackupError, match="not a database of this service"):
        restore(seeded_db, other)
    with pytest.raises(BackupError, match="No such file"):
        restore(seeded_db, tmp_path / "missing.db")
    assert inspect_sqlite(first.path).schema


@sqlite_only
def test_the_cli_backs_up_and_restores(seeded_db, tmp_path):
    url = seeded_db.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DATABASE_READ_URL", None)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = cli("db", "backup", str(tmp_path / "b.db"))
    assert made.returncode == 0 and "backed up" in made.stdout, made.stderr
    write_claims(seeded_db, "after-backup", 3)
    again = cli("db", "backup", str(tmp_path / "b.db"))
    assert again.returncode == 1 and "exists" in again.stderr
    back = cli("db", "restore", str(tmp_path / "b.db"))
    assert back.returncode == 0, back.stderr
    with client_for(seeded_db) as client:
        assert client.get("/v1/claims/after-backup-0").status_code == 404


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL backups use pg_dump")
def test_postgres_backup_and_restore_with_pg_dump(seeded_db, tmp_path):
    import shutil

    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        with pytest.raises(BackupError, match="pg_dump"):
            backup(seeded_db, tmp_path / "dump")
        return
    stop = threading.Event()
    writer = threading.Thread(target=write_claims, args=(seeded_db, "during", 200, stop))
    writer.start()
    try:
        info = backup(seeded_db, tmp_path / "dump")
    finally:
        stop.set()
        writer.join()
    assert info.bytes > 0
    with client_for(seeded_db) as client:
        before = client.get("/v1/changes", params={"limit": 1}).json()["next_cursor"]
    write_claims(seeded_db, "after-backup", 2)
    restore(seeded_db, info.path)
    with client_for(seeded_db) as client:
        assert client.get("/v1/claims/after-backup-0").status_code == 404
        assert client.get("/readyz").json()["status"] == "ready"
        assert before
