"""The bulk export: a gzip NDJSON download with its digest and change-log cursor; loading it and then
following /v1/changes from that cursor ends equal to the live content."""

from __future__ import annotations

import base64
import hashlib

from typer.testing import CliRunner

from app.cli import cli
from app.content.schemas import ConditionIn
from app.core.config import get_settings
from app.partners.export import read_export
from tests.test_changes import Store, follow_changes, published_state, put_changed, write


def load(body: bytes) -> tuple[dict, Store]:
    header, lines = read_export(body)
    return header, {(line["resource"], line["key"]): line["data"] for line in lines}


def test_the_export_holds_everything_published_with_its_digest_and_cursor(client, seeded_db):
    response = client.get("/v1/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    assert "attachment" in response.headers["content-disposition"]
    body = response.content
    digest = hashlib.sha256(body).digest()
    assert response.headers["x-content-sha256"] == digest.hex()
    assert response.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    header, records = load(body)
    assert header["format"] == "health-content-export" and header["version"] == 1
    assert header["changes_cursor"] == response.headers["x-changes-cursor"]
    assert records == published_state(seeded_db)
    counts = {resource: sum(1 for r, _ in records if r == resource) for resource in header["counts"]}
    assert counts == header["counts"] and counts["claim"] > 0
    resources = [resource for resource, _ in records]
    assert resources.index("condition") < resources.index("topic") < resources.index("quote")


def test_the_same_content_downloads_as_the_same_bytes_and_revalidates(client, seeded_db):
    first = client.get("/v1/export")
    again = client.get("/v1/export")
    assert again.content == first.content
    assert client.get("/v1/export", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    put_changed(seeded_db, "therapy", "probiotics", description="Changed.")
    changed = client.get("/v1/export", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert changed.headers["x-content-sha256"] != first.headers["x-content-sha256"]
    assert changed.headers["x-changes-cursor"] != first.headers["x-changes-cursor"]


def test_load_the_export_then_follow_the_changes_to_stay_equal(client, seeded_db):
    download = client.get("/v1/export")
    header, copy = load(download.content)
    quote = client.get("/v1/quotes").json()["items"][0]["id"]
    claim = client.get("/v1/claims").json()["items"][1]["id"]
    write(
        seeded_db,
        lambda conn, w: w.put(
            "condition", "coeliac-disease", ConditionIn(name="Coeliac disease", parent="autoimmune-disorders")
        ),
    )
    put_changed(seeded_db, "claim", claim, text="Reworded after the export.")
    write(seeded_db, lambda conn, w: w.delete("quote", quote))
    put_changed(seeded_db, "topic", "introduction", status="draft")
    assert copy != published_state(seeded_db)
    cursor = follow_changes(client, copy, download.headers["x-changes-cursor"])
    assert copy == published_state(seeded_db)
    assert follow_changes(client, copy, cursor) == cursor  # nothing more to apply
    assert header["seq"] > 0


def test_the_command_line_writes_the_same_bytes(client, seeded_db, tmp_path, monkeypatch):
    served = client.get("/v1/export").content
    monkeypatch.setenv("DATABASE_URL", seeded_db.engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        target = tmp_path / "export.ndjson.gz"
        result = CliRunner().invoke(cli, ["export", "-o", str(target)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == served


def test_an_empty_store_exports_a_header_only(empty_client):
    response = empty_client.get("/v1/export")
    header, records = load(response.content)
    assert records == {} and header["seq"] == 0 and set(header["counts"].values()) == {0}
    assert empty_client.get("/v1/changes", params={"since": header["changes_cursor"]}).json() == {
        "items": [],
        "next_cursor": header["changes_cursor"],
    }
