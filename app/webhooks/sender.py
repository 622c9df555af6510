"""One signed POST to a webhook target, to the addresses the guard checked, within a time limit, reading
at most a few kilobytes of the answer, following no redirect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from app.webhooks.signing import headers as signed_headers
from app.webhooks.ssrf import Target

MAX_RESPONSE_BYTES = 16 * 1024
USER_AGENT = "health-content-webhooks/1"


@dataclass
class Attempt:
    status_code: int | None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def describe(self) -> str:
        if self.status_code is not None:
            return f"HTTP {self.status_code}" + (f" ({self.error})" if self.error else "")
        return self.error or "no answer"


def pinned_url(url: str, address: str) -> str:
    """The URL with its host replaced by the checked address."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


async def send(
    client: httpx.AsyncClient,
    url: str,
    target: Target,
    signing_secrets: Sequence[str],
    msg_id: str,
    payload: dict[str, Any],
    *,
    timeout: float,
) -> Attempt:
    body = orjson.dumps(payload)
    request_headers = signed_headers(signing_secrets, msg_id, int(time.time()), body)
    request_headers["user-agent"] = USER_AGENT
    request_headers["host"] = urlsplit(url).netloc
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                "POST",
                pinned_url(url, target.addresses[0]),
                content=body,
                headers=request_headers,
                extensions=extensions,
                timeout=timeout,
            ) as response:
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= MAX_RESPONSE_BYTES:
                        break
                error = (
                    f"redirect to {response.headers.get('location', '?')} not followed"
                    if (300 <= response.status_code < 400)
                    else None
                )
                return Attempt(response.status_code, error, (time.perf_counter() - started) * 1000)
    except TimeoutError:
        return Attempt(None, f"no answer within {timeout:g} s", (time.perf_counter() - started) * 1000)
    except httpx.HTTPError as exc:
        return Attempt(None, f"{exc.__class__.__name__}: {exc}"[:300], (time.perf_counter() - started) * 1000)
