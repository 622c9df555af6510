"""API keys: 160 random bits, shown once, stored as a SHA-256 hash (a key this random needs no slow
hash), found by a short public prefix and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Connection, insert, select, update

from app.api.principal import ANONYMOUS, Principal, Scope
from app.core.clock import utc_now
from app.models import ApiKey, table_of

KEYS = table_of(ApiKey)
KEY_PREFIX = "hck"

__all__ = ["ANONYMOUS", "KEY_PREFIX", "Principal", "Scope", "authenticate", "create_key", "list_keys", "revoke_key"]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(conn: Connection, *, scope: Scope, name: str) -> str:
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(20)
    conn.execute(
        insert(KEYS).values(prefix=prefix, hash=_digest(secret), scope=scope.value, name=name, created_at=utc_now())
    )
    return f"{KEY_PREFIX}_{prefix}_{secret}"


def list_keys(conn: Connection) -> list[dict]:
    rows = conn.execute(
        select(KEYS.c.prefix, KEYS.c.scope, KEYS.c.name, KEYS.c.created_at, KEYS.c.revoked_at).order_by(KEYS.c.pk)
    )
    return [dict(row._mapping) for row in rows]


def revoke_key(conn: Connection, prefix: str) -> bool:
    result = conn.execute(
        update(KEYS).where(KEYS.c.prefix == prefix, KEYS.c.revoked_at.is_(None)).values(revoked_at=utc_now())
    )
    return result.rowcount > 0


def authenticate(conn: Connection, presented: str) -> Principal | None:
    """The key's principal, or None when it is malformed, unknown or revoked."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    _, prefix, secret = parts
    row = conn.execute(
        select(KEYS.c.hash, KEYS.c.scope, KEYS.c.name, KEYS.c.revoked_at).where(KEYS.c.prefix == prefix)
    ).first()
    if row is None or not hmac.compare_digest(row.hash, _digest(secret)) or row.revoked_at is not None:
        return None
    return Principal(scope=Scope(row.scope), name=row.name, prefix=prefix)
