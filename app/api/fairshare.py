"""The worker's build slots, taken in turn by client address.

A response that is not kept is built in the threadpool, at most `CONCURRENT_BUILDS` at once (`caching.Builds`).
Waiting for a slot in arrival order let whoever sends the most cache misses decide everyone's wait: 20
addresses, each inside its rate budget, sending URLs that are all different (a distinct `Host` each, with
`PUBLIC_BASE_URL` unset) kept a queue of their builds in front of an honest client's, whose read then took
1.5 s. Here a slot that frees goes to the waiting address that holds the fewest slots, and among those to
the one served least recently (an address with nothing held or waiting is forgotten, so one that asks now
and then comes first): a client that asks for one build now and then is served at the next slot that frees,
so its wait is bounded by the builds already running, never by the queue others keep behind them, however
many addresses they spread it over. An address alone may still use every slot (nothing is held back from
an idle worker)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
from starlette.requests import Request

from app.api.ratelimit import client_address

T = TypeVar("T")


class FairSlots:
    """`limit` slots; `slot(address)` waits for one, taken in turn by address as above. Event-loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.free = limit
        self.held: Counter[str] = Counter()
        self._waiting: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}
        self._arrivals = itertools.count()
        self._served: dict[str, int] = {}  # when each address holding or waiting was last given a slot

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @asynccontextmanager
    async def slot(self, address: str) -> AsyncIterator[None]:
        await self._acquire(address)
        try:
            yield
        finally:
            self._release(address)

    async def _acquire(self, address: str) -> None:
        if self.free > 0 and not self._waiting:
            self._take(address)
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (next(self._arrivals), turn)
        self._waiting.setdefault(address, deque()).append(entry)
        try:
            await turn
        except BaseException:  # cancelled (the client left): give back a slot granted meanwhile
            if turn.done() and not turn.cancelled():
                self._release(address)
            else:
                self._forget(address, entry)
            raise

    def _take(self, address: str) -> None:
        self.free -= 1
        self.held[address] += 1
        self._served[address] = next(self._arrivals)

    def _release(self, address: str) -> None:
        self.free += 1
        self.held[address] -= 1
        if self.held[address] <= 0:
            del self.held[address]
            if address not in self._waiting:
                self._served.pop(address, None)
        self._hand_out()

    def _priority(self, address: str) -> tuple[int, int, int]:
        return self.held[address], self._served.get(address, -1), self._waiting[address][0][0]

    def _hand_out(self) -> None:
        while self.free > 0 and self._waiting:
            address = min(self._waiting, key=self._priority)
            queue = self._waiting[address]
            _, turn = queue.popleft()
            if not queue:
                del self._waiting[address]
            if turn.done():  # cancelled while it waited
                if address not in self._waiting and not self.held[address]:
                    self._served.pop(address, None)
                continue
            self._take(address)
            turn.set_result(None)

    def _forget(self, address: str, entry: tuple[int, asyncio.Future[None]]) -> None:
        queue = self._waiting.get(address)
        if queue is not None and entry in queue:
            queue.remove(entry)
            if not queue:
                del self._waiting[address]
                if not self.held[address]:
                    self._served.pop(address, None)


async def build_in_turn(request: Request, run: Callable[[], T]) -> T:
    """Run a response's build in the threadpool once this client's turn for a build slot comes."""
    builds = request.app.state.builds
    turns: FairSlots | None = getattr(request.app.state, "build_turns", None)
    if turns is None:
        return await anyio.to_thread.run_sync(run, limiter=builds.limiter)
    async with turns.slot(client_address(request.scope)):
        return await anyio.to_thread.run_sync(run, limiter=builds.limiter)
