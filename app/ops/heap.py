"""Objects that live as long as a worker, kept out of the cyclic garbage collector's way.

The code tables (`content.codes`) are some 700,000 lists, tuples and XML elements, loaded in the background
at start. Each full collection walks every tracked object: while they loaded, eight full passes over the
growing tables cost about 0.6 s of CPU of the 2.4 s the load takes, holding the event loop's thread each
time; once loaded, one full collection of a worker cost 0.1-1 s of CPU, a pause of every request in it.
`long_lived` loads them with the collector paused, then freezes every object alive (`gc.freeze`): no later
collection walks them (a full one then takes microseconds). Once per process: a frozen object is never
collected, so freezing again (each app a test starts) would keep whatever cycles were garbage by then; the
first freeze keeps the few cycles left by the load itself (145 objects).

`bulk_load` is the other case: a load of millions of short-lived objects (the synthetic store), whose
automatic collections ran thousands of times and walked everything alive each time, a fifth of the load's
time. During it what was alive before is frozen and automatic passes are off; the loader collects each
batch's cycles itself.

`limit_malloc_arenas` caps the C allocator's arenas. glibc gives each new thread an arena of its own, up to
eight per CPU; the threadpool's threads each fill and fragment theirs, and a worker's resident heap creeps up
long after the objects in it stopped growing. Measured: a 12-minute soak (200 writes a minute, response cache
on) grew the heap 23.2 MB with glibc's default, 12.5 MB with two arenas."""

from __future__ import annotations

import ctypes
import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_frozen = False


@contextmanager
def long_lived() -> Iterator[None]:
    """A block that makes objects living as long as the process: run with the collector paused, then
    everything alive frozen (the first time in a process; later blocks run as they are)."""
    global _frozen
    with _lock:
        if _frozen:
            yield
            return
        enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            gc.freeze()
            _frozen = True
            if enabled:
                gc.enable()


@contextmanager
def bulk_load() -> Iterator[None]:
    """A block making many short-lived objects: automatic collections off and what was alive before it
    frozen, both restored after. In a process whose long-lived objects are frozen already (`long_lived`)
    nothing more is frozen, since leaving the block would unfreeze those too."""
    enabled = gc.isenabled()
    fresh = gc.get_freeze_count() == 0
    if fresh:
        gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        if fresh:
            gc.unfreeze()


M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h


def limit_malloc_arenas(arenas: int) -> bool:
    """At most `arenas` allocator arenas from now on (threads made later share them); False where the C
    library has no such setting (not glibc), `arenas` is 0 (leave the default) or `MALLOC_ARENA_MAX` in the
    environment already decided it. Call it before the threads that allocate are started."""
    if arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
