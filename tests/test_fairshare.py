"""Build slots taken in turn by client address: whatever others queue, an address with nothing building gets
the next slot that frees; no slot is ever lost (to a client that left while waiting, or after it got one)."""

from __future__ import annotations

import asyncio

from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.api.fairshare import FairSlots

ADDRESSES = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "honest"]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("arrive"), st.sampled_from(ADDRESSES)),
        st.tuples(st.just("arrive"), st.sampled_from(ADDRESSES)),
        st.tuples(st.just("finish"), st.integers(0, 7)),
        st.tuples(st.just("leave"), st.integers(0, 15)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(limit=st.integers(1, 4), script=steps)
# One address fills the slots and queues more; the honest client, queued after, is served first.
@example(limit=2, script=[("arrive", "10.0.0.1")] * 3 + [("arrive", "honest"), ("finish", 0)])
# Two addresses, each queueing: the honest client, never served, goes before both at the next free slot.
@example(
    limit=2,
    script=[("arrive", "10.0.0.1"), ("arrive", "10.0.0.2"), ("arrive", "10.0.0.1"), ("arrive", "10.0.0.2")]
    + [("finish", 0), ("arrive", "honest"), ("finish", 0)],
)
def test_a_freed_slot_goes_to_an_address_with_nothing_building(limit, script):
    asyncio.run(_play(limit, script))


async def _play(limit: int, script: list[tuple[str, object]]) -> None:
    slots = FairSlots(limit)
    holding: list[Client] = []
    waiting: list[Client] = []
    granted: list[Client] = []

    async def settle() -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        assert slots.free >= 0 and slots.free + sum(slots.held.values()) == limit

    for action, argument in script:
        if action == "arrive":
            client = Client(str(argument))
            client.task = asyncio.create_task(client.run(slots, granted))
            await settle()
            if granted and granted[-1] is client:
                holding.append(client)
            else:  # it waits only when every slot is taken
                assert slots.free == 0
                waiting.append(client)
        elif action == "finish" and holding:
            done = holding.pop(int(argument) % len(holding))
            # The addresses that hold nothing once this build ends, and wait.
            idle = {c.address for c in waiting if slots.held[c.address] - (c.address == done.address) == 0}
            before = len(granted)
            done.release.set()
            await done.task
            if waiting:
                await settle()
                assert len(granted) == before + 1  # a freed slot never idles while someone waits
                winner = granted[-1]
                assert not idle or winner.address in idle, (winner.address, idle)
                waiting.remove(winner)
                holding.append(winner)
            else:
                await settle()
        elif action == "leave" and waiting:
            gone = waiting.pop(int(argument) % len(waiting))
            gone.task.cancel()
            await asyncio.gather(gone.task, return_exceptions=True)
            await settle()
        assert sum(slots.held.values()) == len(holding) and slots.waiting == len(waiting)
        assert set(slots._served) <= {c.address for c in holding + waiting}  # it forgets who left
    # Everyone still there is served in the end, and every slot comes back.
    for client in holding + waiting:
        client.release.set()
    await asyncio.gather(*(client.task for client in holding + waiting))
    assert slots.free == limit and not slots.held and slots.waiting == 0 and not slots._served


class Client:
    def __init__(self, address: str) -> None:
        self.address = address
        self.release = asyncio.Event()
        self.task: asyncio.Task = None  # type: ignore[assignment]

    async def run(self, slots: FairSlots, granted: list[Client]) -> None:
        async with slots.slot(self.address):
            granted.append(self)
            await self.release.wait()


def test_among_addresses_holding_nothing_the_one_served_least_recently_goes_first():
    """Attackers spread over addresses, each keeping a build queued, all hold nothing at the moment a slot
    frees as often as the honest client does: the honest one, not served lately, goes first anyway."""

    async def play() -> list[str]:
        slots = FairSlots(1)
        granted: list[str] = []
        clients = [Client(a) for a in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2", "honest")]
        for client in clients:
            client.task = asyncio.create_task(client.run(slots, granted))  # type: ignore[arg-type]
            await asyncio.sleep(0)
        for _ in clients:  # end each build as soon as it starts
            for _ in range(5):
                await asyncio.sleep(0)
            for held in clients:
                if held.address == granted[-1].address and not held.release.is_set() and held in granted:
                    held.release.set()
                    break
        await asyncio.gather(*(c.task for c in clients))
        return [c.address for c in granted]

    order = asyncio.run(play())
    # Arrival order would be .1, .1, .2, .2, honest. In turn: each address once (.2 and the honest client
    # had never been served, .2 asked first), and only then the second builds of .1 and .2, which were
    # queued before the honest client asked.
    assert order == ["10.0.0.1", "10.0.0.2", "honest", "10.0.0.1", "10.0.0.2"], order
