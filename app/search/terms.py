"""From what a person typed to a query the database can run, without ever passing their text through.

The text is cut into words (letters and digits only: no operator, quote, NUL or lone surrogate survives);
a run of words that names a condition or therapy, by its name or a synonym (`IBD`, `FMT`, `leaky gut`),
becomes a group of alternatives: every name of that record. Every word also stands for its British or
American spelling (`fibre`/`fiber`, `faecal`/`fecal`, `oesophagus`, `haemorrhage`, `anaemia`, `paediatric`),
from the `breame` package's tables, so either spelling finds the same hits. Groups combine with AND,
alternatives with OR, and each alternative is a phrase we quote ourselves."""

from __future__ import annotations

import heapq
import re
import threading
from dataclasses import dataclass

from breame.spelling import BRITISH_ENGLISH_SPELLINGS
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


# American spelling -> its British spellings (some have two: anaesthetise, anaesthetize), from breame's table.
_BRITISH: dict[str, tuple[str, ...]] = {}
for _british, _american in sorted(BRITISH_ENGLISH_SPELLINGS.items()):
    _BRITISH[_american] = (*_BRITISH.get(_american, ()), _british)


def _word_spellings(word: str) -> list[str]:
    american = BRITISH_ENGLISH_SPELLINGS.get(word, word)
    return list(dict.fromkeys((word, american, *_BRITISH.get(american, ()))))


def spellings(phrase: Phrase) -> list[Phrase]:
    """The phrase as typed, then its other spellings: every one of a single word; for a longer phrase, all
    American and all British (the first British spelling of each word)."""
    if len(phrase) == 1:
        return [(w,) for w in _word_spellings(phrase[0])]
    american = tuple(BRITISH_ENGLISH_SPELLINGS.get(w, w) for w in phrase)
    british = tuple((_BRITISH.get(w) or (w,))[0] for w in american)
    return list(dict.fromkeys((phrase, american, british)))


def _order(phrase: Phrase) -> tuple[int, Phrase]:
    return len(phrase), phrase


@dataclass(frozen=True)
class Vocabulary:
    """Every name and synonym of the published conditions and therapies, as word tuples.

    Each record's names are one group, stored once (in alternative order); a phrase maps to the groups
    that hold it. Memory and build time are linear in the number of names: a record with n synonyms
    costs n entries, never n x n (each phrase holding every other)."""

    groups: tuple[tuple[Phrase, ...], ...]
    names: dict[Phrase, tuple[int, ...]]
    longest: int

    @classmethod
    def load(cls, conn: Connection) -> Vocabulary:
        groups: list[tuple[Phrase, ...]] = []
        names: dict[Phrase, list[int]] = {}
        for resource in ("condition", "therapy"):
            table = RESOURCES[resource].table
            query = select(table.c.name, table.c.synonyms).where(table.c.status == Status.published)
            for name, synonyms in conn.execute(query):
                phrases = {p for p in (tuple(words(v)) for v in [name, *(synonyms or [])]) if p}
                if not phrases:
                    continue
                for phrase in phrases:
                    names.setdefault(phrase, []).append(len(groups))
                groups.append(tuple(sorted(phrases, key=_order)))
        return cls(tuple(groups), {k: tuple(v) for k, v in names.items()}, max((len(k) for k in names), default=0))

    def size(self) -> int:
        """Stored phrase references: grows with the number of names, linearly."""
        return sum(len(g) for g in self.groups) + sum(len(v) for v in self.names.values())

    def alternatives(self, phrase: Phrase) -> list[Phrase]:
        """The phrase, then the other names of the records it names (shortest first), at most
        MAX_ALTERNATIVES: a lazy merge of the sorted groups, so a long group is never copied or sorted."""
        found = [phrase]
        merged = heapq.merge(*(self.groups[g] for g in self.names.get(phrase, ())), key=_order)
        for other in merged:
            if len(found) >= MAX_ALTERNATIVES:
                break
            if other != found[-1] and other != phrase:
                found.append(other)
        return found


_cache: dict[str, tuple[tuple[int, str], Vocabulary]] = {}
_lock = threading.Lock()


def vocabulary(conn: Connection, version: tuple[int, str]) -> Vocabulary:
    """The vocabulary as of this content version and epoch (`content_state`: it only changes with published
    content, and a restore takes the version back to numbers that then name other content)."""
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
            typed = spellings(tuple(found[i : i + length]))
            named = next((p for p in typed if p in vocab.names), None)
            if named is not None:
                group = dict.fromkeys([*typed, *vocab.alternatives(named)])
                groups.append(list(group)[:MAX_ALTERNATIVES])
                i += length
                break
        else:
            groups.append(spellings((found[i],)))
            i += 1
    return groups


def fts5_match(groups: list[list[Phrase]]) -> str:
    """An FTS5 MATCH expression: every phrase in double quotes, so no word is ever read as syntax."""

    def quoted(phrase: Phrase) -> str:
        return '"' + " ".join(phrase).replace('"', '""') + '"'

    return " AND ".join("(" + " OR ".join(quoted(p) for p in group) + ")" for group in groups)
