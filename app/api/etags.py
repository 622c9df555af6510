"""Entity tags, one place for every kind: a public response's from its bytes (`shown_etag`), the export's from
the content version (`public_etag`), an editor's record's from its revision (`record_etag`), and the
comparison with `If-None-Match`. Every tag of public content names the store's epoch too: after a restore
the content version and revisions go back to numbers that then name other content, and a tag from before
must not match a response after."""

from __future__ import annotations

import hashlib

from starlette.requests import Request

from app import __version__


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def public_etag(request: Request, version: int, media_type: str, epoch: str) -> str:
    """A tag for a representation of the whole store at `version` of `epoch` (the export), known before it
    is made."""
    basis = f"{__version__}|{epoch}|{request.url.path}?{request.url.query}|{media_type}".encode()
    return f'W/"{version}-{hashlib.blake2b(basis, digest_size=8).hexdigest()}"'


def shown_etag(request: Request, media_type: str, body: bytes, epoch: str) -> str:
    """A public response's tag, from its bytes (and its URL, type and the store's epoch: a tag names one
    resource's state, and no tag from before a restore matches after it). Weak: the same content in
    another encoding keeps it."""
    basis = f"{epoch}|{request.url.path}?{request.url.query}|{media_type}|"
    digest = hashlib.blake2b(basis.encode(), digest_size=12)
    digest.update(body)
    return f'W/"{digest.hexdigest()}"'


def body_etag(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def record_etag(resource: str, key: str, revision: int, created_at: str, epoch: str) -> str:
    """A strong tag naming one state of one record: what an editor sends back as `If-Match`. The creation
    time tells a record re-created under a deleted one's key from the old one; the store's epoch tells a
    revision made after a restore from the one of the same number that the restore undid."""
    origin = hashlib.blake2b(f"{resource}|{key}|{created_at}|{epoch}".encode(), digest_size=6).hexdigest()
    return f'"r{revision}-{origin}"'
