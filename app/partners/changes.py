"""The change log as partners read it: every public create, update and delete, oldest first, from an
opaque cursor. The log itself is written by the content store in the transaction of each change (see
app.content.store), so reading it in seq order is reading commit order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from app.core.db import content_version
from app.core.errors import BadParameter
from app.core.pagination import MAX_SEQ, decode_cursor, encode_cursor, paged, split_page
from app.models import Change, table_of

CHANGES = table_of(Change)
SCOPE = "changes"


def cursor_scope(resources: Sequence[str]) -> str:
    """A cursor made while following some resources only is valid for that same selection."""
    return SCOPE if not resources else f"{SCOPE}:{','.join(sorted(set(resources)))}"


def encode_position(seq: int, epoch: str, resources: Sequence[str] = ()) -> str:
    return encode_cursor(cursor_scope(resources), seq, epoch)


def decode_since(since: str | None, resources: Sequence[str] = ()) -> int:
    """The seq to resume after. A cursor of the whole log (an export's, say) also serves any selection."""
    try:
        return decode_cursor(cursor_scope(resources), since, "since", MAX_SEQ)
    except BadParameter:
        if not resources:
            raise
        return decode_cursor(SCOPE, since, "since", MAX_SEQ)


@dataclass
class ChangesPage:
    items: list[dict[str, Any]]
    position: int  # the seq to resume after
    more: bool


def newest_change(conn: Connection) -> tuple[int, str] | None:
    """(seq, at) of the newest change, or None for an empty log."""
    row = conn.execute(select(CHANGES.c.seq, CHANGES.c.at).order_by(CHANGES.c.seq.desc()).limit(1)).first()
    return (row.seq, row.at) if row else None


def changes_page(conn: Connection, *, after: int, limit: int, resources: Sequence[str] = ()) -> ChangesPage:
    """Changes after `after`, oldest first. When the page is not full every change up to the newest has
    been looked at, so the position moves to the newest seq even if the selection matched none."""
    query = select(CHANGES).where(CHANGES.c.seq > after)
    if resources:
        query = query.where(CHANGES.c.resource.in_(sorted(set(resources))))
    rows, more = split_page(conn.execute(paged(query.order_by(CHANGES.c.seq), limit)).mappings().all(), limit)
    items = [
        {"resource": r["resource"], "key": r["key"], "op": r["op"], "at": r["at"], "data": r["data"]} for r in rows
    ]
    position = rows[-1]["seq"] if more else max(after, content_version(conn))
    return ChangesPage(items=items, position=position, more=more)
