"""Tables the service keeps about its content: the change log, revisions, filter facets and API keys."""

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel


class Change(SQLModel, table=True):
    """One public change: a published record created or updated (upsert), or gone from public view
    (delete). `seq` is commit order because writes are serialised."""

    __tablename__ = "changes"
    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    resource: str = Field(max_length=16)
    key: str = Field(max_length=200)
    op: str = Field(max_length=8)
    at: str = Field(max_length=32)
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Revision(SQLModel, table=True):
    """A full snapshot of a record after each change, drafts included, with who made it."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_record", "resource", "key", "revision"),)
    pk: int | None = Field(default=None, primary_key=True)
    resource: str = Field(max_length=16)
    key: str = Field(max_length=200)
    revision: int
    op: str = Field(max_length=8)
    at: str = Field(max_length=32)
    actor: str = Field(max_length=200)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class Facet(SQLModel, table=True):
    """What a record can be filtered by (`condition:rheumatoid-arthritis`, `therapy_type:probiotic`...),
    kept by the write path. The table is its own index: keyed by each facet's records in list order
    (`WITHOUT ROWID` on SQLite), so a filtered page is a range scan however large the store grows, and a
    row is written to two B-trees (this and the lookup by record), not three."""

    __tablename__ = "facets"
    __table_args__ = (
        # A record's facets, read from the index alone (a search's facet counts look them up by record).
        Index("ix_facets_record", "record_pk", "resource", "status", "facet"),
        {"sqlite_with_rowid": False},
    )
    resource: str = Field(max_length=16, primary_key=True)
    facet: str = Field(sa_column=Column(String(240), primary_key=True))
    status: str = Field(max_length=16, primary_key=True)
    record_pk: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))


class ReadDocument(SQLModel, table=True):
    """A published record's public read shape, rendered once as JSON bytes by the write path (the read
    model): a list page joins its records' bodies, a detail starts from one. Only published records have
    one; the write path re-renders every document a write changes in the same transaction."""

    __tablename__ = "read_documents"
    resource: str = Field(sa_column=Column(String(16), primary_key=True))
    record_pk: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ReadInvalidation(SQLModel, table=True):
    """What a write changed for the read side, under the content version it made (`seq`): a record whose
    public document changed (`kind` "b": body) or whose place in lists may have (`kind` "m": created,
    deleted, a new status or relation, facets moved); resource "*" is everything (a bulk write). A kept
    response of a list is still current at a newer version when nothing it shows or spans changed."""

    __tablename__ = "read_invalidations"
    pk: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), nullable=False, index=True))
    resource: str = Field(max_length=16)
    record_pk: int
    kind: str = Field(max_length=1)


class ApiKey(SQLModel, table=True):
    """A partner's or editor's key: only a hash is kept; the prefix finds the row."""

    __tablename__ = "api_keys"
    pk: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, unique=True)
    hash: str = Field(max_length=128)
    scope: str = Field(max_length=16)
    name: str = Field(max_length=200)
    created_at: str = Field(max_length=32)
    revoked_at: str | None = Field(default=None, max_length=32)


class StoreIdentity(SQLModel, table=True):
    """One row: which store this is. `epoch` is made at random when the schema is made (a new store) and
    again by every restore, so a change-log number, a cursor or a tag from one store is never read as the
    same number of another. `origin` says what made it: "migration" (cursors handed out before epochs
    existed came from this store's own log) or "restore" (they may not have)."""

    __tablename__ = "store_identity"
    pk: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    epoch: str = Field(max_length=16)
    made_at: str = Field(max_length=32)
    origin: str = Field(max_length=16)
