"""Per-response validity: a kept list page stays current across writes that change nothing it shows.

A kept response is stamped with the content version it was made at; any write moves that version. A list
page also records its scope (`PageScope`): the resource it lists, the records it shows, the span of pks it
covers (where a record that joins or leaves the list would appear) and the resources whose change could
change it anyway (what it embeds, what its filters name). The write path notes, under the version it
made, what it changed for the read side (`read_invalidations`, written by `content.readmodel.invalidate`).
When the version has moved, the page is still current if none of those notes touches it: no record it
shows changed, no record within its span moved in or out, and nothing of the resources it depends on
changed at all. Each worker reads the notes once per new version (`Invalidations`) and answers from
memory; what it no longer holds (older than what it has read since it started) counts as changed."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from app.core.db import Database

Note = tuple[int, str, int, str]  # seq, resource, record_pk, kind ("m": its place may have moved; "b": body)
Fetch = Callable[[int], Sequence[Note] | None]  # the notes after a version, in seq order (None: cannot tell)

NOTES_SQL = "SELECT seq, resource, record_pk, kind FROM read_invalidations WHERE seq > ? ORDER BY seq, pk"
KEEP_NOTES = 200_000


@dataclass(frozen=True, slots=True)
class PageScope:
    resource: str
    shown: frozenset[int]
    after: int  # the page spans pks in (after, until]
    until: int | None  # None: open-ended (the last page, where new records appear)
    depends: frozenset[str]  # resources whose any change may change the page

    def touched_by(self, resource: str, pk: int, kind: str) -> bool:
        if resource == "*" or resource in self.depends:
            return True
        if resource != self.resource:
            return False
        if pk in self.shown:
            return True
        return kind == "m" and pk > self.after and (self.until is None or pk <= self.until)


class Invalidations:
    """The notes this worker has read, from the version it first saw on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: int | None = None  # notes after this version are all held
        self.upto: int | None = None
        self._seqs: list[int] = []
        self._notes: list[Note] = []

    def begin(self, version: int) -> None:
        """Hold the notes from `version` on (the first kept page's), if nothing is held yet."""
        with self._lock:
            if self.upto is None:
                self.since = self.upto = version

    def _catch_up(self, version: int, fetch: Fetch) -> bool:
        if self.upto is None:
            self.since = self.upto = version
            return True
        if version <= self.upto:
            return True
        notes = fetch(self.upto)
        if notes is None:
            return False
        for note in notes:
            self._seqs.append(note[0])
            self._notes.append(note)
        self.upto = max([version, *(n[0] for n in notes)])
        if len(self._notes) > KEEP_NOTES:  # forget the oldest half: entries older than that are rebuilt
            cut = len(self._notes) // 2
            self.since = self._seqs[cut]
            del self._seqs[: cut + 1], self._notes[: cut + 1]
        return True

    def still_current(self, scope: PageScope, made_at: int, version: int, fetch: Fetch) -> bool:
        """Whether a page of `scope` made at version `made_at` shows the same at `version`."""
        with self._lock:
            if not self._catch_up(version, fetch) or self.since is None or made_at < self.since:
                return False
            start = bisect.bisect_right(self._seqs, made_at)
            end = bisect.bisect_right(self._seqs, version)
            return not any(scope.touched_by(r, pk, kind) for _, r, pk, kind in self._notes[start:end])


def current(invalidations: Invalidations, kept: Any, version: int | None, fetch: Fetch | None) -> bool:
    """Whether a kept response (`api.caching.Kept`) shows what a build at `version` would: made at it, or
    a list page that none of the writes since changed (then it is stamped with `version`)."""
    if version is None or kept.version == version:
        return kept.version == version
    if kept.page is None or fetch is None or not invalidations.still_current(kept.page, kept.version, version, fetch):
        return False
    kept.version = max(kept.version, version)
    return True


def conn_notes(conn: Connection, after: int) -> list[Note]:
    """The notes after a version, read in the caller's transaction."""
    rows = conn.execute(text(NOTES_SQL.replace("?", ":after")), {"after": after}).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def db_notes(db: Database) -> Fetch:
    """The notes after a version, read on the calling thread's own SQLite connection (None elsewhere)."""
    return lambda after: db.peek(NOTES_SQL, (after,))
