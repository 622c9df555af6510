"""`python -m app import` cannot lose data by mistake: a directory without data files is refused, records the
files no longer hold are deleted only with `--prune` (a subtree from its leaves up), and every refusal is a
one-line error with a non-zero exit code, never a traceback or a statement."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from app.core.config import PROJECT_ROOT
from app.core.db import Database
from tests.conftest import DATA_DIR, client_for
from tests.test_editing import make_key

SUBTREE = [
    {"slug": "zz-root", "name": "Zz root"},
    {"slug": "zz-child", "name": "Zz child", "parent": "zz-root"},
    {"slug": "zz-grandchild", "name": "Zz grandchild", "parent": "zz-child"},
    {"slug": "zz-other-child", "name": "Zz other child", "parent": "zz-root"},
]


def run(db: Database, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db.engine.url.render_as_string(hide_password=False)}
    env.pop("DATABASE_READ_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "app", "import", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_clean_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    for statement in ("SELECT ", "DELETE ", "INSERT ", "UPDATE ", "[SQL"):
        assert statement not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors, result.stderr
    for word in words:
        assert any(word in line for line in errors), result.stderr


def counts(db: Database) -> dict[str, int]:
    with client_for(db) as client:
        return {
            plural: len(client.get(f"/v1/{plural}", params={"limit": 100}).json()["items"])
            for plural in ("conditions", "therapies", "experts", "sources", "topics", "claims", "quotes")
        }


def with_subtree(tmp_path):
    data = tmp_path / "subtree"
    shutil.copytree(DATA_DIR, data)
    path = data / "conditions.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["conditions"] += SUBTREE
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return data


@pytest.mark.parametrize("layout", ["empty", "unrelated files", "empty sources", "missing"])
def test_a_directory_without_data_files_is_refused_and_nothing_changes(seeded_db, tmp_path, layout):
    target = tmp_path / "wrong"
    if layout != "missing":
        target.mkdir()
    if layout == "unrelated files":
        (target / "notes.txt").write_text("hello", encoding="utf-8")
        (target / "README.md").write_text("# data", encoding="utf-8")
    if layout == "empty sources":
        (target / "sources").mkdir()
    before = counts(seeded_db)
    for args in ([str(target)], ["--prune", str(target)]):
        result = run(seeded_db, *args)
        assert_clean_error(result, str(target))
    assert counts(seeded_db) == before


def test_records_the_files_no_longer_hold_are_kept_unless_pruned(seeded_db, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "sources" / "gut-microbiome-autoimmune.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    dropped = document["quotes"].pop()["id"]
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")

    kept = run(seeded_db, str(data))
    assert kept.returncode == 0, kept.stderr
    assert "deleted=0" in kept.stdout and "stale=1" in kept.stdout and "--prune" in kept.stdout
    with client_for(seeded_db) as client:
        assert client.get(f"/v1/quotes/{dropped}").status_code == 200

    pruned = run(seeded_db, "--prune", str(data))
    assert pruned.returncode == 0, pruned.stderr
    assert "deleted=1" in pruned.stdout and "stale=0" in pruned.stdout
    with client_for(seeded_db) as client:
        assert client.get(f"/v1/quotes/{dropped}").status_code == 404


def test_a_pruned_subtree_of_conditions_is_deleted_from_its_leaves_up(seeded_db, tmp_path):
    added = run(seeded_db, str(with_subtree(tmp_path)))
    assert added.returncode == 0 and "created=4" in added.stdout, added.stderr
    with client_for(seeded_db) as client:
        assert client.get("/v1/conditions/zz-grandchild").status_code == 200

    removed = run(seeded_db, "--prune", str(DATA_DIR))
    assert removed.returncode == 0, removed.stderr
    assert "deleted=4" in removed.stdout
    with client_for(seeded_db) as client:
        for condition in SUBTREE:
            assert client.get(f"/v1/conditions/{condition['slug']}").status_code == 404


def test_a_prune_the_store_refuses_is_one_line_and_changes_nothing(seeded_db, tmp_path):
    """An editor's claim about a condition the files drop: the prune is refused whole, with the reason."""
    run(seeded_db, str(with_subtree(tmp_path)))
    editor = make_key(seeded_db)
    with client_for(seeded_db) as client:
        topic = client.get("/v1/topics", params={"limit": 1}).json()["items"][0]["slug"]
        made = client.post(
            "/v1/claims",
            json={
                "topic": topic,
                "text": "An editor's claim.",
                "source_excerpt": "Quoted.",
                "conditions": ["zz-grandchild"],
                "evidence": {"kind": "background", "strength": "low"},
            },
            headers=editor,
        )
        assert made.status_code == 201, made.text
    before = counts(seeded_db)
    result = run(seeded_db, "--prune", str(DATA_DIR))
    assert_clean_error(result, "nothing was imported", "claim")
    assert counts(seeded_db) == before
    with client_for(seeded_db) as client:
        assert client.get("/v1/conditions/zz-root").status_code == 200
