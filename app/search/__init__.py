"""Full-text search over topics, claims, quotes, experts, conditions and therapies.

The index is kept in step by a write hook (`index.on_write`) that `app.main.install_write_hooks` registers
with the one write path, so every write (import, API, scripts) updates it in its own transaction."""
