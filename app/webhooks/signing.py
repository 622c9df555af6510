"""Standard Webhooks signatures: `v1,` + base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`,
keyed with the base64-decoded part of a `whsec_...` secret. Several secrets (during a rotation) give several
signatures, separated by spaces."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


class Signer:
    """Signs messages with one or more secrets, each decoded and keyed once (an HMAC keyed once is copied
    for each message), so a subscription's many messages pay for the message only."""

    def __init__(self, signing_secrets: Iterable[str]) -> None:
        self._keyed = [hmac.new(_key(secret), digestmod=hashlib.sha256) for secret in signing_secrets]

    def signatures(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The `webhook-signature` value: one `v1,` signature per secret, separated by spaces."""
        prefix = f"{msg_id}.{timestamp}.".encode()
        found = []
        for keyed in self._keyed:
            mac = keyed.copy()
            mac.update(prefix)
            mac.update(body)
            found.append("v1," + base64.b64encode(mac.digest()).decode())
        return " ".join(found)

    def headers(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The headers of one attempt: the id stays, the timestamp is the attempt's own."""
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.signatures(msg_id, timestamp, body),
            "content-type": "application/json",
        }
