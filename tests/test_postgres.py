"""Scale-out: reads go to DATABASE_READ_URL when it is set; on PostgreSQL the change log stays exact under
many concurrent writers that commit out of order, and start-up migrations run once under concurrency."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from sqlalchemy import insert, select

from app.auth.keys import Scope, create_key
from app.content.resources import RESOURCES
from app.content.store import CHANGES, utc_now, writing
from app.core.db import WRITE_LOCK_ID, Database
from app.core.migrate import upgrade
from tests.conftest import POSTGRES_URL, client_for, make_settings

postgres_only = pytest.mark.skipif(not POSTGRES_URL, reason="needs TEST_DATABASE_URL=postgresql+psycopg://...")
TOPIC = "fecal-microbiota-transplantation"


def claim(text: str, status: str = "published"):
    return RESOURCES["claim"].write_schema.model_validate(
        {
            "topic": TOPIC,
            "text": text,
            "source_excerpt": "x",
            "status": status,
            "evidence": {"kind": "background", "strength": "low"},
        }
    )


def put(db: Database, key: str, text: str, status: str = "published") -> None:
    with writing(db, "test") as writer:
        writer.put("claim", key, claim(text, status))


@pytest.fixture
def primary_and_replica(templates):
    """Two copies of the seeded database: writes go to the first, reads to the second."""
    primary_url, drop_primary = templates.fresh("seeded", True)
    replica_url, drop_replica = templates.fresh("seeded", True)
    db = Database.from_settings(make_settings(primary_url, database_read_url=replica_url))
    primary = Database.from_settings(make_settings(primary_url))
    replica = Database.from_settings(make_settings(replica_url))
    try:
        yield db, primary, replica
    finally:
        for each in (db, primary, replica):
            each.dispose()
        drop_primary()
        drop_replica()


def test_reads_go_to_the_read_url_and_writes_to_the_primary(primary_and_replica):
    db, primary, replica = primary_and_replica
    assert db.read_engine is not db.engine
    put(replica, "only-on-the-replica", "Seen through the replica.")
    with replica.write() as conn:  # key checks are reads too: the key must have reached the replica
        editor = create_key(conn, scope=Scope.editor, name="replica-test")
    with client_for(db) as client:
        assert client.get("/v1/claims/only-on-the-replica").json()["text"] == "Seen through the replica."
        created = client.post(
            "/v1/claims",
            headers={"X-API-Key": editor},
            json={
                "topic": TOPIC,
                "text": "Written to the primary.",
                "source_excerpt": "x",
                "status": "published",
                "evidence": {"kind": "background", "strength": "low"},
            },
        )
        assert created.status_code == 201, created.text
        key = created.json()["id"]
        assert client.get(f"/v1/claims/{key}").status_code == 404  # not replicated: this test has no replication
    with primary.read() as conn:
        keys = set(conn.execute(select(RESOURCES["claim"].table.c.key)).scalars())
    assert key in keys and "only-on-the-replica" not in keys


# ---- PostgreSQL: the change log under concurrent writers -------------------------------------------------


def replay(items, copy: dict[str, dict]) -> None:
    for item in items:
        if item["resource"] != "claim":
            continue
        if item["op"] == "upsert":
            copy[item["key"]] = item["data"]
        else:
            copy.pop(item["key"], None)


@postgres_only
def test_the_change_log_stays_exact_under_concurrent_writers_committing_out_of_order(seeded_db):
    """Twelve writers create, edit, unpublish and delete claims, each sleeping a random while inside its
    transaction (so without serialisation they would commit out of sequence order), while a partner follows
    /v1/changes. The partner's copy must equal the published claims at the end."""
    threads, rounds = 12, 4
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(rounds):
                key = f"w{n}-{i % 3}"
                with writing(seeded_db, f"writer-{n}") as store:
                    conn = store.conn
                    action = rng.random()
                    exists = conn.execute(
                        select(RESOURCES["claim"].table.c.pk).where(RESOURCES["claim"].table.c.key == key)
                    ).first()
                    if exists and action < 0.2:
                        store.delete("claim", key)
                    else:
                        status = "draft" if action > 0.85 else "published"
                        store.put("claim", key, claim(f"writer {n} round {i}", status))
                    time.sleep(rng.uniform(0, 0.02))  # hold the transaction open: commits would interleave
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    copy: dict[str, dict] = {}
    with client_for(seeded_db, rate_limit_anonymous="1000000/minute") as client:

        def follow(cursor: str | None) -> str | None:
            while True:
                page = client.get("/v1/changes", params={"limit": 100, **({"since": cursor} if cursor else {})})
                assert page.status_code == 200, page.text
                body = page.json()
                replay(body["items"], copy)
                cursor = body["next_cursor"]
                if not body["items"]:
                    return cursor

        cursor = follow(None)
        workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        polls = 0
        while any(w.is_alive() for w in workers):
            cursor = follow(cursor)
            polls += 1
        for worker in workers:
            worker.join()
        follow(cursor)
    assert not errors, errors
    assert polls > 1  # the partner really read while the writers ran

    claims = RESOURCES["claim"]
    with client_for(seeded_db) as client:
        published = {}
        cursor = None
        while True:
            page = client.get("/v1/claims", params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
            published.update({item["id"]: item["text"] for item in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert {key: data["text"] for key, data in copy.items()} == published
    with seeded_db.read() as conn:
        seqs = list(conn.execute(select(CHANGES.c.seq).order_by(CHANGES.c.seq)).scalars())
        assert len(set(seqs)) == len(seqs)
        assert conn.execute(select(claims.table.c.key)).first()


@postgres_only
def test_a_late_commit_cannot_slip_behind_a_cursor(seeded_db):
    """The hazard, shown, then prevented. Without the lock, a change numbered first but committed last is
    invisible to a reader who has already moved past a later number. With Database.write(), the second writer
    waits on the advisory lock until the first commits, so numbers are handed out in commit order."""
    engine = seeded_db.engine

    def change(conn, key: str) -> int:
        return conn.execute(
            insert(CHANGES).values(resource="claim", key=key, op="delete", at=utc_now()).returning(CHANGES.c.seq)
        ).scalar_one()

    def newer_than(cursor: int) -> list[int]:
        with engine.connect() as conn:
            return list(
                conn.execute(select(CHANGES.c.seq).where(CHANGES.c.seq > cursor).order_by(CHANGES.c.seq)).scalars()
            )

    with engine.connect() as conn:
        start = conn.execute(select(CHANGES.c.seq).order_by(CHANGES.c.seq.desc()).limit(1)).scalar() or 0

    # Without the lock: A takes a number, B takes the next and commits, the reader passes B, A commits.
    with engine.connect() as a, engine.connect() as b:
        a.begin()
        early = change(a, "a")
        b.begin()
        late = change(b, "b")
        b.commit()
        cursor = newer_than(start)[-1]
        a.commit()
    assert early < late == cursor and early not in newer_than(cursor)  # lost to that reader

    # With Database.write(): B blocks until A commits.
    a_inside, a_release = threading.Event(), threading.Event()
    got: dict[str, int] = {}

    def first() -> None:
        with seeded_db.write() as conn:
            got["a"] = change(conn, "a2")
            a_inside.set()
            a_release.wait(30)

    def second() -> None:
        with seeded_db.write() as conn:
            got["b"] = change(conn, "b2")

    ta = threading.Thread(target=first)
    ta.start()
    assert a_inside.wait(30)
    tb = threading.Thread(target=second)
    tb.start()
    waiting = 0
    for _ in range(300):  # until B is seen queued on the write lock
        with engine.connect() as conn:
            waiting = conn.exec_driver_sql(
                f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = {WRITE_LOCK_ID}"
            ).scalar()
        if waiting:
            break
        time.sleep(0.05)
    assert waiting == 1 and "b" not in got
    a_release.set()
    ta.join(30)
    tb.join(30)
    assert got["a"] < got["b"]


@postgres_only
def test_start_up_migrations_run_once_under_concurrency(templates):
    name = f"{templates.prefix}_mig_{uuid.uuid4().hex[:8]}"
    url = templates._create(name)
    databases = [Database.from_settings(make_settings(url)) for _ in range(6)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(databases))

    def start(db: Database) -> None:
        try:
            barrier.wait(10)
            upgrade(db)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        workers = [threading.Thread(target=start, args=(db,)) for db in databases]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert not errors, errors
        with databases[0].engine.connect() as conn:
            assert len(conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()) == 1
            assert conn.exec_driver_sql("SELECT count(*) FROM claims").scalar() == 0
    finally:
        for db in databases:
            db.dispose()
        templates.drop(name)
