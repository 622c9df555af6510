"""Driving a server with wrk: a Lua script picks a random path per request from a list made by the
benchmark (a random condition, therapy type, record...), and reports its figures as one JSON line."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`."

LUA = """
local paths = {%(paths)s}
local headers = {%(headers)s}
local counter = 0

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class Result:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, non-2xx/3xx answers and timeouts
    timeouts: int

    def row(self) -> str:
        return (
            f"{self.name:<34} {self.rps:>9.0f} {self.p50_ms:>8.1f} {self.p99_ms:>8.1f} {self.max_ms:>8.1f} "
            f"{self.errors:>7}"
        )


HEADER = f"{'target':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}"


def require_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit(INSTALL_HINT)
    return found


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run(
    name: str,
    base_url: str,
    paths: list[str],
    *,
    seconds: float,
    connections: int,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    timeout_s: float = 2.0,
) -> Result:
    """One wrk run against `base_url` (which must be on 127.0.0.1); requests over `timeout_s` are errors."""
    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError("the benchmark only drives servers on 127.0.0.1")
    script = LUA % {
        "paths": ", ".join(_lua_string(p) for p in paths),
        "headers": ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items()),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [
            require_wrk(),
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds:g}s",
            "--timeout",
            f"{timeout_s:g}s",
            "-s",
            handle.name,
            base_url,
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False).stdout
    finally:
        Path(handle.name).unlink(missing_ok=True)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures for {name}:\n{out}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(
        name=name,
        requests=data["requests"],
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=errors,
        timeouts=data["timeout"],
    )
