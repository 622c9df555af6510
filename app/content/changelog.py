"""The rows a write batch adds to the revisions (every state of a record, drafts included, for editors) and
to the change log (public changes only, each carrying the record's document as the public may see it:
app.content.visibility). Written in record order, so `seq` is still commit order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from app.content.resources import RESOURCES, ResourceSpec
from app.content.visibility import public_documents
from app.core.db import insert_many, insert_returning_keys
from app.models import Change, Revision, table_of

CHANGES = table_of(Change)
REVISIONS = table_of(Revision)


@dataclass
class LogRows:
    """Revision and change-log rows of one batch, stamped with the batch's time and actor."""

    now: str
    actor: str
    revisions: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    record_pks: list[int] = field(default_factory=list)

    def revision(self, spec: ResourceSpec, key: str, op: str, doc: dict) -> None:
        self.revisions.append(
            {
                "resource": spec.name,
                "key": key,
                "revision": doc["revision"],
                "op": op,
                "at": self.now,
                "actor": self.actor,
                "data": doc,
            }
        )

    def change(self, resource: str, key: str, op: str, data: dict | None, pk: int) -> None:
        self.changes.append({"resource": resource, "key": key, "op": op, "at": self.now, "data": data})
        self.record_pks.append(pk)

    def _publicise(self, conn: Connection) -> None:
        """Each upsert's document as the public may see it: references to unpublished records left out."""
        by_resource: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.changes:
            if row["data"] is not None:
                by_resource[row["resource"]].append(row)
        for resource, rows in by_resource.items():
            shown = public_documents(conn, RESOURCES[resource], [row["data"] for row in rows])
            for row, data in zip(rows, shown, strict=True):
                row["data"] = data

    def write(self, conn: Connection, logged: list[dict[str, Any]] | None) -> set[tuple[str, int]]:
        """Write the rows; when `logged` is given, also note each change with its seq in it (for the change
        hooks). Returns the records that got a change-log entry."""
        insert_many(conn, REVISIONS, self.revisions)
        self._publicise(conn)
        if self.changes and logged is not None:
            seqs = insert_returning_keys(conn, CHANGES, self.changes)
            for row, seq, pk in zip(self.changes, seqs, self.record_pks, strict=True):
                logged.append({"seq": seq, **row, "record_pk": pk})
        else:
            insert_many(conn, CHANGES, self.changes)
        written = {(row["resource"], pk) for row, pk in zip(self.changes, self.record_pks, strict=True)}
        self.revisions, self.changes, self.record_pks = [], [], []
        return written
