"""The matching cascade. For each search criterion the first level that finds published content answers:

1. `exact`: content coded with the requested code;
2. `ancestor-code`: ICD-10-CM only: the code's ancestors, nearest first, down to the three-character
   category; at each level, content coded with that code or any code under it;
3. `broader-condition`: our own condition hierarchy, upward from the conditions the code reached;
4. `synonym`: the display name or original text equal to a condition's name or synonym;
5. `text`: the display name or original text through full-text search.

Content about a condition is a topic coded with it (or with a narrower condition), or a topic holding a
claim that is: the facets the lists use, so each level is a few range scans of one index. What one level
reads is bounded (MAX_TOPICS topics, MAX_CLAIMS claims), so an answer costs the same at any store size."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, select

from app.content import icd10cm
from app.content.documents import pks_by_key
from app.content.queries import PUBLIC, Filters
from app.content.resources import RESOURCES
from app.infobutton.request import CODE_SYSTEMS, ICD10CM, SYSTEM_NAMES, Criterion
from app.models import Facet, table_of
from app.search.service import search

FACETS = table_of(Facet)
LEVELS = ("exact", "ancestor-code", "broader-condition", "synonym", "text")
MAX_TOPICS = 50
MAX_CLAIMS = 200
TEXT_HITS = 20


@dataclass
class Found:
    """A topic one criterion reached, the claims that made it match, and why."""

    topic_pk: int
    claim_pks: list[int]
    level: str
    label: str
    direct: bool  # the topic itself is coded with the condition, not only some of its claims


@dataclass
class Vocabulary:
    """The published conditions (a small, editor-made vocabulary), read once per answer."""

    keys: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    parents: dict[int, int | None] = field(default_factory=dict)
    terms: dict[str, list[int]] = field(default_factory=dict)  # folded name or synonym -> conditions

    @classmethod
    def load(cls, conn: Connection) -> Vocabulary:
        t = RESOURCES["condition"].table
        vocab = cls()
        rows = conn.execute(
            select(t.c.pk, t.c.key, t.c.name, t.c.parent_pk, t.c.synonyms).where(t.c.status == PUBLIC[0])
        )
        for pk, key, name, parent, synonyms in rows:
            vocab.keys[pk], vocab.names[pk], vocab.parents[pk] = key, name, parent
            for term in {fold(name), *(fold(s) for s in synonyms or [])}:
                vocab.terms.setdefault(term, []).append(pk)
        return vocab


def fold(text: str) -> str:
    """Case, accents, apostrophes and spacing do not matter: "Crohn’s  Disease" == "crohn's disease"."""
    text = unicodedata.normalize("NFKD", text).replace("\u2019", "'")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().split())


def _code_table() -> Table:
    codes = RESOURCES["condition"].codes
    assert codes is not None  # conditions have codes
    return codes[0]


def _codes(conn: Connection, system: str, clause) -> list[int]:
    codes = _code_table()
    query = select(codes.c.condition_pk).where(codes.c.system == system, clause).order_by(codes.c.condition_pk)
    return list(dict.fromkeys(conn.execute(query).scalars()))


def exact_conditions(conn: Connection, system: str, code: str) -> list[int]:
    codes = _code_table()
    forms = {code, code.upper()}
    if system == "icd10cm" and (dotted := icd10cm.normalise(code)):
        forms.add(dotted)
    return _codes(conn, system, codes.c.code.in_(sorted(forms)))


def conditions_under(conn: Connection, code: str) -> list[int]:
    """Conditions coded with an ICD-10-CM code or any code under it (M06 holds M06.9). Codes are letters,
    digits and dots, none of them a LIKE wildcard."""
    codes = _code_table()
    return _codes(conn, "icd10cm", codes.c.code.like(code + "%"))


def _therapy_filtered(conn: Connection, resource: str, pks: list[int], types: frozenset[str]) -> set[int]:
    """Of these topics or claims, those about a therapy (of one of `types`, when given)."""
    if not pks:
        return set()
    wanted = (
        FACETS.c.facet.in_([f"therapy_type:{t}" for t in sorted(types)])
        if types
        else FACETS.c.facet.like("therapy\\_type:%", escape="\\")
    )
    query = select(FACETS.c.record_pk).where(
        FACETS.c.resource == resource, FACETS.c.record_pk.in_(pks), wanted, FACETS.c.status == PUBLIC[0]
    )
    return set(conn.execute(query).scalars())


def content(conn: Connection, condition_pks: list[int], vocab: Vocabulary, narrow: frozenset[str] | None):
    """{topic pk: (claim pks, direct)} for the published content about these conditions (or narrower ones)."""
    facets = sorted({f"condition:{vocab.keys[pk]}" for pk in condition_pks if pk in vocab.keys})
    if not facets:
        return {}
    scan = (FACETS.c.facet.in_(facets), FACETS.c.status == PUBLIC[0])
    topic_pks = list(
        dict.fromkeys(
            conn.execute(
                select(FACETS.c.record_pk)
                .where(FACETS.c.resource == "topic", *scan)
                .order_by(FACETS.c.record_pk)
                .limit(MAX_TOPICS * len(facets))
            ).scalars()
        )
    )[:MAX_TOPICS]
    claims = RESOURCES["claim"].table
    rows = conn.execute(
        select(FACETS.c.record_pk, claims.c.topic_pk)
        .join(claims, claims.c.pk == FACETS.c.record_pk)
        .where(FACETS.c.resource == "claim", *scan)
        .order_by(FACETS.c.record_pk)
        .limit(MAX_CLAIMS * len(facets))
    ).all()
    claim_rows: list[tuple[int, int]] = list(dict.fromkeys((c, t) for c, t in rows))[:MAX_CLAIMS]
    if narrow is not None:
        keep_topics = _therapy_filtered(conn, "topic", topic_pks, narrow)
        keep_claims = _therapy_filtered(conn, "claim", [c for c, _ in claim_rows], narrow)
        topic_pks = [pk for pk in topic_pks if pk in keep_topics]
        claim_rows = [(c, t) for c, t in claim_rows if c in keep_claims]
    found: dict[int, tuple[list[int], bool]] = {pk: ([], True) for pk in topic_pks}
    for claim_pk, topic_pk in claim_rows:
        found.setdefault(topic_pk, ([], False))[0].append(claim_pk)
    return found


def _found(level: str, label: str, reached: dict[int, tuple[list[int], bool]]) -> list[Found]:
    hits = [Found(pk, claims, level, label, direct) for pk, (claims, direct) in reached.items()]
    return sorted(hits, key=lambda f: (not f.direct, -len(f.claim_pks), f.topic_pk))


def _named(vocab: Vocabulary, pks: list[int]) -> str:
    return ", ".join(vocab.names[pk] for pk in pks if pk in vocab.names)


def _by_code(conn: Connection, criterion: Criterion, vocab: Vocabulary, narrow, reached: list[int]) -> list[Found]:
    system = CODE_SYSTEMS.get(criterion.system or "")
    if not criterion.code or not criterion.system or system is None:
        return []
    name = SYSTEM_NAMES[criterion.system]
    exact = [pk for pk in exact_conditions(conn, system, criterion.code) if pk in vocab.keys]
    reached.extend(exact)
    if exact and (hits := content(conn, exact, vocab, narrow)):
        return _found("exact", f"{name} {criterion.code}: {_named(vocab, exact)}", hits)
    if criterion.system == ICD10CM:
        for level in icd10cm.ancestors(criterion.code):
            under = [pk for pk in conditions_under(conn, level) if pk in vocab.keys]
            reached.extend(pk for pk in under if pk not in reached)
            if under and (hits := content(conn, under, vocab, narrow)):
                return _found("ancestor-code", f"{name} {level}: {_named(vocab, under)}", hits)
    return []


def _broader(conn: Connection, vocab: Vocabulary, narrow, start: list[int]) -> list[Found]:
    """Up our condition hierarchy from `start`, one generation at a time, nearest first."""
    seen = set(start)
    generation = list(start)
    while generation:
        parents = [p for pk in generation if (p := vocab.parents.get(pk)) is not None and p not in seen]
        parents = list(dict.fromkeys(p for p in parents if p in vocab.keys))
        seen.update(parents)
        for parent in parents:
            if hits := content(conn, [parent], vocab, narrow):
                return _found("broader-condition", vocab.names[parent], hits)
        generation = parents
    return []


def _by_text(conn: Connection, criterion: Criterion, vocab: Vocabulary, narrow) -> list[Found]:
    for text in criterion.texts:
        conditions = vocab.terms.get(fold(text), [])
        if conditions and (hits := content(conn, conditions, vocab, narrow)):
            return _found("synonym", f"{_named(vocab, conditions)} (\u201c{text}\u201d)", hits)
    for text in criterion.texts:
        if hits := _searched(conn, text, narrow):
            return [Found(pk, claims, "text", f"\u201c{text}\u201d", direct) for pk, (claims, direct) in hits.items()]
    return []


def _searched(conn: Connection, text: str, narrow) -> dict[int, tuple[list[int], bool]]:
    """Topics the full-text search finds for the text, directly or through their claims, best first."""
    items: list[dict[str, Any]] = search(conn, text, Filters(), offset=0, limit=TEXT_HITS)["items"]
    topics = pks_by_key(conn, "topic", [i["key"] for i in items if i["resource"] == "topic"])
    claim_pks = pks_by_key(conn, "claim", [i["key"] for i in items if i["resource"] == "claim"])
    claims = RESOURCES["claim"].table
    claim_topic = dict(
        conn.execute(select(claims.c.pk, claims.c.topic_pk).where(claims.c.pk.in_(list(claim_pks.values())))).all()
    )
    if narrow is not None:
        keep = _therapy_filtered(conn, "topic", list(topics.values()), narrow)
        topics = {k: pk for k, pk in topics.items() if pk in keep}
        keep = _therapy_filtered(conn, "claim", list(claim_pks.values()), narrow)
        claim_pks = {k: pk for k, pk in claim_pks.items() if pk in keep}
    found: dict[int, tuple[list[int], bool]] = {}
    for item in items:
        if item["resource"] == "topic" and item["key"] in topics:
            found.setdefault(topics[item["key"]], ([], True))
        elif item["resource"] == "claim" and item["key"] in claim_pks:
            pk = claim_pks[item["key"]]
            found.setdefault(claim_topic[pk], ([], False))[0].append(pk)
    return found


def match(conn: Connection, criteria: list[Criterion], narrow: frozenset[str] | None) -> list[Found]:
    """Every criterion through the cascade; one Found per topic, ranked by level, then criterion, then
    how much of the topic matched. A topic several criteria reach keeps its best reason."""
    vocab = Vocabulary.load(conn)
    ranked: list[tuple[int, int, int, Found]] = []
    for index, criterion in enumerate(criteria):
        reached: list[int] = []
        hits = (
            _by_code(conn, criterion, vocab, narrow, reached)
            or _broader(conn, vocab, narrow, reached)
            or _by_text(conn, criterion, vocab, narrow)
        )
        ranked.extend((LEVELS.index(hit.level), index, n, hit) for n, hit in enumerate(hits))
    best: dict[int, Found] = {}
    for *_, hit in sorted(ranked, key=lambda r: r[:3]):
        best.setdefault(hit.topic_pk, hit)
    return list(best.values())
