"""A process `serve` runs beside its HTTP workers for as long as it runs: the webhook delivery worker.

Deliveries cost CPU (about 0.2 ms each: a claim, a signature, a send, a record), and in the HTTP worker's
own event loop that time is taken from the reads. In a process of its own the operating system gives it
another core where there is one, and at a lower priority (`DELIVERY_NICE`) it yields where there is not.
`serve` starts it, restarts it if it dies (after a pause that doubles up to a minute), and stops it
(SIGTERM, then SIGKILL after a grace period) when it stops.

However `serve` ends (an orderly stop, or a SIGKILL or an out-of-memory kill that gives it no chance to stop
its companion) the companion does not live on as an orphan: its standard input is a pipe from `serve`, and
when that pipe ends the companion stops as on SIGTERM: the sends under way finish (within the send
timeout) and are recorded, and it exits."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

RESTART_PAUSE = 1.0  # seconds before the first restart; doubles on each quick death, up to MAX_PAUSE
MAX_PAUSE = 60.0
STEADY = 30.0  # a companion that ran this long before dying is restarted after the first pause again
# Deliveries are background work: where the CPUs are all busy, the reads (and a starting HTTP worker) come
# first, and deliveries wait a little longer (they are retried and ordered; a read's client is waiting).
# A nice level, not SCHED_IDLE: at nice 5 the worker still gets about a quarter of a core against one
# process at nice 0 that wants it all, so under reads that never let up it keeps sending (some hundreds a
# second at 0.2 ms each); under SCHED_IDLE it would get next to nothing, and its backlog (and the lag) would
# grow for as long as the reads last (BENCHMARKS.md, "Webhook delivery").
DELIVERY_NICE = 5


class Companion:
    def __init__(self, name: str, args: list[str], *, grace: float = 15.0, nice: int = 0) -> None:
        self.name = name
        self.args = args
        self.grace = grace
        self.nice = nice  # how much lower its CPU priority is than serve's
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.supervisor = threading.Thread(target=self._supervise, name=f"companion-{name}", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.supervisor.start()

    def _spawn(self) -> None:
        with self.lock:
            if not self.stopping.is_set():
                self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE)
                with contextlib.suppress(AttributeError, OSError):  # Unix only
                    mine = os.getpriority(os.PRIO_PROCESS, 0)
                    os.setpriority(os.PRIO_PROCESS, self.process.pid, mine + self.nice)
                log.info("%s started (pid %s)", self.name, self.process.pid)

    def _supervise(self) -> None:
        pause = RESTART_PAUSE
        while not self.stopping.is_set():
            process = self.process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self.stopping.is_set():
                return
            pause = RESTART_PAUSE if time.monotonic() - started >= STEADY else pause
            log.warning("%s exited with %s; restarting in %.0f s", self.name, code, pause)
            if self.stopping.wait(pause):
                return
            pause = min(pause * 2, MAX_PAUSE)
            self._spawn()

    def stop(self) -> None:
        """Ask it to finish (SIGTERM: the sends under way end and are recorded), then make sure it has."""
        with self.lock:
            self.stopping.set()
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", self.name, self.grace)
            process.kill()
            process.wait()
        if process.stdin is not None:
            process.stdin.close()


def delivery_worker(send_timeout: float) -> Companion:
    """`python -m app deliver`, run as serve's companion (the settings reach it through the environment).
    It stops within a send's timeout, so that is its grace (and some)."""
    args = [sys.executable, "-m", "app", "deliver", "--with-parent"]
    return Companion("webhook delivery worker", args, grace=send_timeout + 5, nice=DELIVERY_NICE)


def on_parent_exit(stop: Callable[[], object]) -> None:
    """In a companion: call `stop` (from another thread) when `serve`'s end of the standard-input pipe closes,
    however `serve` ended."""

    def watch() -> None:
        # The file descriptor itself, not sys.stdin: a thread blocked in a buffered read would hold its lock
        # when the interpreter shuts down after an orderly stop.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
