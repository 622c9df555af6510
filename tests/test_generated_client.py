"""A client generated from the exported document (docs/openapi.json) by openapi-python-client, as a partner
would make one, used against the app served on 127.0.0.1: the generator must warn about nothing, and the
client must list by condition, page with the cursor, write with an editor key and If-Match, and get typed
problems (404, 422) and typed models from the changes and feed operations."""

from __future__ import annotations

import datetime
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.auth.keys import Scope, create_key
from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.main import create_app
from tests.conftest import make_settings, serve_in_thread

DOCUMENT = PROJECT_ROOT / "docs" / "openapi.json"
PACKAGE = "health_content_client"
# Media types the generator has no reader for, mapped to ones it has: Atom is text, the export is bytes.
CONFIG = """\
content_type_overrides:
  application/atom+xml: text/plain
  application/gzip: application/octet-stream
post_hooks: []
"""


@pytest.fixture(scope="module")
def client_package(tmp_path_factory):
    """Generate the client package and import it."""
    root = tmp_path_factory.mktemp("generated")
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    generator = Path(sys.executable).with_name("openapi-python-client")
    assert generator.exists(), "openapi-python-client is missing (pip install -e '.[test]')"
    result = subprocess.run(
        [str(generator), "generate", "--path", str(DOCUMENT), "--meta", "none"]
        + ["--output-path", str(root / PACKAGE), "--config", str(root / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), f"the generator warned:\n{output}"
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def served(templates):
    """The app on a free 127.0.0.1 port over a copy of the seeded database, and an editor key."""
    url, cleanup = templates.fresh("seeded", True)
    settings = make_settings(url)
    db = Database.from_settings(settings)
    with db.write() as conn:
        key = create_key(conn, scope=Scope.editor, name="generated-client")
    try:
        with serve_in_thread(create_app(settings, db=db)) as base:
            yield base, key
    finally:
        db.dispose()
        cleanup()


def modules(package, *names: str):
    return [importlib.import_module(f"{package.__name__}.{name}") for name in names]


def test_the_client_lists_by_condition_and_pages_with_the_cursor(client_package, served):
    base, _ = served
    (list_claims,) = modules(client_package, "api.claims.list_claims")
    (models,) = modules(client_package, "models")
    public = client_package.Client(base_url=base)

    page = list_claims.sync(client=public, condition=["rheumatoid-arthritis"], limit=100)
    assert isinstance(page, models.ClaimPage)
    assert page.items and all(isinstance(item, models.ClaimOut) for item in page.items)
    assert all(any(c.slug == "rheumatoid-arthritis" for c in item.conditions) for item in page.items)
    assert isinstance(page.items[0].created_at, datetime.datetime)

    seen: list[str] = []
    cursor = None
    while True:
        kwargs = {"cursor": cursor} if cursor else {}
        page = list_claims.sync(client=public, limit=7, **kwargs)
        assert isinstance(page, models.ClaimPage)
        seen.extend(item.id for item in page.items)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    everything = list_claims.sync(client=public, limit=100)
    assert seen == [item.id for item in everything.items]
    assert len(seen) > 7


def test_the_client_writes_with_a_key_and_if_match(client_package, served):
    base, key = served
    get_topic, update_topic = modules(client_package, "api.topics.get_topic", "api.topics.update_topic")
    (models,) = modules(client_package, "models")
    editor = client_package.AuthenticatedClient(base_url=base, token=key, prefix="", auth_header_name="X-API-Key")

    read = get_topic.sync_detailed(client=editor, slug="introduction")
    assert read.status_code == 200 and isinstance(read.parsed, models.TopicOut)
    etag = read.headers["ETag"]
    body = models.TopicPatch(summary="Changed through the generated client.")

    written = update_topic.sync_detailed(client=editor, slug="introduction", body=body, if_match=etag)
    assert written.status_code == 200, written.content
    assert isinstance(written.parsed, models.TopicOut)
    assert written.parsed.summary == "Changed through the generated client."

    stale = update_topic.sync_detailed(client=editor, slug="introduction", body=body, if_match=etag)
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem) and stale.parsed.status == 412

    anonymous = update_topic.sync_detailed(client=client_package.Client(base_url=base), slug="introduction", body=body)
    assert anonymous.status_code == 401 and isinstance(anonymous.parsed, models.Problem)


def test_the_client_gets_typed_problems(client_package, served):
    base, _ = served
    get_claim, list_claims = modules(client_package, "api.claims.get_claim", "api.claims.list_claims")
    (models,) = modules(client_package, "models")
    public = client_package.Client(base_url=base)

    missing = get_claim.sync_detailed(client=public, id="no-such-claim")
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Problem) and missing.parsed.status == 404

    invalid = list_claims.sync_detailed(client=public, condition=["gout-of-the-moon"])
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, models.Problem)
    assert invalid.parsed.errors[0].field == "condition"


def test_the_changes_and_feed_operations_return_typed_models(client_package, served):
    base, _ = served
    list_changes, feed_json, feed_atom, export = modules(
        client_package, "api.changes.list_changes", "api.feeds.feed_json", "api.feeds.feed_atom"
    ) + modules(client_package, "api.changes.download_export")
    (models,) = modules(client_package, "models")
    public = client_package.Client(base_url=base)

    changes = list_changes.sync(client=public, limit=5)
    assert isinstance(changes, models.ChangesPage)
    assert changes.items and isinstance(changes.items[0], models.Change)
    assert isinstance(changes.items[0].at, datetime.datetime)
    following = list_changes.sync(client=public, since=changes.next_cursor, limit=5)
    assert isinstance(following, models.ChangesPage)
    assert following.items[0].at >= changes.items[-1].at

    feed = feed_json.sync(client=public, condition=["rheumatoid-arthritis"])
    assert isinstance(feed, models.JsonFeed)
    assert feed.items and isinstance(feed.items[0], models.FeedItem)
    assert isinstance(feed.items[0].date_modified, datetime.datetime)

    atom = feed_atom.sync(client=public)
    assert isinstance(atom, str) and atom.startswith("<?xml") and "<feed" in atom

    archive = export.sync(client=public)
    assert archive is not None and archive.payload.read(2) == b"\x1f\x8b"  # gzip's magic number
