"""Engines, connections and the two kinds of transaction the app uses.

Reads run in a snapshot (a list page's few queries see one state). Writes are serialised: on SQLite by
`BEGIN IMMEDIATE`, on PostgreSQL by a transaction-scoped advisory lock, so the change log's sequence is
also commit order and a partner's cursor can never skip a change that commits late.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url

from app.core.clock import utc_now
from app.core.config import Settings
from app.models import Change, StoreIdentity, table_of

log = logging.getLogger("app.db")

CHANGES = table_of(Change)
IDENTITY = table_of(StoreIdentity)

WRITE_LOCK_ID = 7_341_977  # the advisory lock every PostgreSQL write transaction takes
POOL_SIZE = 48  # at least the threadpool's 40 workers, so a request never waits on a peer's connection

SQLITE_CACHE_KIB = 32 * 1024  # page cache per connection
SQLITE_MMAP_BYTES = 1 << 30

_deadline = threading.local()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_progress(_deadline_holder=_deadline) -> int:
    deadline = getattr(_deadline_holder, "at", None)
    return 1 if deadline is not None and time.monotonic() > deadline else 0


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=FULL")
        # A bigger page cache and memory-mapped reads: a hot page costs no read() call. The cache grows
        # only as pages are used; the map is address space, shared by every connection of the process.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()
        dbapi_conn.set_progress_handler(_sqlite_progress, 10_000)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _json_text(value: object) -> str:
    """JSON columns (change log, revisions) written with orjson: the standard encoder was a tenth of a
    bulk load. Readers parse either form alike."""
    return orjson.dumps(value).decode()


def create_db_engine(url: str, settings: Settings) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            json_serializer=_json_text,
            pool_size=POOL_SIZE,
            max_overflow=0,
            pool_pre_ping=False,
        )
        _configure_sqlite(engine)
    else:
        timeout = int(settings.query_timeout_ms)
        engine = create_engine(
            url,
            pool_size=POOL_SIZE // 4,
            max_overflow=POOL_SIZE - POOL_SIZE // 4,
            pool_pre_ping=True,
            json_serializer=_json_text,
            connect_args={"options": f"-c statement_timeout={timeout}"},
        )
    return engine


@dataclass
class Database:
    """The store: a write engine and (optionally) a replica for reads."""

    engine: Engine
    read_engine: Engine
    query_timeout_s: float = 5.0
    _peekers: threading.local = field(default_factory=threading.local, repr=False)
    _peek_connections: list[sqlite3.Connection] = field(default_factory=list, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_db_engine(settings.database_url, settings)
        read_engine = create_db_engine(settings.database_read_url, settings) if settings.database_read_url else engine
        return cls(engine=engine, read_engine=read_engine, query_timeout_s=settings.query_timeout_ms / 1000)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot; queries past the time limit are interrupted."""
        options = (
            {"sqlite_begin": "DEFERRED"} if is_sqlite(self.read_engine) else {"isolation_level": "REPEATABLE READ"}
        )
        with self.read_engine.connect().execution_options(**options) as conn:
            _deadline.at = time.monotonic() + self.query_timeout_s
            try:
                with conn.begin():
                    yield conn
            finally:
                _deadline.at = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One serialised write transaction: everything in it commits together or not at all."""
        if self.is_sqlite:
            conn_cm = self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        else:
            conn_cm = self.engine.connect()
        with conn_cm as conn, conn.begin():
            if not self.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_ID})")
            yield conn

    def peek_content_version(self) -> int | None:
        """The newest change-log number, read without the pool, a transaction or SQLAlchemy: on SQLite
        each thread keeps a connection of its own for it and the answer comes from the WAL index in
        microseconds, so the event loop may ask it directly (a revalidation or a kept response then
        never waits for the threadpool). None where that is not so cheap (PostgreSQL: a network trip)."""
        state = self.peek_content_state()
        return None if state is None else state[0]

    def peek_content_state(self) -> tuple[int, str] | None:
        """The newest change-log number and the store's epoch (see `store_epoch`), in one statement read
        as `peek_content_version` reads; None where that is not cheap."""
        rows = self.peek(PEEK_STATE_SQL)
        return None if rows is None else (rows[0][0] or 0, rows[0][1] or "")

    def peek(self, sql: str, parameters: tuple = ()) -> list[tuple] | None:
        """A small read (`?` placeholders) on the thread's own SQLite connection, as above; None on a
        database where that is not cheap."""
        conn = self._peek_connection()
        return None if conn is None else conn.execute(sql, parameters).fetchall()

    @contextmanager
    def peek_snapshot(self) -> Iterator[Callable[[str, tuple], list[tuple]] | None]:
        """Several small reads (`?` placeholders) in one snapshot on the thread's own SQLite connection,
        as `peek`: yields a function running one statement, or None where that is not cheap."""
        conn = self._peek_connection()
        if conn is None:
            yield None
            return
        conn.execute("BEGIN")
        try:
            yield lambda sql, parameters: conn.execute(sql, parameters).fetchall()
        finally:
            conn.execute("ROLLBACK")  # read only: nothing to keep

    def _peek_connection(self) -> sqlite3.Connection | None:
        path = self.read_engine.url.database if is_sqlite(self.read_engine) else None
        if not path or path == ":memory:":
            return None
        conn = getattr(self._peekers, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, isolation_level=None, timeout=1, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")  # the reads of the event loop never write
            conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            self._peekers.conn = conn
            self._peek_connections.append(conn)
        return conn

    def dispose(self) -> None:
        for conn in self._peek_connections:
            conn.close()
        self._peek_connections.clear()
        self._peekers = threading.local()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def log_database_version(db: Database) -> None:
    if db.is_sqlite:
        version = sqlite3.sqlite_version
        log.info("SQLite %s", version)
        if version.startswith("3.40."):
            log.warning("SQLite %s has a WAL bug with several writers; writes here are serialised", version)
    else:
        with db.engine.connect() as conn:
            log.info("%s", conn.exec_driver_sql("SELECT version()").scalar())


def insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts naming the same columns) with one driver-level executemany, each value made a
    parameter by its column type as SQLAlchemy makes it (a JSON column's text), and a column left out given
    its default as SQLAlchemy gives it: a bulk load writes hundreds of thousands of rows, and building each
    row's parameters through the SQL layer cost more than the insert itself."""
    if not rows:
        return
    names = list(rows[0])
    defaults: dict[str, Any] = {}
    for column in table.c:
        if column.name not in rows[0] and column.default is not None:
            assert column.default.is_scalar, f"{table.name}.{column.name}: only a fixed default is filled in"
            defaults[column.name] = column.default.arg  # type: ignore[attr-defined]
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    columns = [*names, *defaults]
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    fixed = tuple(
        value if process is None else process(value)
        for value, process in zip(defaults.values(), processors[len(names) :], strict=True)
    )
    steps = list(zip(names, processors, strict=False))
    if len(names) > 1 and not any(process for _, process in steps):
        values = itemgetter(*names)  # each row's values as a tuple, made in C
        conn.exec_driver_sql(sql, [values(row) + fixed for row in rows] if fixed else list(map(values, rows)))
        return
    conn.exec_driver_sql(
        sql, [(*(row[n] if process is None else process(row[n]) for n, process in steps), *fixed) for row in rows]
    )


def insert_returning_keys(conn: Connection, table: Table, rows: list[dict]) -> list[int]:
    """Insert `rows` into a table whose integer primary key the database makes; returns each row's key, in
    the order given. PostgreSQL answers a multi-row insert's RETURNING in order. SQLite cannot say which row
    got which key, so SQLAlchemy would send one statement per row; instead, inside a write transaction (the
    only writer: `Database.write`), rows inserted without a key get increasing keys above the largest one,
    in order: the rows are sent as one executemany and the keys above the largest before are read back."""
    if not rows:
        return []
    (pk,) = table.primary_key.columns
    if conn.dialect.name != "sqlite":
        statement = insert(table).returning(pk, sort_by_parameter_order=True)
        return list(conn.execute(statement, rows).scalars().all())
    before = conn.execute(select(func.max(pk))).scalar() or 0
    insert_many(conn, table, rows)
    made = list(conn.execute(select(pk).where(pk > before).order_by(pk)).scalars())
    if len(made) != len(rows):  # another writer, or keys past the largest integer (then SQLite picks any)
        raise RuntimeError(f"{table.name}: {len(rows)} rows inserted, {len(made)} new keys found")
    return made


def content_version(conn: Connection) -> int:
    """The sequence number of the newest public change: public content is a function of it (and of the
    store's epoch: after a restore the same number may name other content, see `store_epoch`)."""
    return conn.execute(select(func.max(CHANGES.c.seq))).scalar() or 0


PEEK_STATE_SQL = "SELECT (SELECT max(seq) FROM changes), (SELECT epoch FROM store_identity WHERE pk = 1)"


@dataclass(frozen=True, slots=True)
class Epoch:
    """The store's identity: `name` is random, made with a new store and renewed by every restore, so the
    change log's numbers, and the cursors and tags made from them, mean something only within one epoch.
    `made_at` is when (a restored store's content is new as of then); `origin` is "migration" or
    "restore"."""

    name: str
    made_at: str
    origin: str


def content_state(conn: Connection) -> tuple[int, str]:
    """The content version and the epoch's name, in one statement (one round trip on PostgreSQL)."""
    row = conn.exec_driver_sql(PEEK_STATE_SQL).one()
    return row[0] or 0, row[1] or ""


EPOCH_SQL = "SELECT epoch, made_at, origin FROM store_identity WHERE pk = 1"


def store_epoch(conn: Connection) -> Epoch:
    """The store's epoch, as of this connection's snapshot. Plain SQL: a list page reads it for its cursors,
    and the expression layer's compile-cache lookup cost four times the query."""
    row = conn.exec_driver_sql(EPOCH_SQL).one()
    return Epoch(row[0], row[1], row[2])


def renew_epoch(conn: Connection, origin: str = "restore") -> Epoch:
    """Give the store a new epoch (in the caller's transaction): from now on no cursor or tag of the old
    one matches, and none without an epoch is taken."""
    epoch = Epoch(secrets.token_urlsafe(8), utc_now(), origin)
    conn.execute(
        update(IDENTITY).where(IDENTITY.c.pk == 1).values(epoch=epoch.name, made_at=epoch.made_at, origin=origin)
    )
    return epoch


SQLITE_FULL = 13  # "database or disk is full"
DISK_FULL_SQLSTATE = "53100"  # PostgreSQL's disk_full


def is_disk_full(error: BaseException) -> bool:
    """A database error that says there is no room: SQLite's SQLITE_FULL (a full disk, or the page limit
    `PRAGMA max_page_count` sets), PostgreSQL's SQLSTATE 53100. Given the driver's error or SQLAlchemy's."""
    original = getattr(error, "orig", None) or error
    if getattr(original, "sqlite_errorcode", None) == SQLITE_FULL:
        return True
    return getattr(original, "sqlstate", None) == DISK_FULL_SQLSTATE
