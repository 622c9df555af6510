"""Synthetic content for benchmarks and load tests: N claims with proportionate topics, quotes, experts,
sources, a condition hierarchy whose popularity is skewed (a few conditions hold thousands of claims, as
real content does) and therapies of every type. The same seed always gives the same documents.

Everything is written through `ContentWriter`, the one write path, so the change log, revisions, facets
and any write hook (search) are filled exactly as an import would fill them."""

from __future__ import annotations

import gc
import multiprocessing
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from queue import Empty
from typing import Any

from pydantic import BaseModel

from app.content import schemas
from app.content.documents import stored_content
from app.content.resources import RESOURCES
from app.content.store import writing
from app.content.vocab import Domain, EvidenceKind, EvidenceStrength, TherapyType
from app.core.db import Database
from app.ops import heap
from app.synthetic.words import (
    BODY_PARTS,
    CONDITION_WORDS,
    FIRST_NAMES,
    LAST_NAMES,
    OBJECTS,
    QUALIFIERS,
    THERAPY_WORDS,
    VERBS,
)

ACTOR = "synthetic"
BATCH = 5_000  # records per put_many; one transaction per batch keeps each commit short
PARALLEL_FROM = 10_000  # claims from which the documents are made in a second process
AHEAD = 4  # batches the second process may make before the writer takes them

DOMAINS = [d.value for d in Domain]


@dataclass(frozen=True)
class Plan:
    """How many records of each kind N claims come with."""

    claims: int
    topics: int
    quotes: int
    experts: int
    sources: int
    conditions: int
    therapies: int

    @classmethod
    def for_claims(cls, claims: int) -> Plan:
        return cls(
            claims=claims,
            topics=max(1, claims // 10),
            quotes=claims // 20,
            experts=claims // 500 + 5,
            sources=claims // 200 + 1,
            conditions=min(320, 20 + claims // 20),
            therapies=min(100, 8 + claims // 50),
        )


class Generator:
    """The documents of one synthetic store, as (key, write shape) batches in write order."""

    def __init__(self, claims: int, seed: int = 1) -> None:
        self.plan = Plan.for_claims(claims)
        self.seed = seed
        self.rng = random.Random(seed)
        self.prefix = f"s{seed}"
        self.conditions = self._conditions()
        self.therapies = self._therapies()
        self._names = {
            "condition": {k: d.name for k, d in self.conditions},
            "therapy": {k: d.name for k, d in self.therapies},
        }
        self._topic_subjects: dict[str, tuple[list[str], list[str]]] = {}
        self.experts = [f"{self.prefix}-expert-{n}" for n in range(self.plan.experts)]
        self.sources = [f"{self.prefix}-source-{n}" for n in range(self.plan.sources)]
        # Zipf-like popularity (weight 1/rank) over the conditions, in a shuffled order so that popular
        # conditions sit anywhere in the hierarchy.
        ranked = [key for key, _ in self.conditions]
        self.rng.shuffle(ranked)
        self.condition_rank = ranked
        self.condition_weights = list(accumulate(1 / (rank + 1) for rank in range(len(ranked))))
        self.therapy_weights = list(accumulate(1 / (rank + 1) ** 0.7 for rank in range(len(self.therapies))))

    # ---- the vocabularies: conditions and therapies -------------------------------------------------

    def _conditions(self) -> list[tuple[str, schemas.ConditionIn]]:
        count = self.plan.conditions
        roots = max(1, count // 16)
        out: list[tuple[str, schemas.ConditionIn]] = []
        for n in range(count):
            key = f"{self.prefix}-condition-{n}"
            part, word = BODY_PARTS[n % len(BODY_PARTS)], CONDITION_WORDS[n % len(CONDITION_WORDS)]
            if n < roots:
                parent, name = None, f"{part.capitalize()} {word} group {n}"
            else:
                parent = out[self.rng.randrange(min(n, roots * 4))][0]  # two or three levels deep
                name = f"{self.rng.choice(QUALIFIERS).capitalize()} {part} {word} {n}"
            synonyms = [f"{part[:1].upper()}{word[:1].upper()}{n}"]
            out.append(
                (
                    key,
                    schemas.ConditionIn(
                        name=name,
                        parent=parent,
                        synonyms=synonyms,
                        description=f"A synthetic condition of the {part}.",
                    ),
                )
            )
        return out

    def _therapies(self) -> list[tuple[str, schemas.TherapyIn]]:
        types = list(TherapyType)
        out = []
        for n in range(self.plan.therapies):
            kind = types[n % len(types)]
            word = THERAPY_WORDS[kind][(n // len(types)) % len(THERAPY_WORDS[kind])]
            out.append(
                (
                    f"{self.prefix}-therapy-{n}",
                    schemas.TherapyIn(
                        name=f"{word.replace('-', ' ').capitalize()} {n}",
                        type=kind,
                        description=f"A synthetic {kind.value} intervention.",
                    ),
                )
            )
        return out

    def _pick_conditions(self) -> list[str]:
        count = 1 if self.rng.random() < 0.7 else 2
        picked = self.rng.choices(self.condition_rank, cum_weights=self.condition_weights, k=count)
        return list(dict.fromkeys(picked))

    def _pick_therapies(self) -> list[str]:
        keys = [key for key, _ in self.therapies]
        return list(dict.fromkeys(self.rng.choices(keys, cum_weights=self.therapy_weights, k=self.rng.randint(1, 2))))

    # ---- the content ------------------------------------------------------------------------------

    def _expert(self, n: int) -> schemas.ExpertIn:
        rng = self.rng
        return schemas.ExpertIn(
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            credentials=["MD"],
            job_title="Physician",
            affiliation=f"Synthetic Clinic {n % 37}",
            specialties=rng.sample(DOMAINS, 2),
        )

    def _source(self, n: int) -> schemas.SourceIn:
        return schemas.SourceIn(
            title=f"Synthetic article {n} on the microbiome",
            author=schemas.Author(name=f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"),
            language="en",
            published_at=f"20{20 + n % 6}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        )

    def _sentence(self, conditions: list[str], therapies: list[str]) -> str:
        rng = self.rng
        therapy = self._names["therapy"][therapies[0]] if therapies else "Diet"
        condition = self._names["condition"][conditions[0]] if conditions else "inflammation"
        return f"{therapy} {rng.choice(VERBS)} {rng.choice(OBJECTS)} in {condition.lower()}."

    def topic(self, n: int) -> tuple[str, schemas.TopicIn, list[str], list[str]]:
        conditions, therapies = self._pick_conditions(), self._pick_therapies()
        title = f"Topic {n}: " + self._sentence(conditions, therapies).rstrip(".")
        body = " ".join(self._sentence(conditions, therapies) for _ in range(3))
        doc = schemas.TopicIn(
            source=self.sources[n % len(self.sources)],
            title=title[:500],
            summary=body[:200],
            body=body,
            position=n // len(self.sources) + 1,
            domains=self.rng.sample(DOMAINS, 2),
            conditions=conditions,
            therapies=therapies,
        )
        return f"{self.prefix}-topic-{n}", doc, conditions, therapies

    def claim(self, n: int, topic: str, conditions: list[str], therapies: list[str]) -> tuple[str, schemas.ClaimIn]:
        rng = self.rng
        # Mostly the topic's own subjects, sometimes another popular one.
        own_conditions = conditions if rng.random() < 0.6 else self._pick_conditions()
        own_therapies = therapies if rng.random() < 0.6 else self._pick_therapies()
        text = self._sentence(own_conditions, own_therapies)
        kind = rng.choice(list(EvidenceKind))
        strength = (
            EvidenceStrength.low
            if kind in (EvidenceKind.studies, EvidenceKind.clinical_trials)
            else EvidenceStrength.very_low
        )
        expert = self.experts[rng.randrange(len(self.experts))] if rng.random() < 0.3 else None
        return f"{self.prefix}-claim-{n}", schemas.ClaimIn(
            topic=topic,
            text=text,
            source_excerpt=text,
            conditions=own_conditions,
            therapies=own_therapies,
            expert=expert,
            evidence=schemas.Evidence(kind=kind, strength=strength),
        )

    def quote(self, n: int, topic: str, claims: list[str]) -> tuple[str, schemas.QuoteIn]:
        picked = self.rng.sample(claims, min(len(claims), self.rng.randint(1, 3))) if claims else []
        return f"{self.prefix}-quote-{n}", schemas.QuoteIn(
            expert=self.experts[self.rng.randrange(len(self.experts))],
            topic=topic,
            text=f"In my practice, {self._sentence(*self._subjects_of(topic)).lower()}",
            claims=picked,
        )

    def _subjects_of(self, topic: str) -> tuple[list[str], list[str]]:
        return self._topic_subjects.get(topic, ([], []))

    def batches(self, size: int = BATCH) -> Iterator[tuple[str, Sequence[tuple[str, BaseModel]]]]:
        """(resource, items) in write order; claims and quotes follow their topics, batch by batch."""
        plan = self.plan
        yield "condition", list(self.conditions)
        yield "therapy", list(self.therapies)
        yield "expert", [(key, self._expert(n)) for n, key in enumerate(self.experts)]
        yield "source", [(key, self._source(n)) for n, key in enumerate(self.sources)]
        per_topic = plan.claims / plan.topics
        quotes_per_topic = plan.quotes / plan.topics
        topics_per_batch = max(1, int(size / (per_topic + 1)))
        claim_n = quote_n = 0
        for first in range(0, plan.topics, topics_per_batch):
            last = min(plan.topics, first + topics_per_batch)
            self._topic_subjects = {}
            topics, claims, quotes = [], [], []
            for n in range(first, last):
                key, doc, conditions, therapies = self.topic(n)
                topics.append((key, doc))
                self._topic_subjects[key] = (conditions, therapies)
                end = plan.claims if n == plan.topics - 1 else round((n + 1) * per_topic)
                own = [self.claim(c, key, conditions, therapies) for c in range(claim_n, end)]
                claim_n = end
                claims.extend(own)
                quote_end = plan.quotes if n == plan.topics - 1 else round((n + 1) * quotes_per_topic)
                for q in range(quote_n, quote_end):
                    quotes.append(self.quote(q, key, [k for k, _ in own]))
                quote_n = quote_end
            yield "topic", topics
            yield "claim", claims
            if quotes:
                yield "quote", quotes


def generate(
    db: Database,
    claims: int,
    seed: int = 1,
    *,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
    parallel: bool | None = None,
) -> dict[str, int]:
    """Write the synthetic store; returns how many records of each kind were written (or already there).
    `parallel` (by default from `PARALLEL_FROM` claims, where a second process can be forked): the
    documents are made and validated in a second process while this one writes."""
    if parallel is None:
        parallel = claims >= PARALLEL_FROM and "fork" in multiprocessing.get_all_start_methods()
    counts: dict[str, int] = {}
    pending: list[tuple[str, dict[str, dict[str, Any]]]] = []
    pending_size = 0

    def flush() -> None:
        nonlocal pending_size
        if not pending:
            return
        with writing(db, ACTOR) as writer:
            for resource, contents in pending:
                writer.put_contents(resource, contents)
        pending.clear()
        pending_size = 0
        gc.collect()  # what the batch left in cycles: only the batch's objects are walked (`heap.bulk_load`)

    with heap.bulk_load():
        for resource, contents in (_made_elsewhere if parallel else _contents)(claims, seed, batch):
            pending.append((resource, contents))
            pending_size += len(contents)
            counts[resource] = counts.get(resource, 0) + len(contents)
            if pending_size >= batch or resource == "source":
                flush()
                if progress:
                    progress(resource, counts[resource])
        flush()
    return counts


def _contents(claims: int, seed: int, batch: int) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """The generator's batches as the write path takes them: each document validated by its schema and
    given as `stored_content`."""
    for resource, items in Generator(claims, seed).batches(batch):
        spec = RESOURCES[resource]
        yield resource, {key: stored_content(spec, doc) for key, doc in items}


def _made_elsewhere(claims: int, seed: int, batch: int) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """`_contents`, made in a forked process a few batches ahead of the writer (plain data through a pipe:
    the models themselves cost more to unpickle than to make)."""
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue(maxsize=AHEAD)
    maker = context.Process(target=_make, args=(claims, seed, batch, queue), daemon=True)
    maker.start()
    try:
        while True:
            try:
                item = queue.get(timeout=1)
            except Empty:
                if not maker.is_alive():
                    raise RuntimeError(f"the document maker stopped (exit code {maker.exitcode})") from None
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise RuntimeError("the document maker failed") from item
            yield item
    finally:
        maker.kill()
        maker.join()
        queue.close()


def _make(claims: int, seed: int, batch: int, queue: Any) -> None:
    gc.enable()
    try:
        for item in _contents(claims, seed, batch):
            queue.put(item)
        queue.put(None)
    except BaseException as error:  # the writer raises it
        queue.put(error)
    queue.close()
    queue.join_thread()
