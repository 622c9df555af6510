"""From what a person typed to a query the database can run, without ever passing their text through.

The text is cut into words (letters and digits only: no operator, quote, NUL or lone surrogate survives);
a run of words that names a condition or therapy, by its name or a synonym (`IBD`, `FMT`, `leaky gut`),
becomes a group of alternatives: every name of that record. Groups combine with AND, alternatives with
OR, and each alternative is a phrase we quote ourselves."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, select

from app.content.resources import RESOURCES
from app.content.vocab import Status
from app.core.errors import BadParameter

WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 32
MAX_ALTERNATIVES = 12

Phrase = tuple[str, ...]


def words(value: str) -> list[str]:
    return [w.casefold() for w in WORD.findall(value)]


@dataclass(frozen=True)
class Vocabulary:
    """Every name and synonym of the published conditions and therapies, as word tuples."""

    names: dict[Phrase, frozenset[Phrase]]
    longest: int

    @classmethod
    def load(cls, conn: Connection) -> Vocabulary:
        names: dict[Phrase, set[Phrase]] = {}
        for resource in ("condition", "therapy"):
            table = RESOURCES[resource].table
            query = select(table.c.name, table.c.synonyms).where(table.c.status == Status.published)
            for name, synonyms in conn.execute(query):
                phrases = {p for p in (tuple(words(v)) for v in [name, *(synonyms or [])]) if p}
                for phrase in phrases:
                    names.setdefault(phrase, set()).update(phrases)
        return cls({k: frozenset(v) for k, v in names.items()}, max((len(k) for k in names), default=0))


_cache: dict[str, tuple[int, Vocabulary]] = {}
_lock = threading.Lock()


def vocabulary(conn: Connection, version: int) -> Vocabulary:
    """The vocabulary as of this content version (it only changes with published content)."""
    where = conn.engine.url.render_as_string(hide_password=True)
    cached = _cache.get(where)
    if cached and cached[0] == version:
        return cached[1]
    loaded = Vocabulary.load(conn)
    with _lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[where] = (version, loaded)
    return loaded


def parse(text: str, vocab: Vocabulary) -> list[list[Phrase]]:
    """The query as AND-groups of OR-alternatives; empty when the text holds no word."""
    found = words(text)
    if len(found) > MAX_WORDS:
        raise BadParameter("q", f"has {len(found)} words; at most {MAX_WORDS} are searched")
    groups: list[list[Phrase]] = []
    i = 0
    while i < len(found):
        for length in range(min(vocab.longest, len(found) - i), 0, -1):
            phrase = tuple(found[i : i + length])
            if phrase in vocab.names:
                others = sorted(vocab.names[phrase] - {phrase}, key=lambda p: (len(p), p))
                groups.append([phrase, *others][:MAX_ALTERNATIVES])
                i += length
                break
        else:
            groups.append([(found[i],)])
            i += 1
    return groups


def fts5_match(groups: list[list[Phrase]]) -> str:
    """An FTS5 MATCH expression: every phrase in double quotes, so no word is ever read as syntax."""

    def quoted(phrase: Phrase) -> str:
        return '"' + " ".join(phrase).replace('"', '""') + '"'

    return " AND ".join("(" + " OR ".join(quoted(p) for p in group) + ")" for group in groups)
