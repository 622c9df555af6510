"""Objects that live as long as a worker are loaded with the cyclic collector paused and then frozen, once
per process (`ops.heap.long_lived`); run in a fresh interpreter, so this test's own process is untouched."""

from __future__ import annotations

import subprocess
import sys

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
