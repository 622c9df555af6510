"""Who is calling: anonymous, a partner, an editor or operations. The HTTP layer carries it per request; `app.auth`
makes it from an API key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    partner = "partner"
    editor = "editor"
    ops = "ops"  # reads the operations endpoints (metrics), nothing else beyond public content


@dataclass(frozen=True)
class Principal:
    """Who is calling: anonymous (name None), a partner or an editor."""

    scope: Scope | None = None
    name: str | None = None
    prefix: str | None = None

    @property
    def is_editor(self) -> bool:
        return self.scope == Scope.editor

    @property
    def actor(self) -> str:
        """The name a write records as its author: the key's (every key has one; anonymous callers cannot write)."""
        if self.name is None:
            raise ValueError("an anonymous caller has no name to write under")
        return self.name


ANONYMOUS = Principal()
