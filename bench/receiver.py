"""A webhook receiver for the benchmarks, as cheap as a partner's could be: its CPU is the partner's, not
ours, so it parses no JSON and keeps no objects per request beyond one tuple. A raw asyncio protocol in a
process of its own (not a thread of the benchmark, whose writers would share its interpreter lock) reads
each POST, notes when it arrived with the bytes of its `webhook-id` and of the event's `"at"`, and answers
204 on the same connection (keep-alive). What it noted is parsed after the run.

    receiver = Receiver()          # forks the process; listens on 127.0.0.1:receiver.port
    receiver.count                 # requests answered so far
    receiver.cpu()                 # CPU seconds the receiver has spent
    records = receiver.collect()   # [(webhook-id, the change's `at`, arrival)], and the process stops
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import time
from datetime import datetime
from pathlib import Path

ANSWER = b"HTTP/1.1 204 No Content\r\n\r\n"
MAX_HEAD = 64 * 1024


def _header(head: bytes, name: bytes) -> bytes:
    """The value of header `name` (lower case, with its colon) in a lower-cased head, or b""."""
    start = head.find(name)
    if start < 0:
        return b""
    stop = head.find(b"\r\n", start)
    return head[start + len(name) : stop if stop >= 0 else len(head)].strip()


class _Protocol(asyncio.Protocol):
    def __init__(self, notes: list, count) -> None:
        self.notes, self.count = notes, count
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end].lower()
            length = int(_header(head, b"content-length:") or 0)
            if len(buffer) < end + 4 + length:
                break
            body = buffer[end + 4 : end + 4 + length]
            arrived = time.time()
            msg_id = _header(head, b"webhook-id:")
            start = body.find(b'"at":"')
            at = body[start + 6 : body.find(b'"', start + 6)] if start >= 0 else b""
            self.notes.append((msg_id, at, arrived))
            self.count.value += 1
            assert self.transport is not None
            self.transport.write(ANSWER)
            buffer = buffer[end + 4 + length :]
        if len(buffer) > MAX_HEAD:
            assert self.transport is not None
            self.transport.close()
            buffer = b""
        self.buffer = buffer


def _serve(sock: socket.socket, count, out: str, done) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    notes: list = []
    loop = asyncio.new_event_loop()

    async def main() -> None:
        server = await loop.create_server(lambda: _Protocol(notes, count), sock=sock)
        await loop.run_in_executor(None, done.wait)
        server.close()

    loop.run_until_complete(main())
    Path(out).write_text("\n".join(f"{m.decode()} {a.decode()} {t:.6f}" for m, a, t in notes))


class Receiver:
    def __init__(self, folder: str) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        self.out = os.path.join(folder, "received.txt")
        context = multiprocessing.get_context("fork")
        self._count = context.Value("q", 0, lock=False)
        self._done = context.Event()
        self.process = context.Process(target=_serve, args=(sock, self._count, self.out, self._done), daemon=True)
        self.process.start()
        sock.close()

    @property
    def count(self) -> int:
        return int(self._count.value)

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def collect(self) -> list[tuple[str, float, float]]:
        self._done.set()
        self.process.join(30)
        records = []
        for line in Path(self.out).read_text().splitlines():
            msg_id, at, arrived = line.split(" ")
            moment = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
            records.append((msg_id, moment, float(arrived)))
        return records
