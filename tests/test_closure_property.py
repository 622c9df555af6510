"""Properties over random stores (fixed seed, bounded examples):

1. Publication is a closure. Every record is written with a marker (`zq007x`) in its key and its texts;
   with random statuses, no public endpoint (lists, details and JSON-LD, search hits and facets, both
   feeds, the change log, the export, counts) ever shows the marker of an unpublished record; filtering by
   an unpublished key answers exactly as an unknown key does; and condition (ancestors included),
   therapy and therapy_type filters and counts find what a model of the rule says, no more.
2. Every change to a public response is a new content version: after random writes (statuses, a
   condition's parent, a therapy's type), every response a client revalidates or is served from the
   response cache equals a fresh build."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.content.resources import RESOURCES
from app.content.store import writing
from app.content.vocab import TherapyType
from tests.conftest import _database, client_for

STATUSES = ("draft", "published", "retracted")
TYPES = [t.value for t in TherapyType][:3]
NO_LIMITS = {
    "rate_limit_anonymous": "1000000/minute",
    "rate_limit_editor": "1000000/minute",
    "rate_limit_partner": "1000000/minute",
}
FILTERED = ("condition", "therapy", "topic", "source", "expert")


def marker(n: int) -> str:
    return f"zq{n:03d}x"


@dataclass
class Model:
    """The store as written, and what the rule says the public sees of it."""

    status: dict[str, str] = field(default_factory=dict)  # marker -> status
    kind: dict[str, str] = field(default_factory=dict)  # marker -> resource
    parent: dict[str, str | None] = field(default_factory=dict)  # condition -> parent
    therapy_type: dict[str, str] = field(default_factory=dict)
    claim_links: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # conditions, therapies

    def public(self, key: str | None) -> bool:
        return key is not None and self.status[key] == "published"

    def of(self, resource: str) -> list[str]:
        return [key for key, kind in self.kind.items() if kind == resource]

    def public_lineage(self, condition: str) -> list[str]:
        """The condition and its ancestors, up to the first unpublished one."""
        found: list[str] = []
        current: str | None = condition
        while current is not None and self.public(current) and current not in found:
            found.append(current)
            current = self.parent[current]
        return found

    def claims_under(self, condition: str) -> set[str]:
        return {
            claim
            for claim, (conditions, _) in self.claim_links.items()
            if self.public(claim) and any(condition in self.public_lineage(c) for c in conditions)
        }

    def claims_of_type(self, kind: str) -> set[str]:
        return {
            claim
            for claim, (_, therapies) in self.claim_links.items()
            if self.public(claim) and any(self.public(t) and self.therapy_type[t] == kind for t in therapies)
        }

    def hidden(self) -> list[str]:
        return [key for key in self.kind if not self.public(key)]


def statuses(n: int):
    return st.lists(st.sampled_from(STATUSES), min_size=n, max_size=n)


@st.composite
def stores(draw) -> list[tuple[str, str, dict]]:
    """Writes (resource, key, body) of a small store, targets before what points at them."""
    counter = iter(range(1000))
    writes: list[tuple[str, str, dict]] = []

    def workflow(status: str) -> dict:
        return {"status": status, "retraction_reason": "Withdrawn." if status == "retracted" else None}

    def add(resource: str, body: dict, status: str) -> str:
        key = marker(next(counter))
        writes.append((resource, key, body | workflow(status)))
        return key

    conditions: list[str] = []
    for status in draw(statuses(draw(st.integers(3, 5)))):
        parent = draw(st.sampled_from([None, *conditions]))
        conditions.append(add("condition", {"name": "Condition {}", "parent": parent}, status))
    therapies = [
        add("therapy", {"name": "Therapy {}", "type": draw(st.sampled_from(TYPES))}, status)
        for status in draw(statuses(3))
    ]
    experts = [add("expert", {"name": "Expert {}", "job_title": "Job {}"}, s) for s in draw(statuses(2))]
    sources = [
        add("source", {"title": "Source {}", "language": "en", "url": "https://example.org/{}"}, s)
        for s in draw(statuses(2))
    ]
    topics = []
    for status in draw(statuses(3)):
        body = {
            "source": draw(st.sampled_from(sources)),
            "title": "Topic {} common",
            "summary": "Summary {}",
            "body": "Body {} common",
            "position": len(topics),
            "conditions": draw(st.lists(st.sampled_from(conditions), max_size=2, unique=True)),
            "therapies": draw(st.lists(st.sampled_from(therapies), max_size=2, unique=True)),
        }
        topics.append(add("topic", body, status))
    claims = []
    for status in draw(statuses(5)):
        body = {
            "topic": draw(st.sampled_from(topics)),
            "text": "Claim {} common",
            "source_excerpt": "Excerpt {}",
            "conditions": draw(st.lists(st.sampled_from(conditions), max_size=2, unique=True)),
            "therapies": draw(st.lists(st.sampled_from(therapies), max_size=2, unique=True)),
            "expert": draw(st.sampled_from([None, *experts])),
            "evidence": {"kind": "expert-opinion", "strength": "low"},
        }
        claims.append(add("claim", body, status))
    for status in draw(statuses(3)):
        body = {
            "expert": draw(st.sampled_from(experts)),
            "topic": draw(st.sampled_from(topics)),
            "text": "Quote {} common",
            "claims": draw(st.lists(st.sampled_from(claims), max_size=2, unique=True)),
        }
        add("quote", body, status)
    return writes


def fill(body: dict, key: str) -> dict:
    return {name: value.replace("{}", key) if isinstance(value, str) else value for name, value in body.items()}


@contextmanager
def store_of(templates, writes) -> Iterator[tuple[object, Model]]:
    model = Model()
    for _, db in _database(templates, "empty", seeded=False):
        with writing(db, actor="property") as writer:
            for resource, key, body in writes:
                writer.put(resource, key, RESOURCES[resource].write_schema(**fill(body, key)))
                model.status[key] = body["status"]
                model.kind[key] = resource
                if resource == "condition":
                    model.parent[key] = body["parent"]
                if resource == "therapy":
                    model.therapy_type[key] = body["type"]
                if resource == "claim":
                    model.claim_links[key] = (body["conditions"], body["therapies"])
        yield db, model


def pages(client, path: str, params: dict | None = None, key: str = "items") -> Iterator[bytes]:
    params = dict(params or {})
    while True:
        response = client.get(path, params=params)
        assert response.status_code == 200, (path, params, response.text[:300])
        yield response.content
        page = response.json()
        cursor = page.get("next_cursor")
        if not cursor or not page[key]:  # the change log always hands out a cursor to resume from
            return
        params["since" if path == "/v1/changes" else "cursor"] = cursor


def public_bodies(client, model: Model) -> Iterator[tuple[str, bytes]]:
    """Every public response over the store, named."""
    for spec in RESOURCES.values():
        for n, body in enumerate(pages(client, f"/v1/{spec.plural}", {"limit": 2})):
            yield f"{spec.plural} page {n}", body
        for key in model.of(spec.name):
            for accept in ("application/json", "application/ld+json"):
                response = client.get(f"/v1/{spec.plural}/{key}", headers={"Accept": accept})
                assert response.status_code == (200 if model.public(key) else 404), (key, response.text[:200])
                if model.public(key):  # a 404 names only the key it was asked for
                    yield f"{spec.plural}/{key} {accept}", response.content
    for query in ("common", *model.kind):
        yield f"search {query}", client.get("/v1/search", params={"q": query, "limit": 100}).content
    for path in ("/v1/feed.json", "/v1/feed.atom"):
        response = client.get(path, params={"limit": 100})
        assert response.status_code == 200, response.text[:300]
        yield path, response.content
    for n, body in enumerate(pages(client, "/v1/changes", {"limit": 100})):
        yield f"changes {n}", body
    yield "export", gzip.decompress(client.get("/v1/export").content)
    yield "therapy types", client.get("/v1/therapy-types").content
    for key in model.of("topic"):
        response = client.get(f"/topics/{key}")
        assert response.status_code == (200 if model.public(key) else 404), (key, response.text[:200])
        if model.public(key):
            yield f"topic page {key}", response.content


def same_problem(one, other) -> bool:
    a, b = one.json(), other.json()
    return one.status_code == other.status_code and (a["type"], a["title"]) == (b["type"], b["title"])


def claim_ids(client, params: dict) -> set[str]:
    return {
        item["id"]
        for body in pages(client, "/v1/claims", params | {"limit": 100})
        for item in orjson.loads(body)["items"]
    }


@settings(max_examples=5, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(writes=stores())
def test_no_public_response_shows_filters_by_or_counts_an_unpublished_record(templates, writes):
    with store_of(templates, writes) as (db, model), client_for(db, **NO_LIMITS) as client:
        hidden = model.hidden()
        for name, body in public_bodies(client, model):
            text = body.decode()
            leaked = [key for key in hidden if key in text]
            assert not leaked, f"{name} shows unpublished {leaked}: {text[:400]}"
        for key in hidden:
            resource = model.kind[key]
            if resource not in FILTERED:
                continue
            for plural in ("claims", "topics", "quotes"):
                if resource not in RESOURCES[plural[:-1]].filters:
                    continue
                unknown = client.get(f"/v1/{plural}", params={resource: "zq999x"})
                answer = client.get(f"/v1/{plural}", params={resource: key})
                assert answer.status_code == 422 and same_problem(answer, unknown), (plural, key, answer.text)
                assert answer.text.replace(key, "zq999x") == unknown.text
        for condition in model.of("condition"):
            if model.public(condition):
                expected = model.claims_under(condition)
                assert claim_ids(client, {"condition": condition}) == expected, condition
                assert client.get(f"/v1/conditions/{condition}").json()["claim_count"] == len(expected)
        for kind in TYPES:
            assert claim_ids(client, {"therapy_type": kind}) == model.claims_of_type(kind), kind
        counts = {row["type"]: row["claim_count"] for row in client.get("/v1/therapy-types").json()}
        assert all(counts[kind] == len(model.claims_of_type(kind)) for kind in TYPES)


# ---- 2. every change to a public response is a new content version -------------------------------------


def urls(model: Model) -> list[str]:
    found = ["/v1/claims", "/v1/topics", "/v1/quotes", "/v1/conditions", "/v1/feed.json", "/v1/feed.atom"]
    found += ["/v1/search?q=common", "/v1/therapy-types", "/v1/changes", "/v1/export"]
    for key in model.kind:
        resource = model.kind[key]
        found.append(f"/v1/{RESOURCES[resource].plural}/{key}")
        if resource == "condition":
            found.append(f"/v1/claims?condition={key}")
        if resource == "therapy":
            found.append(f"/v1/claims?therapy={key}")
    found += [f"/v1/claims?therapy_type={kind}" for kind in TYPES]
    return found


EDITS = st.one_of(
    st.tuples(st.just("status"), st.integers(0, 30), st.sampled_from(STATUSES)),
    st.tuples(st.just("parent"), st.integers(0, 30), st.integers(-1, 30)),
    st.tuples(st.just("type"), st.integers(0, 30), st.sampled_from(TYPES)),
)


def apply(db, model: Model, writes, edit) -> None:
    action, index, value = edit
    keys = [
        key
        for key in model.kind
        if action == "status" or model.kind[key] == {"parent": "condition"}.get(action, "therapy")
    ]
    key = keys[index % len(keys)]
    resource = model.kind[key]
    body = next(b for r, k, b in writes if k == key)
    if action == "status":
        body = body | {"status": value, "retraction_reason": "Withdrawn." if value == "retracted" else None}
        model.status[key] = value
    elif action == "parent":
        conditions = model.of("condition")
        parent = None if value < 0 else conditions[value % len(conditions)]
        lineage, current = set(), parent
        while current is not None:
            lineage.add(current)
            current = model.parent[current]
        if key in lineage or parent == key:
            return  # would be a cycle, which the store refuses
        body = body | {"parent": parent}
        model.parent[key] = parent
    else:
        body = body | {"type": value}
        model.therapy_type[key] = value
    writes[:] = [(r, k, body if k == key else b) for r, k, b in writes]
    with writing(db, actor="property") as writer:
        writer.put(resource, key, RESOURCES[resource].write_schema(**fill(body, key)))


@settings(max_examples=3, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(writes=stores(), edits=st.lists(EDITS, min_size=1, max_size=4))
def test_after_any_write_every_kept_or_revalidated_response_equals_a_fresh_build(templates, writes, edits):
    writes = list(writes)
    with (
        store_of(templates, writes) as (db, model),
        client_for(db, **NO_LIMITS) as cached,
        client_for(db, response_cache_entries=0, **NO_LIMITS) as fresh,
    ):
        held = {}
        for url in urls(model):
            response = cached.get(url)
            held[url] = (response.headers.get("etag"), response.content)
        for edit in edits:
            apply(db, model, writes, edit)
            for url in urls(model):
                etag, body = held[url]
                built = fresh.get(url)
                revalidated = cached.get(url, headers={"If-None-Match": etag} if etag else {})
                if revalidated.status_code == 304:
                    assert built.content == body, f"{url} answered 304 after {edit}, but changed"
                else:
                    assert revalidated.content == built.content, f"{url} kept a stale answer after {edit}"
                served = cached.get(url)
                assert served.content == built.content, f"{url} served stale after {edit}"
                held[url] = (served.headers.get("etag"), served.content)
        hidden = model.hidden()  # and after the writes, still nothing unpublished shows anywhere (but in the
        for name, body in public_bodies(cached, model):  # change log's history: what was public then)
            if name.startswith("changes"):
                continue
            assert not [key for key in hidden if key in body.decode()], f"{name} after {edits}"
