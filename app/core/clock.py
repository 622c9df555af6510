"""The one clock: timestamps as the store writes them (UTC, microseconds, a trailing Z)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
