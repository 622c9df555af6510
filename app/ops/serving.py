"""Running the API under uvicorn, as `python -m app serve` and the benchmark do.

Each worker listens on several sockets bound to the same port (SO_REUSEPORT, on Linux). The event loop
(uvloop, through libuv) takes one new connection per listening socket per turn of the loop, and under load
a turn is long (it answers every request that is ready): 128 clients connecting at once to a busy worker
waited up to 1.7 s for their first answer with one socket. With several, the kernel spreads new connections
over them and the worker lets that many in per turn.

The configuration (the HTTP protocol with its limits, the trusted proxies) is `app.api.protocol.server_config`."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile

import uvicorn
from uvicorn.supervisors import Multiprocess

LISTENERS = 16


def listening_sockets(host: str, port: int, count: int = LISTENERS) -> list[socket.socket]:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[
        0
    ]
    # First a plain bind: it fails, as it should, when anything else holds the port (a socket in a
    # SO_REUSEPORT group of the same user would otherwise be joined silently).
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
    shared = count > 1 and sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
    sockets = []
    for _ in range(count if shared else 1):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def run(config: uvicorn.Config) -> None:
    """Serve with `config` (made by `app.api.protocol.server_config`) on this machine's listening sockets."""
    host, port, workers = config.host, config.port, config.workers
    sockets = listening_sockets(host, port)
    if workers > 1:
        Multiprocess(config, sockets=sockets).run()
    else:
        uvicorn.Server(config).run(sockets=sockets)


def pool_metrics() -> None:
    """Make `serve`'s processes (its HTTP workers and the delivery worker beside them) pool their metrics,
    so `/metrics` in any worker counts them all: prometheus-client's multiprocess mode, in a directory made
    for this run and removed at its end, unless PROMETHEUS_MULTIPROC_DIR already names one. It must run
    before prometheus-client is first imported, which decides there how metrics keep their values."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    if "prometheus_client" in sys.modules:
        raise RuntimeError("pool_metrics() must run before prometheus_client is imported")
    folder = tempfile.mkdtemp(prefix="health-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
