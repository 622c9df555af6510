"""An import killed with SIGKILL at random moments never leaves a damaged or half-written database: each
time the file passes SQLite's integrity and foreign-key checks, holds either the old or the new content
(with a change log that replays to exactly that content), and the next import completes."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from app.core.config import PROJECT_ROOT
from tests.conftest import DATA_DIR, POSTGRES_URL

pytestmark = pytest.mark.skipif(bool(POSTGRES_URL), reason="SIGKILL safety is proven on the SQLite file")

KILLS = 20
SYNTHETIC = 200  # claims the "new" data set adds: enough that an import spends a while writing


def synthetic_data(root: Path) -> Path:
    """data/ plus SYNTHETIC claims (copies of a seed claim, so their verbatim excerpt is in the source)."""
    target = root / "big"
    shutil.copytree(DATA_DIR, target)
    source = next((target / "sources").glob("*.yaml"))
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    template = document["claims"][0]
    document["claims"] += [
        {**template, "id": f"synthetic-{i:05d}", "text": f"Synthetic claim {i}, \u05e9\u05dc\u05d5\u05dd."}
        for i in range(SYNTHETIC)
    ]
    source.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def run_import(env: dict, data: Path, kill_after: float | None = None) -> bool:
    """Run `python -m app import`; with kill_after, SIGKILL it then. True when it ran to the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "import", "--prune", str(data)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if kill_after is None:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        return True
    try:
        process.wait(timeout=kill_after)
        return True
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return False
    finally:
        process.stderr.close()


# A process that has imported the app once and forks a child per import, so each of the twenty imports
# costs its own work and not an interpreter start-up. The child runs what `python -m app import` runs.
FORK_SERVER = """
import os, sys
from pathlib import Path
from app.core.config import get_settings
from app.core.db import Database
from app.core.migrate import upgrade
from app.importer.run import import_path
from app.main import install_write_hooks
install_write_hooks()
for line in sys.stdin:
    verb, _, arg = line.strip().partition(" ")
    if verb == "import":
        pid = os.fork()
        if pid == 0:
            db = Database.from_settings(get_settings())
            upgrade(db)
            import_path(db, Path(arg), prune=True)
            os._exit(0)
        print("pid", pid, flush=True)
    elif verb == "reap":
        _, status = os.waitpid(int(arg), 0)
        print("status", status, flush=True)
"""


class Forker:
    def __init__(self, env: dict) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER],
            cwd=PROJECT_ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def _ask(self, line: str) -> int:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline().split()[1])

    def run(self, data: Path, kill_after: float | None = None) -> bool:
        """Import in a fresh child; SIGKILL it after `kill_after` s. True when it ran to the end."""
        pid = self._ask(f"import {data}")
        if kill_after is not None:
            time.sleep(kill_after)
            os.kill(pid, signal.SIGKILL)  # a child that already exited is a zombie until reaped: harmless
        status = self._ask(f"reap {pid}")
        if os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) == 0, f"the import failed: {status}"
            return True
        assert kill_after is not None and os.WTERMSIG(status) == signal.SIGKILL, status
        return False

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def state(path: Path) -> dict:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        claims = dict(conn.execute("SELECT key, status FROM claims").fetchall())
        replayed: dict[str, str] = {}
        for key, op in conn.execute("SELECT key, op FROM changes WHERE resource = 'claim' ORDER BY seq"):
            replayed[key] = op
        public = {key for key, op in replayed.items() if op == "upsert"}
        changes = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM changes").fetchone()
        revisions = conn.execute("SELECT count(*) FROM revisions").fetchone()[0]
    finally:
        conn.close()
    assert public == {key for key, status in claims.items() if status == "published"}, "log replays to content"
    return {"claims": len(claims), "changes": changes[0], "last_seq": changes[1], "revisions": revisions}


def test_an_import_killed_at_random_moments_leaves_old_or_new_content(tmp_path):
    rng = random.Random(20_260_101)
    small, big = DATA_DIR, synthetic_data(tmp_path)
    db_path = tmp_path / "crash.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}"}
    env.pop("DATABASE_READ_URL", None)

    run_import(env, small)  # the command itself, start to end
    old = state(db_path)
    assert run_import(env, big, kill_after=0.5) is False  # the command itself, killed (during start-up)
    assert state(db_path)["claims"] == old["claims"]
    forker = Forker(env)
    try:
        started = time.monotonic()
        forker.run(big)
        full = time.monotonic() - started  # one whole import: validation, then the write transaction
        new = state(db_path)
        assert new["claims"] == old["claims"] + SYNTHETIC
        forker.run(small)
        current = state(db_path)
        assert current["claims"] == old["claims"]

        outcomes = {"old": 0, "new": 0, "finished": 0}
        for _ in range(KILLS):
            towards_big = current["claims"] == old["claims"]
            before = current
            finished = forker.run(big if towards_big else small, kill_after=rng.uniform(0.05, 0.95) * full)
            current = state(db_path)
            assert current["claims"] in (old["claims"], new["claims"]), current
            moved = current["claims"] != before["claims"]
            if moved:  # the whole import committed: every claim it adds or removes is in the log, once
                assert current["changes"] == before["changes"] + SYNTHETIC
                assert current["revisions"] == before["revisions"] + SYNTHETIC
            else:  # nothing of it is there: not one row, revision or change-log entry
                assert (current["changes"], current["revisions"]) == (before["changes"], before["revisions"])
            assert current["last_seq"] == current["changes"], "no gaps in the change log"
            outcomes["finished" if finished else "new" if moved else "old"] += 1
    finally:
        forker.close()

    run_import(env, small)  # the next import completes, whatever the last kill left
    assert state(db_path)["claims"] == old["claims"]
    assert outcomes["old"] >= 3, outcomes  # kills landed before the commit and left no trace
