"""A full disk is the truth told once: a write the database has no room for is a 507 problem (no
`Retry-After`: it is not a passing outage) and saves nothing; `db backup` and `export -o` write whole files
or none, leaving no partial or empty result and no traceback when the disk fills midway."""

import os
import resource
import signal
import subprocess
import sys

import pytest
from sqlalchemy import event, text

from app.core.config import PROJECT_ROOT
from tests.conftest import POSTGRES_URL, client_for
from tests.test_editing import make_key
from tests.test_search import write

CLAIM = {"topic": "probiotics-and-prebiotics", "evidence": {"kind": "background", "strength": "low"}}

PROBLEM = "application/problem+json"
BIG = "A sentence long enough to need pages of its own. " * 1900  # about 95,000 characters


def new_claim(client) -> dict:
    topic = client.get("/v1/topics", params={"limit": 1}).json()["items"][0]["slug"]
    return {
        "topic": topic,
        "text": BIG,
        "source_excerpt": BIG,
        "evidence": {"kind": "background", "strength": "low"},
    }


@pytest.fixture
def full_database(seeded_db):
    """The store with no room left: SQLite by `PRAGMA max_page_count` at its current size on every
    connection (SQLite then answers SQLITE_FULL, as on a full disk); PostgreSQL by a trigger raising
    SQLSTATE 53100 (disk_full) on a claim insert, the error a full disk gives."""
    if seeded_db.is_sqlite:

        def limit(dbapi_connection, _record):
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        engines = {seeded_db.engine, getattr(seeded_db, "read_engine", seeded_db.engine)}
        for engine in engines:
            event.listen(engine, "connect", limit)
            engine.dispose()
        yield seeded_db
        for engine in engines:
            event.remove(engine, "connect", limit)
            engine.dispose()
    else:
        with seeded_db.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE FUNCTION no_room() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; "
                    "END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(text("CREATE TRIGGER no_room BEFORE INSERT ON claims FOR EACH ROW EXECUTE FUNCTION no_room()"))
        yield seeded_db
        with seeded_db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER no_room ON claims"))
            conn.execute(text("DROP FUNCTION no_room()"))


@pytest.fixture
def editor_then_full(seeded_db, request):
    """An editor key made while there is room, then the store filled."""
    key = make_key(seeded_db)
    return request.getfixturevalue("full_database"), key


def claim_rows(db) -> int:
    with db.read() as conn:
        return conn.execute(text("SELECT count(*) FROM claims")).scalar_one()


def test_a_write_with_no_room_is_a_507_without_retry_after_and_saves_nothing(editor_then_full):
    full, editor = editor_then_full
    before = claim_rows(full)
    with client_for(full) as client:
        response = client.post("/v1/claims", json=new_claim(client), headers=editor)
        assert response.status_code == 507, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "retry-after" not in response.headers
        body = response.json()
        assert body["status"] == 507 and body["type"].endswith("/insufficient-storage")
        assert "SELECT" not in response.text and "INSERT" not in response.text
        assert client.get("/v1/claims", params={"limit": 1}).status_code == 200  # reads go on
    assert claim_rows(full) == before


def test_every_write_route_documents_the_507(client):
    document = client.get("/openapi.json").json()
    writes = [
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    ]
    assert writes
    for path, method in writes:
        answer = document["paths"][path][method]["responses"]["507"]
        assert answer == {"$ref": "#/components/responses/InsufficientStorage"}, (path, method)
    shared = document["components"]["responses"]["InsufficientStorage"]
    assert "headers" not in shared or "Retry-After" not in shared["headers"]


def cli_with_little_room(db, room: int, *args: str) -> subprocess.CompletedProcess:
    """`python -m app ARGS` allowed to write no file past `room` bytes (RLIMIT_FSIZE): a disk that fills
    midway through the write, for real (the write fails with EFBIG)."""
    env = {**os.environ, "DATABASE_URL": db.engine.url.render_as_string(hide_password=False), "LOG_LEVEL": "error"}
    env.pop("DATABASE_READ_URL", None)

    def little_room():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=little_room,  # noqa: PLW1509 (the limit must be set in the child, before exec)
    )


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite backup path (PostgreSQL's is pg_dump's)")
def test_a_backup_the_disk_cannot_hold_leaves_nothing(seeded_db, tmp_path):
    target = tmp_path / "copy.db"
    result = cli_with_little_room(seeded_db, 100_000, "db", "backup", str(target))
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: "), result.stderr
    assert not target.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [None, b"the previous export"])
def test_an_export_the_disk_cannot_hold_leaves_the_old_file_or_none(seeded_db, tmp_path, existing):
    # Claims of text that does not compress, so the export outgrows the room (which must hold SQLite's
    # 32 KiB shared-memory file: the room is for the export to run out of, not the database).
    for n in range(3):
        words = " ".join(os.urandom(8).hex() for _ in range(3000))
        write(seeded_db, "claim", f"incompressible-{n}", text=words, source_excerpt=words, **CLAIM)
    target = tmp_path / "export.ndjson.gz"
    if existing is not None:
        target.write_bytes(existing)
    result = cli_with_little_room(seeded_db, 40_000, "export", "-o", str(target))
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: "), result.stderr
    assert (target.read_bytes() if target.exists() else None) == existing
    assert leftovers(tmp_path) == []
