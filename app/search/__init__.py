"""Full-text search over topics, claims, quotes, experts and conditions.

Importing the package registers the index's hook with the one write path, so every write (import, API,
scripts) keeps the index in step in its own transaction. `app.core.db` imports it, which every writer uses."""

from app.content.store import after_write_hooks
from app.search.index import on_write

if on_write not in after_write_hooks:
    after_write_hooks.append(on_write)
