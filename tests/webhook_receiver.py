"""A webhook receiver for tests: an HTTP server on 127.0.0.1 that records every request and answers as
told (a status and a delay per request, in order, then 204 at once; optional Location)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)  # answers to the first requests; then `default`
    default: int = 204
    delay: float = 0.0
    delays: list[float] = field(default_factory=list)  # per request, in order; then `delay`
    location: str | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    in_flight: dict[str, int] = field(default_factory=dict)  # requests being answered, per path
    most_in_flight: dict[str, int] = field(default_factory=dict)  # the most at once, per path

    def answer(self) -> tuple[int, float]:
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else self.default
            return status, self.delays.pop(0) if self.delays else self.delay

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            return list(self.received)

    def events(self) -> list[dict]:
        with self.lock:
            return [r.event for r in self.received]


@contextmanager
def receiver(**options) -> Iterator[Receiver]:
    state = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status, delay = state.answer()
            with state.lock:  # recorded on arrival: a request still being answered counts as received
                state.received.append(Received(self.path, dict(self.headers.items()), body, time.time()))
                now = state.in_flight[self.path] = state.in_flight.get(self.path, 0) + 1
                state.most_in_flight[self.path] = max(now, state.most_in_flight.get(self.path, 0))
            if delay:
                time.sleep(delay)
            with state.lock:
                state.in_flight[self.path] -= 1
            self.send_response(status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def wait_until(check, timeout: float = 20.0):
    """`check()`'s first truthy value, asked every 50 ms for up to `timeout` seconds (then its last value):
    a receiver has an event before the worker has recorded the answer, so what the API says of a delivery
    is waited for, not assumed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    return check()
