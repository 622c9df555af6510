"""The outbox: in the transaction of every change, one delivery row per subscription that wants it.

`on_changes` is a change hook of the one write path (app.content.store): it sees each change-log entry the
transaction wrote, with its seq, and matches it against every subscription (events, resources, and for
claims, topics and quotes the filters, through the same facets the lists filter by). Because the rows commit
with the change, a crash after the commit loses no event, and a rollback sends none."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, event, insert, select

from app.content import facets
from app.content.documents import pks_by_key
from app.content.resources import FACETED, RESOURCES
from app.content.visibility import HIDDEN, PUBLISHED
from app.core.db import store_epoch
from app.models import Change, Facet, WebhookDelivery, WebhookSubscription, table_of
from app.partners.changes import encode_position
from app.webhooks.signing import new_message_id

SUBSCRIPTIONS = table_of(WebhookSubscription)
DELIVERIES = table_of(WebhookDelivery)
CHANGES = table_of(Change)
FACETS = table_of(Facet)

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
RESOURCE_NAMES = tuple(RESOURCES)

# Called (after the commit) when deliveries were written, so a worker in this process starts at once.
_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


def add_listener(listener: Callable[[], None]) -> None:
    with _listeners_lock:
        _listeners.append(listener)


def remove_listener(listener: Callable[[], None]) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _notify(_conn: Connection | None = None) -> None:
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener()


def event_payload(change: dict[str, Any], reason: str | None, epoch: str) -> dict[str, Any]:
    """The body of one change's event, as the receiver gets it."""
    data: dict[str, Any] = {
        "resource": change["resource"],
        "key": change["key"],
        "op": change["op"],
        "at": change["at"],
        "seq": change["seq"],
        "cursor": encode_position(change["seq"], epoch),
    }
    if change["op"] == "upsert":
        data["data"] = change["data"]
    else:
        data["reason"] = reason
    return {"type": f"{change['resource']}.{change['op']}", "timestamp": change["at"], "data": data}


class _RecordFacts:
    """Facets and status of the records a batch of changes is about, looked up once per resource."""

    def __init__(self, conn: Connection, changes: Iterable[dict[str, Any]], *, filtered: bool) -> None:
        """Facets are looked up only when some subscription filters (`filtered`); otherwise only the status
        of deleted records (for the event's `reason`)."""
        self.facets: dict[tuple[str, int | None], set[str]] = defaultdict(set)
        self.status: dict[tuple[str, int | None], str] = {}
        wanted: dict[str, set[int]] = defaultdict(set)
        for change in changes:
            if change.get("record_pk") is None or (not filtered and change["op"] != "delete"):
                continue
            if change["resource"] in FACETED:
                wanted[change["resource"]].add(change["record_pk"])
            else:
                self._status_of(conn, change)
        for resource, pks in wanted.items():
            for row in facets.compute(conn, resource, sorted(pks)):  # the records as they are now
                if row["status"] == HIDDEN:  # reached through an unpublished record: not a public facet
                    self.status[(resource, row["record_pk"])] = PUBLISHED
                    continue
                self.facets[(resource, row["record_pk"])].add(row["facet"])
                self.status[(resource, row["record_pk"])] = row["status"]
            gone = sorted(pk for pk in pks if (resource, pk) not in self.status)
            if gone:  # deleted for good: their facet rows are still those of before the delete
                query = select(FACETS.c.record_pk, FACETS.c.facet).where(
                    FACETS.c.resource == resource, FACETS.c.record_pk.in_(gone), FACETS.c.status != HIDDEN
                )
                for pk, facet in conn.execute(query):
                    self.facets[(resource, pk)].add(facet)

    def _status_of(self, conn: Connection, change: dict[str, Any]) -> None:
        table = RESOURCES[change["resource"]].table
        status = conn.execute(select(table.c.status).where(table.c.pk == change["record_pk"])).scalar()
        if status is not None:
            self.status[(change["resource"], change["record_pk"])] = status

    def of(self, change: dict[str, Any]) -> set[str]:
        return self.facets.get((change["resource"], change.get("record_pk")), set())

    def reason(self, change: dict[str, Any]) -> str | None:
        if change["op"] != "delete":
            return None
        status = self.status.get((change["resource"], change.get("record_pk")))
        if status is None:
            return "retracted" if (change.get("data") or {}).get("status") == "retracted" else "deleted"
        return {"retracted": "retracted", "draft": "unpublished"}.get(status, "deleted")


def matches(subscription: dict[str, Any], change: dict[str, Any], record_facets: set[str]) -> bool:
    if change["op"] not in subscription["events"] or change["resource"] not in subscription["resources"]:
        return False
    groups = subscription["facet_groups"]
    if not groups:
        return True
    return change["resource"] in FACETED and all(any(f in record_facets for f in group) for group in groups)


def write_deliveries(
    conn: Connection, subscriptions: list[dict[str, Any]], changes: list[dict[str, Any]], *, now: float
) -> int:
    """Delivery rows for each (change, subscription) that matches, in seq order; returns how many."""
    if not subscriptions or not changes:
        return 0
    facts = _RecordFacts(conn, changes, filtered=any(s["facet_groups"] for s in subscriptions))
    epoch = store_epoch(conn).name  # an event's cursor resumes in the epoch its change was made in
    rows = []
    for change in changes:
        record_facets = facts.of(change)
        payload = None
        for subscription in subscriptions:
            if change["seq"] <= subscription["start_seq"] or not matches(subscription, change, record_facets):
                continue
            payload = payload or event_payload(change, facts.reason(change), epoch)
            rows.append(
                {
                    "msg_id": new_message_id(),
                    "subscription_id": subscription["id"],
                    "seq": change["seq"],
                    "event_type": payload["type"],
                    "payload": payload,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if rows:
        conn.execute(insert(DELIVERIES), rows)
    return len(rows)


def _subscriptions(conn: Connection) -> list[dict[str, Any]]:
    columns = [SUBSCRIPTIONS.c[name] for name in ("id", "events", "resources", "facet_groups", "start_seq")]
    return [dict(row) for row in conn.execute(select(*columns)).mappings()]


def on_changes(conn: Connection, changes: list[dict[str, Any]]) -> None:
    """The change hook: runs inside the write transaction (see app.content.store.change_hooks)."""
    subscriptions = _subscriptions(conn)
    if subscriptions and write_deliveries(conn, subscriptions, changes, now=time.time()):
        event.listen(conn, "commit", _notify, once=True)


def backfill(conn: Connection, subscription: dict[str, Any], after: int, *, batch: int = 1000) -> int:
    """Deliveries for the changes already in the log after `after` (a new subscription's `since`). Matched by
    the records' facets as they are now; a record deleted since then is matched only without filters."""
    written, position = 0, after
    while True:
        rows = conn.execute(select(CHANGES).where(CHANGES.c.seq > position).order_by(CHANGES.c.seq).limit(batch))
        changes = [dict(row) for row in rows.mappings()]
        if not changes:
            return written
        position = changes[-1]["seq"]
        _attach_record_pks(conn, changes)
        written += write_deliveries(conn, [{**subscription, "start_seq": after}], changes, now=time.time())


def _attach_record_pks(conn: Connection, changes: list[dict[str, Any]]) -> None:
    keys: dict[str, set[str]] = defaultdict(set)
    for change in changes:
        keys[change["resource"]].add(change["key"])
    found = {resource: pks_by_key(conn, resource, sorted(wanted)) for resource, wanted in keys.items()}
    for change in changes:
        change["record_pk"] = found[change["resource"]].get(change["key"])
