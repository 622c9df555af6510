"""Objects that live as long as a worker are loaded with the cyclic collector paused and then frozen, once
per process (`ops.heap.long_lived`), and a bulk load pauses it without undoing that (`ops.heap.bulk_load`);
run in fresh interpreters, so this test's own process is untouched."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from app.ops import heap

SCRIPT = """
import gc
from app.ops import heap

assert gc.isenabled() and gc.get_freeze_count() == 0
with heap.long_lived():
    paused = not gc.isenabled()
    tables = [[n, str(n)] for n in range(50_000)]
assert paused and gc.isenabled()
frozen = gc.get_freeze_count()
assert frozen >= 50_000, frozen
tracked = len(gc.get_objects())
assert tracked < 50_000, tracked  # what a full collection walks: not the tables
with heap.long_lived():  # once per process: a second block neither pauses nor freezes
    assert gc.isenabled()
    more = [[n] for n in range(1_000)]
assert gc.get_freeze_count() == frozen
gc.disable()
with heap.long_lived():
    pass
assert not gc.isenabled()  # a collector the process paused stays paused
print("ok")
"""


def test_long_lived_objects_are_frozen_once_and_the_collector_restored():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


BULK = """
import gc
from app.ops import heap

before = [[n] for n in range(10_000)]
with heap.bulk_load():  # alone: what was alive is frozen, automatic passes off; both undone after
    assert not gc.isenabled() and gc.get_freeze_count() >= 10_000
    batch = [[n] for n in range(10_000)]
assert gc.isenabled() and gc.get_freeze_count() == 0
with heap.long_lived():
    tables = [[n] for n in range(10_000)]
frozen = gc.get_freeze_count()
with heap.bulk_load():  # after `long_lived`: its freeze is kept, nothing more is frozen
    assert not gc.isenabled() and gc.get_freeze_count() == frozen
assert gc.isenabled() and gc.get_freeze_count() == frozen
print("ok")
"""


def test_a_bulk_load_pauses_the_collector_and_keeps_long_lived_objects_frozen():
    done = subprocess.run([sys.executable, "-c", BULK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


ARENAS = """
import os, sys, threading
from app.ops import heap

def arena_heaps():
    # glibc maps each thread arena's heap at an address aligned to its 64 MiB maximum, in anonymous memory
    count = 0
    for line in open("/proc/self/maps"):
        fields = line.split()
        start = int(fields[0].split("-")[0], 16)
        if len(fields) == 5 and start % (64 << 20) == 0 and fields[1] == "rw-p":
            count += 1
    return count

limited = heap.limit_malloc_arenas(int(sys.argv[1]))
before = arena_heaps()
barrier = threading.Barrier(8)
kept = []

def allocate():
    barrier.wait()
    kept.append([bytes(4096) for _ in range(64)])  # past Python's small-object allocator: malloc itself

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(limited, arena_heaps() - before)
"""


def _new_arenas(limit: int) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", ARENAS, str(limit)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    limited, new = done.stdout.split()
    return limited, int(new)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena setting is glibc's")
def test_threads_share_the_arenas_the_setting_allows():
    limited, new = _new_arenas(1)  # one arena: the main one, which is not a 64 MiB heap of its own
    assert limited == "True"
    assert new == 0
    unlimited, spread = _new_arenas(0)  # glibc's default: threads take arenas of their own
    assert unlimited == "False"
    assert spread >= 2


def test_the_environment_decides_when_it_names_an_arena_count(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert heap.limit_malloc_arenas(2) is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert heap.limit_malloc_arenas(0) is False
