"""What the public may see: the one rule, in one place.

A record is public while its status is `published`. A published record that points at a record that is
not public is shown without it: a to-one reference is null, a to-many list leaves it out, and nothing
derived through it (a facet, a filter match, a count, a search title, a change-log or export document)
survives. So a public response never contains, references, counts, filters by or reveals the existence
of an unpublished record:

- **references**: `expand` (read shape) and `public_documents` (the write shape the change log, webhooks
  and the export carry) keep only published targets;
- **facets**: a facet reached through an unpublished record (a draft condition, or any condition above
  one in the hierarchy; a draft therapy and its type; a draft topic, source or expert) is stored with the
  status `HIDDEN` and never matches a filter, count or search facet of published records (editors filter
  published records as the public sees them; their drafts by everything they name);
- **filters**: a value naming an unpublished record is refused exactly as an unknown one is;
- **renderings** that need the reference (a feed shows a quote with who said it) leave the record out.

Whenever a write changes what this rule lets the public see of another record (its public document or its
public facets), that record gets a change-log entry of its own (`ContentWriter.finish`), so every change
to a public response is a new content version, and partners and webhooks hear of it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from app.content.documents import chunks
from app.content.resources import RESOURCES, ResourceSpec
from app.content.vocab import Status

PUBLISHED = Status.published.value
PUBLIC = (PUBLISHED,)
# The facet status of a published record's facet that is reached through an unpublished record.
HIDDEN = "hidden"


def is_public(status: str | None) -> bool:
    return status == PUBLISHED


def facet_status(record_status: str, through_public: bool) -> str:
    """The status a facet row carries: the record's own, unless the record is public and the facet is
    reached through a record that is not (then `HIDDEN`: editors still filter by it, the public never)."""
    return record_status if through_public or record_status != PUBLISHED else HIDDEN


def published_keys(conn: Connection, resource: str, keys: Iterable[str]) -> set[str]:
    """Those of `keys` that name a published record of `resource`."""
    table = RESOURCES[resource].table
    found: set[str] = set()
    for part in chunks(sorted(set(keys))):
        query = select(table.c.key, table.c.status).where(table.c.key.in_(part))
        found.update(key for key, status in conn.execute(query) if is_public(status))
    return found


def public_documents(conn: Connection, spec: ResourceSpec, docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Documents (write shape, relations by key) as the public may see them: a reference to a record that
    is not published is null, a link to one is left out. What the change log, webhooks and export carry."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        for name, ref in spec.refs.items():
            if doc.get(name):
                wanted[ref.target].add(doc[name])
        for name, link in spec.links.items():
            wanted[link.target].update(doc.get(name) or [])
    visible = {resource: published_keys(conn, resource, keys) for resource, keys in wanted.items()}
    out = []
    for doc in docs:
        item = dict(doc)
        for name, ref in spec.refs.items():
            if item.get(name) and item[name] not in visible[ref.target]:
                item[name] = None
        for name, link in spec.links.items():
            if item.get(name):
                item[name] = [key for key in item[name] if key in visible[link.target]]
        out.append(item)
    return out


def dependents(conn: Connection, resource: str, pks: set[int]) -> dict[str, set[int]]:
    """The published records whose public document names one of these records (by a reference or a
    link): when these records become public or stop being so, those documents change. The status is
    checked here, not in the query: a condition on it lets SQLite walk the status index (every published
    record) instead of the relation's."""
    found: dict[str, set[int]] = defaultdict(set)
    if not pks:
        return found
    for other in RESOURCES.values():
        table = other.table
        for ref in other.refs.values():
            if ref.target == resource:
                for part in chunks(sorted(pks)):
                    query = select(table.c.pk, table.c.status).where(table.c[ref.column].in_(part))
                    found[other.name].update(pk for pk, status in conn.execute(query) if is_public(status))
        for link in other.links.values():
            if link.target == resource:
                for part in chunks(sorted(pks)):
                    query = (
                        select(table.c.pk, table.c.status)
                        .join(link.table, link.table.c[link.own] == table.c.pk)
                        .where(link.table.c[link.other].in_(part))
                    )
                    found[other.name].update(pk for pk, status in conn.execute(query) if is_public(status))
    return found
