"""The reference servers the benchmark compares the API with.

`limit_app`: a bare ASGI callable answering every request with the same ~2 KB JSON body: what uvicorn
and the loopback can do at all on this machine. `floor_app`: a FastAPI route with the same parameter
validation as a list route but no database: what any FastAPI route pays before doing work, with a 2 KB
body (`/v1/claims`) and with a body of our condition page's size (`/v1/claims-full`, about 20 KB, the
average page at 100k claims): the fair peer of our kept answers, since sending the body is much of
their cost."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import FastAPI, Query
from starlette.responses import Response

ITEM = {
    "id": "s1-claim-0",
    "text": "Lactobacillus 8 may reduce barrier function in chronic gut colitis 17.",
    "conditions": [{"slug": "s1-condition-17", "name": "Chronic gut colitis 17"}],
    "therapies": [{"slug": "s1-therapy-8", "name": "Lactobacillus 8", "type": "probiotic"}],
    "evidence": {"kind": "studies", "stated_as": None, "citations": [], "strength": "low"},
    "status": "published",
    "revision": 1,
}
BODY = orjson.dumps({"items": [ITEM] * 6, "next_cursor": "eyJzIjoiY2xhaW1zIiwicCI6MjB9"})
FULL_BODY = orjson.dumps({"items": [ITEM] * 54, "next_cursor": "eyJzIjoiY2xhaW1zIiwicCI6MjB9"})  # about 20 KB
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def limit_app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


floor_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@floor_app.get("/v1/claims")
def floor_claims(
    condition: Annotated[list[str] | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Validated parameters, a fixed body, a sync route (as ours are): the cost of the framework alone."""
    return Response(BODY, media_type="application/json")


@floor_app.get("/v1/claims-full")
def floor_claims_full(
    condition: Annotated[list[str] | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The same route with a body the size of our condition page."""
    return Response(FULL_BODY, media_type="application/json")
