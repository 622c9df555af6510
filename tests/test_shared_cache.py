"""The API behind a real shared cache: nginx (Debian's package) on 127.0.0.1 with `proxy_cache`, configured
as a CDN would be (it follows `Cache-Control` and `Vary`, revalidates with the validators it holds). What it
stores and replays must be true for every caller: keyed answers are never stored, one caller's rate-limit
count is never replayed to another."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.auth.keys import Scope, create_key
from app.core.db import Database
from app.main import create_app
from tests.conftest import make_settings

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx-light; .ci/run does)")

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=api:1m max_size=20m inactive=10m use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_cache api;
            proxy_cache_revalidate on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


def _free_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait_for(url: str, deadline: float) -> None:
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.05)


@pytest.fixture
def behind_nginx(templates, tmp_path):
    """(nginx URL, app database, a partner key): the app in a thread, nginx as a process, both on loopback."""
    url, cleanup = templates.fresh("seeded", True)
    settings = make_settings(url, cache_max_age=1, rate_limit_partner="1000/minute")
    db = Database.from_settings(settings)
    with db.write() as conn:
        key = create_key(conn, scope=Scope.partner, name="cdn test")
    import uvicorn

    app_sock = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, db=db), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [app_sock]}, daemon=True)
    thread.start()
    proxy_sock = _free_port()
    port = proxy_sock.getsockname()[1]
    proxy_sock.close()  # nginx binds it itself; the window in which another process could take it is tiny
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, upstream=app_sock.getsockname()[1]))
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.05)
        _wait_for(f"http://127.0.0.1:{port}/healthz", deadline)
        yield f"http://127.0.0.1:{port}", db, key
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.should_exit = True
        thread.join(10)
        app_sock.close()
        db.dispose()
        cleanup()


def test_a_shared_cache_never_stores_keyed_answers_or_replays_a_callers_count(behind_nginx):
    base, _, key = behind_nginx
    with httpx.Client(base_url=base, timeout=10) as cdn:
        first = cdn.get("/v1/topics")
        second = cdn.get("/v1/topics")
        assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
        assert second.content == first.content
        for response in (first, second):
            assert response.headers["cache-control"].startswith("public")
            assert "ratelimit-remaining" not in response.headers and "ratelimit-reset" not in response.headers
            assert response.headers["ratelimit-limit"].isdigit()

        keyed = [cdn.get("/v1/topics", headers={"X-API-Key": key}) for _ in range(3)]
        assert [r.headers["x-cache-status"] for r in keyed] == ["MISS"] * 3  # never a stored copy
        assert all(r.headers["cache-control"].startswith("private") for r in keyed)
        remaining = [int(r.headers["ratelimit-remaining"]) for r in keyed]
        assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == 3  # live, not replayed
        assert [r.content for r in keyed] == [first.content] * 3

        after = cdn.get("/v1/topics")  # the keyed answers did not replace the public copy
        assert after.headers["x-cache-status"] == "HIT" and "ratelimit-remaining" not in after.headers


def test_a_shared_cache_revalidates_after_an_edit_elsewhere_and_refetches_after_one_here(behind_nginx):
    from tests.test_changes import put_changed

    base, db, _ = behind_nginx
    with httpx.Client(base_url=base, timeout=10) as cdn:
        first = cdn.get("/v1/conditions?limit=100")
        assert first.headers["x-cache-status"] == "MISS"
        expert = cdn.get("/v1/experts").json()["items"][0]["slug"]
        put_changed(db, "expert", expert, job_title="Changed")
        time.sleep(2.1)  # past max-age (1 s here; nginx counts whole seconds): the cache must ask the origin
        after_elsewhere = cdn.get("/v1/conditions?limit=100")
        assert after_elsewhere.headers["x-cache-status"] == "REVALIDATED"  # the origin said 304
        assert after_elsewhere.content == first.content
        put_changed(db, "condition", "rheumatoid-arthritis", description="Described anew.")
        time.sleep(2.1)
        after_here = cdn.get("/v1/conditions?limit=100")
        assert after_here.headers["x-cache-status"] == "EXPIRED" and "Described anew." in after_here.text
