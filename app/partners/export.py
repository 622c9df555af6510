"""The bulk export: every published record as gzip-compressed NDJSON, with the change-log cursor it
corresponds to. The bytes are a function of the content alone (gzip's timestamp is zeroed, records come in
a fixed order), so the SHA-256 names the content and equal content downloads as equal bytes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import orjson
from sqlalchemy import Connection, func, select

from app.content.documents import CHUNK, chunks, load_documents
from app.content.resources import RESOURCES, WRITE_ORDER
from app.content.visibility import public_documents
from app.content.vocab import Status
from app.core.db import Database, content_state
from app.partners.changes import encode_position, newest_change

FORMAT = "health-content-export"
FORMAT_VERSION = 1
FILENAME = "health-content.ndjson.gz"
MEDIA_TYPE = "application/gzip"


@dataclass(frozen=True)
class Export:
    seq: int
    epoch: str  # the store's epoch `seq` is a number of
    as_of: str | None  # when the newest change it reflects was made
    cursor: str
    counts: dict[str, int]
    body: bytes

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def sha256_b64(self) -> str:
        return base64.b64encode(hashlib.sha256(self.body).digest()).decode()

    def headers(self) -> dict[str, str]:
        digest = f"sha-256=:{self.sha256_b64}:"
        return {
            "Content-Disposition": f'attachment; filename="{FILENAME}"',
            "Repr-Digest": digest,
            "Content-Digest": digest,
            "X-Content-SHA256": self.sha256_hex,
            "X-Changes-Cursor": self.cursor,
        }


def _published_pks(conn: Connection, resource: str) -> list[int]:
    table = RESOURCES[resource].table
    query = select(table.c.pk).where(table.c.status == Status.published.value).order_by(table.c.pk)
    return list(conn.execute(query).scalars())


def header_line(conn: Connection, seq: int, epoch: str) -> dict[str, Any]:
    counts = {}
    for resource in WRITE_ORDER:
        table = RESOURCES[resource].table
        counts[resource] = conn.execute(
            select(func.count()).where(table.c.status == Status.published.value)
        ).scalar_one()
    newest = newest_change(conn)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "changes_cursor": encode_position(seq, epoch),
        "seq": seq,
        "as_of": newest[1] if newest else None,
        "counts": counts,
    }


def build_export(conn: Connection) -> Export:
    """Everything published, in one read snapshot: a header line, then one line per record, resources in
    write order (what a record points at comes before it), records in creation order."""
    seq, epoch = content_state(conn)
    header = header_line(conn, seq, epoch)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as stream:
        stream.write(orjson.dumps(header) + b"\n")
        for resource in WRITE_ORDER:
            spec = RESOURCES[resource]
            for part in chunks(_published_pks(conn, resource), CHUNK):
                loaded = load_documents(conn, spec, part)
                # as the change log carries them: references to unpublished records left out
                docs = dict(zip(part, public_documents(conn, spec, [loaded[pk] for pk in part]), strict=True))
                stream.write(
                    b"".join(
                        orjson.dumps({"resource": resource, "key": docs[pk][spec.key_field], "data": docs[pk]}) + b"\n"
                        for pk in part
                    )
                )
    return Export(
        seq=seq,
        epoch=epoch,
        as_of=header["as_of"],
        cursor=header["changes_cursor"],
        counts=header["counts"],
        body=buffer.getvalue(),
    )


@contextmanager
def bulk_snapshot(db: Database) -> Iterator[Connection]:
    """One consistent read of the whole store. Unlike `Database.read()` it has no per-request time limit:
    reading everything is the point here, and it may take seconds on a large store."""
    engine = db.read_engine
    options = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn


class ExportCache:
    """The newest export, kept while the content does not change: a download costs one query then, and
    concurrent downloads of new content wait for one build instead of each making their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Export | None = None

    def get(self, db: Database, version: int, epoch: str) -> Export:
        """An export at `version` of `epoch` or newer (a number of another epoch says nothing about it)."""
        latest = self._latest
        if latest is not None and latest.epoch == epoch and latest.seq >= version:
            return latest
        with self._lock:
            latest = self._latest
            if latest is not None and latest.epoch == epoch and latest.seq >= version:
                return latest
            with bulk_snapshot(db) as conn:
                self._latest = build_export(conn)
            return self._latest


def write_ndjson(db: Database, stream: IO[bytes]) -> Export:
    """Write the export (the bytes `GET /v1/export` serves) to a binary stream."""
    with bulk_snapshot(db) as conn:
        made = build_export(conn)
    stream.write(made.body)
    stream.flush()
    return made


def read_export(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the record lines of an export's bytes."""
    lines = gzip.decompress(body).splitlines()
    return orjson.loads(lines[0]), [orjson.loads(line) for line in lines[1:]]
