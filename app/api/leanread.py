"""Lean reads: a GET that a domain fully understands is answered in front of the router, as kept answers
are (`caching.ServeKept`), without routing, dependency solving, parameter models or the threadpool hop.

The domain registers, per path, a function that returns the answer, or None for anything it does not
fully understand (an odd parameter, an unknown value, an editor): that request goes on to the router,
which answers it as always. A lean answer must be the router's byte for byte (status, headers and body);
the domain's tests hold it to that. It sits inside the rate limit, the key check, the request context
(metrics, access log) and the security headers, so all of them apply to it, and inside the compression
middleware, which encodes its answers as it encodes the router's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Answer = Callable[[Scope], Awaitable[Response | None]]


class ServeLean:
    """`answers` by path; a path ending in `/` takes the paths one segment below it (`/v1/claims/` a
    claim's detail)."""

    def __init__(self, app: ASGIApp, answers: Mapping[str, Answer], enabled: bool = True) -> None:
        self.app = app
        self.answers = dict(answers) if enabled else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and (answer := self._answer(scope["path"])):
            response = await answer(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _answer(self, path: str) -> Answer | None:
        return self.answers.get(path) or self.answers.get(path[: path.rfind("/") + 1]) if self.answers else None
