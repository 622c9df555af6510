"""One signed POST to a webhook target, to the addresses the guard checked, within a time limit, reading
at most a few kilobytes of the answer, following no redirect.

`Clients` keeps one aiohttp session (a pool of keep-alive connections) per target: scheme, host name and
port. A connection made for one host name (its certificate checked against that name) never carries
another's requests, even when both resolve to one address. aiohttp, not httpx, because this is the hot
path of a worker sending a thousand events a second: on the benchmark machine an httpx request cost
0.75 ms of CPU alone and up to 2.2 ms with 64 in flight (its pool scans every connection per request);
aiohttp's 0.17 ms, flat with concurrency."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from yarl import URL

from app.webhooks.signing import Signer
from app.webhooks.ssrf import Target

MAX_RESPONSE_BYTES = 16 * 1024
USER_AGENT = "health-content-webhooks/1"
MAX_TARGETS = 256  # sessions kept open at once; the least recently used is closed past this
CONNECTIONS_PER_TARGET = 32
KEEPALIVE_SECONDS = 30.0
# Each send is bounded by one timer of its own (`asyncio.timeout` in `send`: connect, request and answer);
# the session sets none, so a send pays for one timer, not two.
NO_SESSION_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None)


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


class Clients:
    """Sessions by target, made on first use and closed with this object (`async with Clients() as
    clients`). No redirects followed, no proxy or settings from the environment, no cookies kept, nothing
    resolved by the session (it connects to addresses the guard checked)."""

    def __init__(self, *, per_target: int = CONNECTIONS_PER_TARGET, max_targets: int = MAX_TARGETS) -> None:
        self.per_target = per_target
        self.max_targets = max_targets
        self._sessions: OrderedDict[tuple[str, str, int], aiohttp.ClientSession] = OrderedDict()
        self._closing: set[asyncio.Task] = set()

    def client(self, target: Target) -> aiohttp.ClientSession:
        key = (target.scheme, target.host, target.port)
        found = self._sessions.get(key)
        if found is not None:
            self._sessions.move_to_end(key)
            return found
        made = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.per_target, limit_per_host=self.per_target, keepalive_timeout=KEEPALIVE_SECONDS
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=NO_SESSION_TIMEOUT,
            trust_env=False,
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding",),
        )
        self._sessions[key] = made
        while len(self._sessions) > self.max_targets:
            _, oldest = self._sessions.popitem(last=False)
            closing = asyncio.get_running_loop().create_task(oldest.close())  # a send still on it fails: retried
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        return made

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for session in sessions:
            await session.close()

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def pinned_url(url: str, address: str) -> str:
    """The URL with its host replaced by the checked address."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


@functools.lru_cache(maxsize=1024)
def _addressed(url: str, address: str) -> tuple[URL, str]:
    """(the URL to connect to, pinned to the checked address; its Host header), made once per pair."""
    return URL(pinned_url(url, address)), urlsplit(url).netloc


async def send(
    clients: Clients,
    url: str,
    target: Target,
    signer: Signer,
    msg_id: str,
    body: bytes,
    *,
    timeout: float,
) -> Attempt:
    """POST `body` (the event, rendered once) signed for this attempt, to the first checked address."""
    pinned, host = _addressed(url, target.addresses[0])
    request_headers = signer.headers(msg_id, int(time.time()), body)
    request_headers["user-agent"] = USER_AGENT
    request_headers["host"] = host
    tls: dict[str, Any] = {"server_hostname": target.host} if target.scheme == "https" else {}
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with clients.client(target).post(
                pinned, data=body, headers=request_headers, allow_redirects=False, **tls
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)  # at most this much of the answer
                error = (
                    f"redirect to {response.headers.get('location', '?')} not followed"
                    if (300 <= response.status < 400)
                    else None
                )
                return Attempt(response.status, error, (time.perf_counter() - started) * 1000)
    except TimeoutError:
        return Attempt(None, f"no answer within {timeout:g} s", (time.perf_counter() - started) * 1000)
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Attempt(None, f"{exc.__class__.__name__}: {exc}"[:300], (time.perf_counter() - started) * 1000)
