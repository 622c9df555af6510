"""Each test owns a database: a copy of a template made once per run (migrated, and for `client` and
`seeded_db` with data/ imported). SQLite by default; PostgreSQL when TEST_DATABASE_URL is set, where each
test gets a database cloned from the template and dropped afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.content import codes, readability
from app.core.config import PROJECT_ROOT, Settings
from app.core.db import Database
from app.core.migrate import upgrade
from app.importer.run import import_path
from app.main import configure_logging, create_app, install_write_hooks

DATA_DIR = PROJECT_ROOT / "data"
SEED_TEXT = PROJECT_ROOT.parent / "shared" / "seed" / "gut-microbiome-autoimmune.txt"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")

configure_logging()  # as the app and the CLI do, before any test adds its own handlers
install_write_hooks()  # tests write through the store directly too, as the CLI does


# Property tests: the same cases on every run by default (CI is reproducible); HYPOTHESIS_PROFILE=explore
# draws fresh random cases each run. A test's own @settings (max_examples, deadline) applies on top.
hypothesis_settings.register_profile("default", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def make_settings(url: str, **overrides) -> Settings:
    return Settings(database_url=url, data_dir=DATA_DIR, rate_limit_storage_url="memory://", **overrides)


class SqliteTemplates:
    def __init__(self, root: Path) -> None:
        self.root = root

    def template(self, name: str, seeded: bool) -> str:
        path = self.root / f"template-{name}.db"
        if not path.exists():
            db = Database.from_settings(make_settings(f"sqlite:///{path}"))
            upgrade(db)
            if seeded:
                import_path(db, DATA_DIR)
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db.dispose()
        return str(path)

    def fresh(self, name: str, seeded: bool) -> tuple[str, callable]:
        source = self.template(name, seeded)
        target = self.root / f"{name}-{uuid.uuid4().hex}.db"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}", lambda: [p.unlink(missing_ok=True) for p in target.parent.glob(target.name + "*")]


class PostgresTemplates:
    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.prefix = f"hc_{uuid.uuid4().hex[:8]}"
        self.made: set[str] = set()

    def _create(self, name: str, template: str | None = None) -> str:
        with self.admin.connect() as conn:
            clause = f" TEMPLATE {template}" if template else ""
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def template(self, name: str, seeded: bool) -> str:
        database = f"{self.prefix}_tpl_{name}"
        if database not in self.made:
            url = self._create(database)
            db = Database.from_settings(make_settings(url))
            upgrade(db)
            if seeded:
                import_path(db, DATA_DIR)
            db.dispose()
            self.made.add(database)
        return database

    def fresh(self, name: str, seeded: bool) -> tuple[str, callable]:
        template = self.template(name, seeded)
        database = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        return self._create(database, template), lambda: self.drop(database)

    def close(self) -> None:
        for database in self.made:
            self.drop(database)
        self.admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def tables_loaded() -> None:
    """Every write shape checks codes against their systems' tables and measures reading grades: their tables
    and dictionary load once, before any test's clock (a property test's deadline) starts."""
    codes.load()
    readability.load()


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Iterator[SqliteTemplates | PostgresTemplates]:
    if POSTGRES_URL:
        made = PostgresTemplates(POSTGRES_URL)
        yield made
        made.close()
    else:
        yield SqliteTemplates(tmp_path_factory.mktemp("databases"))


def _database(templates, name: str, seeded: bool) -> Iterator[tuple[str, Database]]:
    url, cleanup = templates.fresh(name, seeded)
    db = Database.from_settings(make_settings(url))
    try:
        yield url, db
    finally:
        db.dispose()
        cleanup()


@pytest.fixture
def empty_db(templates) -> Iterator[Database]:
    """A migrated database with no content."""
    for _, db in _database(templates, "empty", seeded=False):
        yield db


@pytest.fixture
def seeded_db(templates) -> Iterator[Database]:
    """A migrated database holding data/."""
    for _, db in _database(templates, "seeded", seeded=True):
        yield db


def client_for(db: Database, **settings_overrides) -> TestClient:
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(make_settings(url, **settings_overrides), db=db)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(seeded_db) -> Iterator[TestClient]:
    """HTTP through httpx against the app, over the seed content."""
    with client_for(seeded_db) as test_client:
        yield test_client


@pytest.fixture
def empty_client(empty_db) -> Iterator[TestClient]:
    with client_for(empty_db) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def loopback_only_network(monkeypatch):
    """Tests reach loopback only: no host name goes to a real resolver (only `localhost` resolves; a test
    that needs a name resolves it with its own stub), and a webhook send to any address that is not
    loopback is refused before a connection is made, whatever the app's address guard decided."""
    import ipaddress

    from app.webhooks import delivery, router, sender, ssrf

    def resolve(host: str, port: int) -> list[str]:
        if host == "localhost":
            return ["127.0.0.1"]
        raise OSError(f"tests resolve no names ({host})")

    async def send_to_loopback_only(client, url, target, *args, **kwargs):
        if not all(ipaddress.ip_address(address).is_loopback for address in target.addresses):
            return sender.Attempt(None, f"tests send to loopback only, not {target.addresses}")
        return await sender.send(client, url, target, *args, **kwargs)

    monkeypatch.setattr(ssrf, "resolve", resolve)
    monkeypatch.setattr(delivery, "send", send_to_loopback_only)
    monkeypatch.setattr(router, "send", send_to_loopback_only)


@contextmanager
def serve_in_thread(app, wait: float = 20) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free 127.0.0.1 port; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + wait
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
