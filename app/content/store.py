"""The one write path. The importer, the editors' API and the synthetic-data generator all write through
`ContentWriter`, inside one `Database.write()` transaction (`writing(db, actor)` opens both); so the row,
its link rows, its revision, its change-log entry, its facets and its search entry commit together or not
at all."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, delete, func, select, true, update

from app.content import facets, readmodel
from app.content.changelog import LogRows
from app.content.documents import chunks, content_of, load_documents, pks_by_key, stored_content
from app.content.hierarchy import children_first
from app.content.resources import RESOURCES, WRITE_ORDER, ResourceSpec
from app.content.visibility import dependents
from app.content.vocab import Status
from app.core.clock import utc_now
from app.core.db import Database, content_version, insert_many, insert_returning_keys
from app.core.errors import ContentError, InUse, NotFoundError, UnknownReference
from app.models import Change, Revision, table_of

CHANGES = table_of(Change)
REVISIONS = table_of(Revision)

WriteHook = Callable[[Connection, dict[str, set[int]], dict[str, set[int]]], None]

# Hooks run at the end of every write transaction with the records it touched. Nothing registers itself
# on import: `app.main.install_write_hooks` adds the search index's, and the app and the CLI call it.
after_write_hooks: list[WriteHook] = []

ChangeHook = Callable[[Connection, list[dict[str, Any]]], None]

# Hooks run at the end of every write transaction, first (before facets are refreshed, so a deleted record's
# facet rows are still there), with the change-log entries it wrote in seq order: each entry's columns
# (`seq`, `resource`, `key`, `op`, `at`, `data`) and `record_pk`. `install_write_hooks` adds the webhook outbox's.
change_hooks: list[ChangeHook] = []


def add_write_hook(hook: WriteHook) -> None:
    """Run `hook(conn, touched, removed)` at the end of every write transaction (once, however often added)."""
    if hook not in after_write_hooks:
        after_write_hooks.append(hook)


def add_change_hook(hook: ChangeHook) -> None:
    """Run `hook(conn, changes)` with every write transaction's change-log entries (once, however often added)."""
    if hook not in change_hooks:
        change_hooks.append(hook)


def new_id() -> str:
    """A server-made key for claims and quotes: 64 random bits, slug-safe."""
    return secrets.token_hex(8)


@contextmanager
def writing(db: Database, actor: str) -> Iterator[ContentWriter]:
    """One write transaction and its `ContentWriter`: when the block ends without an error, facets and the
    write hooks are brought in step and everything commits together; on an error nothing does."""
    with db.write() as conn:
        writer = ContentWriter(conn, actor=actor)
        yield writer
        writer.finish()


@dataclass
class WriteResult:
    resource: str
    key: str
    op: str  # created | updated | unchanged | deleted
    document: dict[str, Any] | None


@dataclass
class ContentWriter:
    conn: Connection
    actor: str
    now: str = field(default_factory=utc_now)
    touched: dict[str, set[int]] = field(default_factory=dict)
    removed: dict[str, set[int]] = field(default_factory=dict)
    reshaped: dict[str, set[int]] = field(default_factory=dict)  # records whose change moves others' facets
    updated: dict[str, set[int]] = field(default_factory=dict)  # records that existed before: others embed them
    moved: dict[str, set[int]] = field(default_factory=dict)  # records whose place in lists may have changed
    changed: bool = False  # whether a change-log entry was written (a new content version)
    logged: list[dict[str, Any]] = field(default_factory=list)  # change-log entries written, for change_hooks
    logged_records: set[tuple[str, int]] = field(default_factory=set)  # (resource, pk) with an entry
    flipped: dict[str, set[int]] = field(default_factory=dict)  # records that became public or stopped being
    # Records created here: nothing derived of them is stored yet, nothing outside points at them.
    created: dict[str, set[int]] = field(default_factory=dict)
    written: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)  # each record's document as left

    # ---- writing ------------------------------------------------------------------------------------

    def put(self, resource: str, key: str, payload: BaseModel) -> WriteResult:
        return self.put_many(resource, [(key, payload)])[0]

    def put_many(self, resource: str, items: Sequence[tuple[str, BaseModel]]) -> list[WriteResult]:
        """Create or update records by key; a record whose content is unchanged is left alone."""
        return self.put_contents(resource, {k: stored_content(RESOURCES[resource], p) for k, p in items})

    def put_contents(self, resource: str, wanted: dict[str, dict[str, Any]]) -> list[WriteResult]:
        """`put_many` of content its write schema has validated, as `stored_content` gives it (what a bulk
        load made in another process hands over): never content that has not been through the schema."""
        spec = RESOURCES[resource]
        table = spec.table
        resolved = self._resolve(spec, wanted)
        existing = pks_by_key(self.conn, resource, wanted)
        old_docs = load_documents(self.conn, spec, list(existing.values()))
        results: list[WriteResult] = []
        to_insert: list[str] = []
        to_update: list[tuple[str, int, dict[str, Any]]] = []
        for key, content in wanted.items():
            pk = existing.get(key)
            old = old_docs.get(pk) if pk else None
            if pk is None or old is None:
                to_insert.append(key)
            elif content_of(spec, old) == content:
                results.append(WriteResult(resource, key, "unchanged", old))
            else:
                to_update.append((key, pk, old))
        # Inserts first: an update in the same batch may point at a record created by it.
        # Link rows and log rows are gathered and written with one executemany per table, in record order.
        log = LogRows(self.now, self.actor)
        if to_insert:
            new_pks = self._insert_rows(spec, to_insert, wanted, resolved)
            created = [(pk, wanted[key]) for pk, key in zip(new_pks, to_insert, strict=True)]
            self._write_children(spec, created, resolved, replace=False)
            self.created.setdefault(resource, set()).update(new_pks)
            for pk, key in zip(new_pks, to_insert, strict=True):
                content = wanted[key]
                doc = {spec.key_field: key, **content, "created_at": self.now, "updated_at": self.now, "revision": 1}
                self._record(spec, pk, key, "created", doc, was_public=False, log=log)
                results.append(WriteResult(resource, key, "created", doc))
        for key, pk, old in to_update:
            content = wanted[key]
            row = self._row(spec, content, resolved) | {"revision": old["revision"] + 1, "updated_at": self.now}
            self.conn.execute(update(table).where(table.c.pk == pk).values(**row))
            doc = {
                spec.key_field: key,
                **content,
                "created_at": old["created_at"],
                "updated_at": self.now,
                "revision": row["revision"],
            }
            self._record(spec, pk, key, "updated", doc, was_public=old["status"] == Status.published, log=log)
            if any(old.get(name) != content.get(name) for name in facets.SHAPING_FIELDS.get(resource, ())):
                self.reshaped.setdefault(resource, set()).add(pk)
            if readmodel.moves_lists(spec, old, content):
                self.moved.setdefault(resource, set()).add(pk)
            results.append(WriteResult(resource, key, "updated", doc))
        if to_update:
            changed = [(pk, wanted[key]) for key, pk, _ in to_update]
            self._write_children(spec, changed, resolved, replace=True)
        self.changed |= bool(log.changes)
        self.logged_records |= log.write(self.conn, self.logged if change_hooks else None)
        if to_update:
            self._refuse_cycles(spec, [pk for _, pk, _ in to_update])
        return results

    def _insert_rows(
        self,
        spec: ResourceSpec,
        keys: list[str],
        wanted: dict[str, dict[str, Any]],
        resolved: dict[str, dict[str, int]],
    ) -> list[int]:
        table = spec.table
        meta = {"revision": 1, "created_at": self.now, "updated_at": self.now}
        self_refs = [name for name, ref in spec.refs.items() if ref.target == spec.name]
        if not self_refs:
            rows = [{"key": key, **self._row(spec, wanted[key], resolved), **meta} for key in keys]
            return insert_returning_keys(self.conn, table, rows)
        # Records pointing at others of the same batch (a condition's parent): parents first, in rounds of
        # records whose targets already exist, each round one executemany.
        pks: dict[str, int] = {}
        pending = set(keys)
        while pending:
            ready = [k for k in keys if k in pending and all(wanted[k].get(n) not in pending for n in self_refs)]
            if not ready:
                raise ContentError(f"{spec.plural} {sorted(pending)} point at each other in a cycle.")
            rows = [{"key": key, **self._row(spec, wanted[key], resolved), **meta} for key in ready]
            made = insert_returning_keys(self.conn, table, rows)
            for key, pk in zip(ready, made, strict=True):
                pks[key] = resolved.setdefault(spec.name, {})[key] = pk
                pending.discard(key)
        return [pks[key] for key in keys]

    def delete(self, resource: str, key: str) -> WriteResult:
        return self.delete_many(resource, [key])[0]

    def delete_many(self, resource: str, keys: Iterable[str]) -> list[WriteResult]:
        """Delete records for good (a retraction is a status, not a delete). Refuses while others use them."""
        spec = RESOURCES[resource]
        existing = pks_by_key(self.conn, resource, keys)
        missing = sorted(set(keys) - set(existing))
        if missing:
            raise NotFoundError(f"No {resource} with key {missing[0]!r}.")
        pks = list(existing.values())
        self._refuse_if_used(spec, pks)
        old_docs = load_documents(self.conn, spec, pks)
        for level in children_first(self.conn, spec, pks):
            for part in chunks(level):
                self.conn.execute(delete(spec.table).where(spec.table.c.pk.in_(part)))
        results = []
        log = LogRows(self.now, self.actor)
        for pk, doc in old_docs.items():
            key = doc[spec.key_field]
            log.revision(spec, key, "deleted", doc | {"revision": doc["revision"] + 1})
            if doc["status"] == Status.published:
                log.change(resource, key, "delete", None, pk)
            self.removed.setdefault(resource, set()).add(pk)
            self.moved.setdefault(resource, set()).add(pk)
            self.touched.get(resource, set()).discard(pk)
            self.created.get(resource, set()).discard(pk)
            self.written.get(resource, {}).pop(pk, None)
            results.append(WriteResult(resource, key, "deleted", None))
        self.changed |= bool(log.changes)
        self.logged_records |= log.write(self.conn, self.logged if change_hooks else None)
        return results

    def finish(self) -> None:
        """Bring derived state (facets, hooks such as search and the webhook outbox) in step with the writes
        made so far; a second call has nothing left to do. A published record whose public form changed
        through another record gets a change-log entry too (app.content.visibility)."""
        self._run_change_hooks()
        affected, refaceted = facets.refresh(self.conn, self.touched, self.removed, self.reshaped, self.created)
        embedding = readmodel.refresh(self.conn, self.touched, self.removed, self.updated, self.created, self.written)
        self._log_ripples(refaceted)
        if self.changed:  # what a kept response needs to tell whether it still shows the truth
            readmodel.invalidate(self.conn, content_version(self.conn), self.moved, affected, self.touched, embedding)
        for hook in after_write_hooks:
            hook(self.conn, self.touched, self.removed)
        self._run_change_hooks()
        self.touched, self.removed, self.reshaped, self.updated, self.moved = {}, {}, {}, {}, {}
        self.changed, self.flipped, self.logged_records, self.created, self.written = False, {}, set(), {}, {}

    def _run_change_hooks(self) -> None:
        for change_hook in change_hooks if self.logged else ():
            change_hook(self.conn, self.logged)
        self.logged = []

    def _log_ripples(self, moved: dict[str, set[int]]) -> None:
        wanted = {resource: set(pks) for resource, pks in moved.items()}
        for resource, pks in self.flipped.items():
            # What points at a record created here was written here after it, and has its entry if published.
            for other, found in dependents(self.conn, resource, pks - self.created.get(resource, set())).items():
                wanted.setdefault(other, set()).update(found)
        log = LogRows(self.now, self.actor)
        for resource in WRITE_ORDER:
            spec = RESOURCES[resource]
            pending = sorted(pk for pk in wanted.get(resource, ()) if (resource, pk) not in self.logged_records)
            docs = load_documents(self.conn, spec, pending)
            for pk in pending:
                if pk in docs and docs[pk]["status"] == Status.published:
                    log.change(resource, docs[pk][spec.key_field], "upsert", docs[pk], pk)
        self.changed |= bool(log.changes)
        self.logged_records |= log.write(self.conn, self.logged if change_hooks else None)

    # ---- helpers ------------------------------------------------------------------------------------

    def _resolve(self, spec: ResourceSpec, wanted: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
        """Key -> pk for every record the documents point at; an unknown key is a 422 naming it."""
        needed: dict[str, set[str]] = {}
        fields: dict[str, str] = {}
        for name, ref in spec.refs.items():
            fields[name] = ref.target
            needed.setdefault(ref.target, set()).update(d[name] for d in wanted.values() if d.get(name))
        for name, link in spec.links.items():
            fields[name] = link.target
            for doc in wanted.values():
                needed.setdefault(link.target, set()).update(doc.get(name) or [])
        # A record may point at another of the same batch (a condition at its parent): insert order copes.
        resolved = {target: pks_by_key(self.conn, target, keys) for target, keys in needed.items()}
        errors = []
        for key, doc in wanted.items():
            for name, target in fields.items():
                values = doc.get(name)
                for value in values if isinstance(values, list) else [values]:
                    if value and value not in resolved[target] and not (target == spec.name and value in wanted):
                        errors.append({"field": name, "key": key, "message": f"unknown {target} {value!r}"})
        if errors:
            first = errors[0]
            raise UnknownReference(
                f"{spec.name} {first['key']!r}: {first['field']} names an {first['message']}.", errors
            )
        return resolved

    def _row(self, spec: ResourceSpec, content: dict[str, Any], resolved: dict[str, dict[str, int]]) -> dict:
        row: dict[str, Any] = {"status": content["status"], "retraction_reason": content.get("retraction_reason")}
        for column in spec.columns:
            row[column] = content.get(column)
        for name, parts in spec.nested.items():
            value = content.get(name) or {}
            for part, column in parts.items():
                row[column] = value.get(part)
        for name, ref in spec.refs.items():
            key = content.get(name)
            row[ref.column] = self._pk(ref.target, key, resolved) if key else None
        return row

    def _pk(self, resource: str, key: str, resolved: dict[str, dict[str, int]]) -> int:
        pk = resolved.get(resource, {}).get(key)
        if pk is None:  # a record created earlier in this same batch
            pk = pks_by_key(self.conn, resource, [key]).get(key)
            if pk is None:
                raise UnknownReference(f"unknown {resource} {key!r}")
            resolved.setdefault(resource, {})[key] = pk
        return pk

    def _write_children(
        self,
        spec: ResourceSpec,
        records: list[tuple[int, dict[str, Any]]],
        resolved: dict[str, dict[str, int]],
        *,
        replace: bool,
    ) -> None:
        """The link and code rows of the given records, one executemany per table."""
        pks = [pk for pk, _ in records]
        for name, link in spec.links.items():
            if replace:
                for part in chunks(pks):
                    self.conn.execute(delete(link.table).where(link.table.c[link.own].in_(part)))
            rows = [
                {link.own: pk, link.other: self._pk(link.target, k, resolved)}
                for pk, content in records
                for k in dict.fromkeys(content.get(name) or [])
            ]
            insert_many(self.conn, link.table, rows)
        if spec.codes:
            code_table, owner = spec.codes
            if replace:
                for part in chunks(pks):
                    self.conn.execute(delete(code_table).where(code_table.c[owner].in_(part)))
            rows = [{owner: pk, **code} for pk, content in records for code in content.get("codes") or []]
            insert_many(self.conn, code_table, rows)

    def _record(
        self, spec: ResourceSpec, pk: int, key: str, op: str, doc: dict, *, was_public: bool, log: LogRows
    ) -> None:
        log.revision(spec, key, op, doc)
        if op == "updated":
            self.updated.setdefault(spec.name, set()).add(pk)
        else:
            self.moved.setdefault(spec.name, set()).add(pk)
        if doc["status"] == Status.published:
            log.change(spec.name, key, "upsert", doc, pk)
        elif was_public:
            log.change(spec.name, key, "delete", None, pk)
        if was_public != (doc["status"] == Status.published):
            self.flipped.setdefault(spec.name, set()).add(pk)
        self.touched.setdefault(spec.name, set()).add(pk)
        self.written.setdefault(spec.name, {})[pk] = doc

    def _refuse_cycles(self, spec: ResourceSpec, pks: list[int]) -> None:
        """A record may not become its own ancestor (a condition under its own child)."""
        table = spec.table
        for ref in spec.refs.values():
            if ref.target != spec.name:
                continue
            parents = dict(self.conn.execute(select(table.c.pk, table.c[ref.column])).all())
            for start in pks:
                seen, current = {start}, parents.get(start)
                while current is not None:
                    if current in seen:
                        name = next(n for n, r in spec.refs.items() if r is ref)
                        error = {"field": name, "message": "would create a cycle"}
                        raise ContentError(f"This change would make a {spec.name} its own ancestor.", [error])
                    seen.add(current)
                    current = parents.get(current)

    def _refuse_if_used(self, spec: ResourceSpec, pks: list[int]) -> None:
        for other in RESOURCES.values():
            users = []
            for ref in other.refs.values():
                if ref.target == spec.name:
                    column = other.table.c[ref.column]
                    users.append(
                        select(func.count()).where(
                            column.in_(pks), other.table.c.pk.notin_(pks) if other is spec else true()
                        )
                    )
            for link in other.links.values():
                if link.target == spec.name:
                    users.append(select(func.count()).select_from(link.table).where(link.table.c[link.other].in_(pks)))
            count = sum(self.conn.execute(query).scalar_one() for query in users)
            if count:
                raise InUse(
                    f"{count} {other.plural if count != 1 else other.name} still use this {spec.name}; "
                    f"change or delete them first.",
                    [{"field": spec.key_field, "message": f"used by {count} {other.plural}"}],
                )
