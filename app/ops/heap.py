"""Objects that live as long as a worker, kept out of the cyclic garbage collector's way.

The code tables (`content.codes`) are some 700,000 lists, tuples and XML elements, loaded in the background
at start. Each full collection walks every tracked object: while they loaded, eight full passes over the
growing tables cost about 0.6 s of CPU of the 2.4 s the load takes, holding the event loop's thread each
time; once loaded, one full collection of a worker cost 0.1-1 s of CPU, a pause of every request in it.
`long_lived` loads them with the collector paused, then freezes every object alive (`gc.freeze`): no later
collection walks them (a full one then takes microseconds). Once per process: a frozen object is never
collected, so freezing again (each app a test starts) would keep whatever cycles were garbage by then; the
first freeze keeps the few cycles left by the load itself (145 objects)."""

from __future__ import annotations

import gc
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
