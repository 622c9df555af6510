"""The ASGI app: `app.main:app`. create_app() wires routers, error handlers and middleware."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from starlette_compress import CompressMiddleware

from app import __version__
from app.api import compression, contract, docs, ops
from app.api.caching import Builds, ResponseCache, ServeKept
from app.api.fairshare import FairSlots
from app.api.handlers import install_error_handlers
from app.api.hotpath import HotPath, check_folded
from app.api.leanread import ServeLean
from app.api.middleware import (
    ApiKeyAuth,
    BodySizeLimit,
    InFlight,
    KeyRequired,
    ProblemCORSMiddleware,
    RequestsInFlightLimit,
    SecurityHeaders,
)
from app.api.ratelimit import Budgets, RateLimit
from app.api.strict_query import reject_unknown_query_parameters
from app.auth import keys
from app.content import codes
from app.content import router as content
from app.content.lean import ClaimDetail, ClaimsByFacet
from app.content.store import add_change_hook, add_write_hook
from app.core.config import Settings, get_settings
from app.core.db import Database, log_database_version
from app.editing import router as editing
from app.infobutton import router as infobutton
from app.ops import heap
from app.ops.requests import RequestContext, configure_access_log
from app.pages import router as pages
from app.partners import router as partners
from app.search import index as search_index
from app.search import router as search
from app.webhooks import outbox as webhook_outbox
from app.webhooks import router as webhooks
from app.webhooks.delivery import Worker as WebhookWorker
from app.webhooks.queue import SERVE_SIZE

DESCRIPTION = """Structured health-topic content (topics, claims with their evidence, experts and their quotes,
conditions with ICD-10-CM, MeSH and SNOMED CT codes, therapies by type), queried by condition and by therapy
type. Reads are public; partners and editors identify with `X-API-Key`. Errors are
`application/problem+json`."""


def operation_id(route: APIRoute) -> str:
    return route.name


def configure_logging() -> None:
    """INFO and up to stderr, unless logging was configured already (a test runner, an embedding app)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def install_write_hooks() -> None:
    """What every write keeps in step in its own transaction, besides facets: the search index, and the
    webhook outbox (a delivery row per matching webhook for each change-log entry). Everything that writes
    (the app, the CLI, scripts and tests) calls this first."""
    add_write_hook(search_index.on_write)
    add_change_hook(webhook_outbox.on_changes)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or Database.from_settings(settings)
    configure_logging()
    install_write_hooks()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        heap.limit_malloc_arenas(settings.malloc_arenas)  # before the threadpool's threads exist
        log_database_version(db)
        codes.warm(heap.long_lived)  # the code tables take seconds to load: not on the first request's time
        stop = asyncio.Event()
        worker = None
        # Served by `python -m app serve`, delivery runs in a process of its own (app.ops.companion) and
        # WEBHOOK_WORKER is false here; an app served otherwise (uvicorn directly, tests) runs a small one.
        if settings.webhook_worker:
            worker = asyncio.create_task(WebhookWorker(db, settings, size=SERVE_SIZE).run(stop))
        yield
        stop.set()
        if worker is not None:
            try:
                await asyncio.wait_for(worker, timeout=settings.webhook_timeout_seconds + 5)
            except TimeoutError:
                worker.cancel()
        db.dispose()

    app = FastAPI(
        title="Health-content API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
        openapi_tags=docs.OPENAPI_TAGS,
        license_info={"name": "MIT", "identifier": "MIT"},
        # A query parameter no route reads is a 422, never silently ignored (see app.api.strict_query).
        dependencies=[Depends(reject_unknown_query_parameters)],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.response_cache = ResponseCache(settings.response_cache_entries)
    app.state.builds = Builds(settings.concurrent_builds)
    app.state.build_turns = FairSlots(settings.concurrent_builds)  # slots taken in turn by client address
    app.state.in_flight = InFlight(settings.max_requests_in_flight, settings.max_requests_in_flight_per_client)
    app.state.budgets = budgets = Budgets(settings)
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(content.build_router())
    app.include_router(editing.build_router())
    app.include_router(partners.router)
    app.include_router(search.router)
    app.include_router(webhooks.router)
    app.include_router(infobutton.router)
    app.include_router(pages.router)
    docs.install(app)

    # Outermost last: headers on everything, then CORS, then the size limit and the key check.
    # Routes' answers are compressed on the way out; kept answers were compressed once, when kept.
    # The commonest cold list is answered in front of the router from the read model, compressed alike.
    app.add_middleware(
        ServeLean,
        answers={"/v1/claims": ClaimsByFacet(db), "/v1/claims/": ClaimDetail(db)},
        enabled=settings.lean_reads,
    )
    app.add_middleware(
        CompressMiddleware,
        minimum_size=compression.MIN_BYTES,
        zstd_level=compression.LEVELS["zstd"],
        brotli_quality=compression.LEVELS["br"],
        gzip_level=compression.LEVELS["gzip"],
    )
    app.add_middleware(ServeKept, cache=app.state.response_cache, db=db)  # inside the rate limit: it is counted
    # A keyless request for a keyed operation is refused before anything reads its body.
    app.add_middleware(KeyRequired, requirement=contract.key_requirement)
    app.add_middleware(RateLimit, budgets=budgets)  # inside ApiKeyAuth: it needs the caller
    app.add_middleware(ApiKeyAuth, authenticate=keys.authenticate, budgets=budgets)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout_seconds)
    app.add_middleware(RequestsInFlightLimit, state=app.state.in_flight)
    cors = cors_options(settings)
    app.add_middleware(ProblemCORSMiddleware, **cors)
    app.add_middleware(RequestContext)  # request id, URL checks, access log, metrics
    configure_access_log(settings.log_level)
    app.add_middleware(SecurityHeaders)
    # A keyless GET for a kept answer: all of the above done for it in one function, by the layers' own code.
    app.add_middleware(
        HotPath,
        cache=app.state.response_cache,
        db=db,
        in_flight=app.state.in_flight,
        max_body_bytes=settings.max_body_bytes,
        budgets=budgets,
        requirement=contract.key_requirement,
        cors=cors,
        enabled=settings.hot_path,
    )
    check_folded(app.user_middleware)
    return app


def cors_options(settings: Settings) -> dict[str, Any]:
    return {
        "allow_origins": [o.strip() for o in settings.cors_allow_origins.split(",")],
        "allow_methods": ["GET", "HEAD", "OPTIONS"],
        "allow_headers": ["X-API-Key", "If-None-Match", "If-Modified-Since", "Accept"],
        "expose_headers": [
            "ETag",
            "Link",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "Retry-After",
            "RateLimit-Policy",
            "X-Changes-Cursor",
            "X-Content-SHA256",
            "Repr-Digest",
        ],
        "max_age": 600,
    }


def openapi_json() -> str:
    """The document as exported to docs/openapi.json: built with default settings and no database
    connection, so the output depends on the code alone."""
    with tempfile.TemporaryDirectory() as folder:  # a database URL is needed, never connected to
        spec = create_app(Settings(database_url=f"sqlite:///{folder}/unused.db")).openapi()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


app: FastAPI  # `app.main:app`, made by __getattr__ below on first use


def __getattr__(name: str) -> FastAPI:
    # `app.main:app` is built on first use, so importing this module (tests, CLI) has no side effects.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
