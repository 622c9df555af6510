"""`GET /v1/infobutton` and its form `POST`: parse, answer through the cache, render the format asked for.

Like every public read, an answer is cached by content version (ETag, 304, kept responses) and counted by
the rate limit; it reads a bounded amount (see app.infobutton.matching), so it costs the same at any size."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.caching import cached_read_async
from app.api.deps import DatabaseDep
from app.api.strict_query import accepts_extra_query_parameters
from app.core.errors import UnsupportedMediaType
from app.infobutton import answer as answers
from app.infobutton import render
from app.infobutton.docs import GET_DOC, POST_DOC
from app.infobutton.request import ATOM, HTML, JSON, InfobuttonRequest, parse
from app.pages.templating import PAGE_CSP
from app.pages.templating import render as render_page

FORM = "application/x-www-form-urlencoded"
MEDIA_TYPES = {ATOM: "text/xml", JSON: "application/json", HTML: "text/html; charset=utf-8"}

router = APIRouter(prefix="/v1")


def _base(request: Request) -> str:
    return (request.app.state.settings.public_base_url or str(request.base_url)).rstrip("/")


async def _answer(request: Request, db, parsed: InfobuttonRequest, salt: str = "") -> Response:
    """The answer to `parsed`; `salt` names what it depends on that the URL does not (a form body)."""
    base = _base(request)
    self_url = f"{base}/v1/infobutton?{urlencode(parsed.parameters)}"
    media_type = MEDIA_TYPES[parsed.response_type]

    def build(conn):
        answer = answers.build(conn, parsed, base=base, self_url=self_url)
        if parsed.response_type == JSON:
            return orjson.dumps(render.json_feed(answer)), {}
        if parsed.response_type == HTML:
            page = render_page(
                "infobutton.html", answer=answer, lang=answer.language, base=base, page_title=answer.title
            )
            return page, {"Content-Security-Policy": PAGE_CSP}
        return render.atom(answer), {}

    return await cached_read_async(
        request,
        db,
        build,
        public=True,
        media_type=media_type,
        max_age=request.app.state.settings.cache_max_age,
        salt=salt,
    )


@router.get("/infobutton", **GET_DOC)
@accepts_extra_query_parameters  # HL7 clients send parameters of their own: accepted, echoed, ignored
async def infobutton(request: Request, db: DatabaseDep) -> Response:
    return await _answer(request, db, parse(request.query_params.multi_items()))


@router.post("/infobutton", **POST_DOC)
@accepts_extra_query_parameters
async def infobutton_form(request: Request, db: DatabaseDep) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise UnsupportedMediaType(f"Send the parameters as {FORM}, the way an HTML form posts them.")
    body = await request.body()
    try:
        items = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise UnsupportedMediaType(f"The body is not {FORM} in UTF-8.") from None
    parsed = parse([*request.query_params.multi_items(), *items])
    # The answer depends on the body, which the URL does not name: it keys the kept response.
    salt = hashlib.blake2b(parsed.canonical().encode(), digest_size=12).hexdigest()
    # A POST is never answered 304 (RFC 9110 13.1.2 allows that for GET and HEAD only).
    request.scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"if-none-match"]
    request = Request(request.scope, request.receive)
    return await _answer(request, db, parsed, salt)
