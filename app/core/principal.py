"""Who is calling: anonymous, a partner or an editor. The HTTP layer carries it per request; `app.auth`
makes it from an API key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    partner = "partner"
    editor = "editor"


@dataclass(frozen=True)
class Principal:
    """Who is calling: anonymous (name None), a partner or an editor."""

    scope: Scope | None = None
    name: str | None = None
    prefix: str | None = None

    @property
    def is_editor(self) -> bool:
        return self.scope == Scope.editor


ANONYMOUS = Principal()
