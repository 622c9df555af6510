"""The response cache's key: what a public response can depend on besides the content version, reduced
to what makes a difference, so that a client cannot make distinct keys (and entries) out of values that ask
for the same response."""

from __future__ import annotations

from starlette.types import Scope

# The representations a route chooses between by `Accept` (a record as JSON or as JSON-LD); every other
# representation is fixed by the URL. A response depends on `Accept` only through these types' qualities.
NEGOTIATED_MEDIA_TYPES = ("application/ld+json", "application/json")


def quality(params: list[str]) -> float:
    """The `q` of one `Accept` entry's parameters (1 without one, 0 when unreadable), within 0..1."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def media_preferences(accept: str | None) -> tuple[float, ...]:
    """The best quality `accept` gives each of `NEGOTIATED_MEDIA_TYPES` (0 where it names none), read from
    its first 50 entries: all that a route's choice of representation depends on."""
    best = [0.0] * len(NEGOTIATED_MEDIA_TYPES)
    if not accept:
        return tuple(best)
    for part in accept.split(",")[:50]:
        media, *params = part.split(";")
        media = media.strip().lower()
        if media in NEGOTIATED_MEDIA_TYPES:
            index = NEGOTIATED_MEDIA_TYPES.index(media)
            best[index] = max(best[index], quality(params))
    return tuple(best)


def request_signature(scope: Scope) -> tuple:
    """What a public response can depend on besides the content version: the URL as sent (scheme, host,
    path, query) and the representation asked for (`Accept`, reduced to the qualities of the types routes
    choose between, so distinct `Accept` values that ask for the same thing share one entry). The host is
    lower-cased (`RequestContext` has refused a request whose `Host` is not one), and left out when
    `PUBLIC_BASE_URL` is set: every link is then made from the setting, so no answer depends on it. Taken
    from the raw scope, so the router-free lookup and the route that keeps a response name it alike."""
    host, accept = b"", None
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    by_host = not getattr(settings, "public_base_url", "")  # with a base URL set, no answer names the Host
    for name, value in scope["headers"]:
        if name == b"host" and by_host and not host:
            host = value.lower()
        elif name == b"accept" and accept is None:
            accept = value.decode("latin-1")
    return (
        scope.get("scheme"),
        host,
        scope.get("root_path", ""),
        scope["path"],
        scope.get("query_string", b""),
        media_preferences(accept),
    )


def signature_bytes(signature: tuple) -> int:
    """What a key holds, in bytes, near enough."""
    return sum(len(part) if isinstance(part, str | bytes) else 8 * len(part) for part in signature if part)
