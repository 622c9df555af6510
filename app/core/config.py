"""One place for every setting; read from the environment (and nothing else) so tests stay hermetic."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./health-content.db",
        description="SQLAlchemy URL of the store; sqlite:///FILE or postgresql+psycopg://...",
    )
    database_read_url: str | None = Field(default=None, description="Optional read replica for GETs.")
    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Content imported on first start.")
    public_base_url: str = Field(
        default="",
        description="Absolute base URL used in feeds and Link headers; empty means the request's own.",
    )
    max_body_bytes: int = Field(default=1024 * 1024, description="Largest request body accepted.")
    cache_max_age: int = Field(default=60, description="Cache-Control max-age of public reads, seconds.")
    response_cache_entries: int = Field(
        default=4096, description="Public responses kept per worker while their content version is current; 0: off."
    )
    lean_reads: bool = Field(
        default=True,
        description="Answer public claim lists by condition, therapy type or both, and details, before the router.",
    )
    malloc_arenas: int = Field(
        default=2,
        ge=0,
        le=64,
        description="C allocator arenas a worker's threads share (glibc); 0 leaves the C library's default.",
    )
    hot_path: bool = Field(
        default=True,
        description="Answer a kept public read asked for without a key in front of the middleware, as it would.",
    )
    concurrent_builds: int = Field(
        default=4, description="Responses a worker builds at once; the rest wait, so revalidations stay quick."
    )
    max_requests_in_flight: int = Field(
        default=512, description="Requests a worker answers at once; past it, 503 with Retry-After at once."
    )
    max_requests_in_flight_per_client: int = Field(
        default=64, description="Requests one client address may have in flight in a worker; past it, 429 at once."
    )
    body_timeout_seconds: float = Field(
        default=30.0, description="Longest a request's body may take to arrive, from the request's start; then 408."
    )
    header_timeout_seconds: float = Field(
        default=10.0, description="Longest a request's head (request line and headers) may take to arrive; then 408."
    )
    max_header_bytes: int = Field(
        default=16 * 1024, description="Largest request head (request line and headers) accepted; past it, 431."
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For/-Proto serve trusts (comma-separated addresses or networks, '*').",
    )
    query_timeout_ms: int = Field(default=5000, description="Longest a single query may run.")
    rate_limit_anonymous: str = Field(default="120/minute", description="Budget per client address.")
    rate_limit_partner: str = Field(default="1200/minute", description="Budget per partner key.")
    rate_limit_editor: str = Field(default="1200/minute", description="Budget per editor key.")
    rate_limit_storage_url: str = Field(
        default="memory://", description="limits storage URI; redis://host:6379 shares one budget."
    )
    cors_allow_origins: str = Field(default="*", description="Origins allowed to read; writes allow none.")
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Let webhook targets be plain http and loopback or private addresses (tests, private networks).",
    )
    webhook_worker: bool = Field(default=True, description="Run the webhook delivery worker inside `serve`.")
    webhook_timeout_seconds: float = Field(default=10.0, description="Longest one webhook send may take.")
    webhook_retry_scale: float = Field(
        default=1.0, description="Multiplies the retry schedule (5 s ... 10 h); tests make it small."
    )
    webhook_poll_seconds: float = Field(
        default=0.25, description="How often an idle delivery worker looks for work (one index probe)."
    )
    webhook_secret_grace_seconds: int = Field(
        default=86400, description="How long a rotated-out signing secret still signs beside the new one."
    )
    log_level: str = "info"


@lru_cache
def get_settings() -> Settings:
    return Settings()
