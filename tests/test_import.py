"""The importer: validated, all or nothing, idempotent, and deleting what data/ no longer holds."""

import shutil

import pytest
import yaml
from sqlalchemy import func, select

from app.content.resources import RESOURCES
from app.importer.loader import ImportInvalid, load_dataset
from app.importer.run import import_path
from app.models import Change, Revision
from tests.conftest import DATA_DIR


def snapshot(db):
    """Every row of every content table, plus the log sizes."""
    with db.read() as conn:
        rows = {
            name: conn.execute(select(spec.table).order_by(spec.table.c.pk)).all() for name, spec in RESOURCES.items()
        }
        rows["changes"] = conn.execute(select(func.count()).select_from(Change.__table__)).scalar()
        rows["revisions"] = conn.execute(select(func.count()).select_from(Revision.__table__)).scalar()
    return rows


@pytest.fixture
def data_copy(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def edit_yaml(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_the_seed_imports_with_the_expected_counts():
    counts = load_dataset(DATA_DIR).count()
    assert counts["source"] == 1 and counts["topic"] == 8 and counts["expert"] == 4 and counts["quote"] == 4
    assert counts["claim"] >= 25 and counts["condition"] >= 8 and counts["therapy"] >= 6


def test_a_second_import_changes_no_row(seeded_db):
    before = snapshot(seeded_db)
    outcome = import_path(seeded_db, DATA_DIR)
    assert outcome["created"] == outcome["updated"] == outcome["deleted"] == 0
    assert snapshot(seeded_db) == before


def test_errors_name_the_file_and_field_and_nothing_is_written(empty_db, data_copy):
    edit_yaml(data_copy / "conditions.yaml", lambda d: d["conditions"][1].update(name=""))
    edit_yaml(data_copy / "therapies.yaml", lambda d: d["therapies"][0].update(type="surgery"))
    with pytest.raises(ImportInvalid) as caught:
        import_path(empty_db, data_copy)
    text = str(caught.value)
    assert "conditions.yaml: conditions[1](" in text and ".name" in text
    assert "therapies.yaml: therapies[0](probiotics).type" in text
    assert all(not rows for name, rows in snapshot(empty_db).items() if name in RESOURCES)


def test_an_unknown_reference_fails_the_whole_import(empty_db, data_copy):
    source = data_copy / "sources" / "gut-microbiome-autoimmune.yaml"
    edit_yaml(source, lambda d: d["claims"][-1].update(conditions=["no-such-condition"]))
    with pytest.raises(Exception, match="no-such-condition"):
        import_path(empty_db, data_copy)
    assert all(not rows for name, rows in snapshot(empty_db).items() if name in RESOURCES)


def test_a_verbatim_field_not_in_the_text_is_refused(data_copy):
    source = data_copy / "sources" / "gut-microbiome-autoimmune.yaml"
    edit_yaml(source, lambda d: d["quotes"][0].update(text=d["quotes"][0]["text"] + " (edited)"))
    with pytest.raises(ImportInvalid, match=r"quote\(.*\)\.text: is not found verbatim"):
        load_dataset(data_copy)


def test_an_edit_updates_only_that_record_and_a_removal_deletes(seeded_db, data_copy):
    source = data_copy / "sources" / "gut-microbiome-autoimmune.yaml"
    article = yaml.safe_load(source.read_text(encoding="utf-8"))
    edited, removed = article["claims"][0]["id"], article["claims"][1]["id"]
    quoted = {c for q in article["quotes"] for c in q["claims"]}
    assert removed not in quoted

    def change(d):
        d["claims"][0]["text"] = "A corrected sentence."
        del d["claims"][1]

    edit_yaml(source, change)
    outcome = import_path(seeded_db, data_copy, prune=True)
    assert (outcome["updated"], outcome["deleted"]) == (1, 1)
    with seeded_db.read() as conn:
        changes = conn.execute(select(Change.__table__).order_by(Change.__table__.c.seq.desc()).limit(2)).all()
    assert {(c.key, c.op) for c in changes} == {(edited, "upsert"), (removed, "delete")}
