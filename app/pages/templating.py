"""Jinja2 with autoescaping on every template: nothing from the content can become markup unless the code
marks it as HTML it built from escaped parts."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

# The pages need no script and load nothing from anywhere: inline styles only.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("app.pages", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> bytes:
    return environment().get_template(template).render(**context).encode()
