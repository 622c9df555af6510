"""The HL7 Infobutton endpoint, asked the way EHRs ask MedlinePlus Connect (adapted to our codes): the Atom
checked against RFC 4287 and the knowledge response profile's elements, the JSON against MedlinePlus
Connect's shape with every repeating element an array, and each level of the matching cascade."""

from __future__ import annotations

import random
from urllib.parse import urlencode

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from app.content.schemas import ClaimIn, Evidence, TopicIn
from app.content.store import writing
from app.infobutton.answer import MATCH_SCHEME
from tests.atom_rules import ATOM, XML_LANG, check
from tests.conftest import client_for

ICD10CM = "2.16.840.1.113883.6.90"
SNOMEDCT = "2.16.840.1.113883.6.96"
MESH = "2.16.840.1.113883.6.177"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
TOPIC_TAG = "tag:health-content.dev,2026:topic:"
LEVELS = ["exact", "ancestor-code", "broader-condition", "synonym", "text"]


def ask(client, params, **extra):
    items = list(params.items()) if isinstance(params, dict) else list(params)
    return client.get("/v1/infobutton?" + urlencode(items + list(extra.items())))


def as_json(client, params) -> dict:
    response = ask(client, params, knowledgeResponseType="application/json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["feed"]


def matches(feed: dict) -> list[tuple[str, str, str]]:
    """(topic slug, level, label) of each entry, in order."""
    out = []
    for entry in feed["entry"]:
        (category,) = entry["category"]
        assert category["scheme"] == MATCH_SCHEME
        out.append((entry["id"]["_value"].removeprefix(TOPIC_TAG), category["term"], category["label"]))
    return out


# ---- the JSON shape ----------------------------------------------------------------------------------

VALUE = {"type": "object", "required": ["_value"], "properties": {"_value": {"type": "string"}}}
CATEGORY = {
    "type": "object",
    "required": ["scheme", "term"],
    "properties": {"scheme": {"type": "string"}, "term": {"type": "string"}, "label": {"type": "string"}},
}
LINK = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {"href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"}},
}
JSON_SHAPE = {
    "type": "object",
    "required": ["feed"],
    "properties": {
        "feed": {
            "type": "object",
            "required": ["lang", "title", "updated", "id", "author", "category", "entry", "link"],
            "properties": {
                "lang": {"type": "string"},
                "title": VALUE,
                "subtitle": VALUE,
                "updated": VALUE,
                "id": VALUE,
                "author": {"type": "array", "items": {"type": "object", "required": ["name"]}},
                "link": {"type": "array", "items": LINK},
                "category": {"type": "array", "items": CATEGORY},
                "entry": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["title", "link", "id", "summary", "updated", "category", "lang"],
                        "properties": {
                            "title": VALUE,
                            "id": VALUE,
                            "updated": VALUE,
                            "summary": {
                                "type": "object",
                                "required": ["type", "_value"],
                                "properties": {"type": {"const": "html"}, "_value": {"type": "string"}},
                            },
                            "link": {"type": "array", "minItems": 1, "items": LINK},
                            "category": {
                                "type": "array",
                                "minItems": 1,
                                "items": {**CATEGORY, "required": ["scheme", "term", "label"]},
                            },
                        },
                    },
                },
            },
        }
    },
}


def assert_json_shape(body: dict) -> None:
    errors = sorted(Draft202012Validator(JSON_SHAPE).iter_errors(body), key=str)
    assert not errors, f"{errors[0].message} at {list(errors[0].absolute_path)}"
    for entry in body["feed"]["entry"]:
        assert entry["category"][0]["term"] in LEVELS


# ---- the requests EHRs send --------------------------------------------------------------------------


def test_an_icd10cm_code_in_atom_is_rfc_4287_with_the_profiles_elements(client):
    params = {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9"}
    response = ask(client, params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    feed = check(response.content)
    assert feed.get(XML_LANG) == "en"
    assert feed.get(XML_BASE) == "http://testserver/"
    for name in ("title", "subtitle", "author", "updated", "id"):
        assert feed.find(ATOM + name) is not None, name
    echoed = [(c.get("scheme"), c.get("term")) for c in feed.findall(ATOM + "category")]
    assert echoed == list(params.items())
    entries = feed.findall(ATOM + "entry")
    assert entries
    for entry in entries:
        link = entry.find(ATOM + "link[@rel='alternate']")
        assert link.get("type") == "text/html" and link.get("hreflang") == "en" and link.get("title")
        assert link.get("href").startswith("http://testserver/topics/")
        assert entry.find(ATOM + "summary").get("type") == "html"
        (category,) = entry.findall(ATOM + "category")
        assert category.get("scheme") == MATCH_SCHEME and category.get("term") == "exact"
        assert "M06.9" in category.get("label") and "Rheumatoid arthritis" in category.get("label")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].link.startswith("http://testserver/topics/")
    assert "strength: low" in parsed.entries[0].summary  # the claim about RA, with its evidence strength


def test_the_json_answer_has_medlineplus_connects_shape_with_arrays(client):
    body = ask(
        client,
        {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9"},
        knowledgeResponseType="application/json",
    ).json()
    assert_json_shape(body)
    atom = check(ask(client, {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9"}).content)
    same = [
        (e.find(ATOM + "id").text, e.find(ATOM + "category").get("term"), e.find(ATOM + "category").get("label"))
        for e in atom.findall(ATOM + "entry")
    ]
    assert same == [
        (e["id"]["_value"], e["category"][0]["term"], e["category"][0]["label"]) for e in body["feed"]["entry"]
    ]


def test_both_icd10cm_releases_we_hold_find_multiple_sclerosis(client):
    for code in ("G35", "G35.D", "g35.d", "G35D"):
        found = matches(as_json(client, {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": code}))
        assert found and {level for _, level, _ in found} == {"exact"}, code
        assert all("Multiple sclerosis" in label for *_, label in found)


@pytest.mark.parametrize(
    ("code", "level_label"),
    [
        ("G35.A", "ICD-10-CM G35: Multiple sclerosis"),  # relapsing-remitting MS (FY2026) -> G35
        ("M06.00", "ICD-10-CM M06: Rheumatoid arthritis"),  # -> M06.0 (nothing) -> M06, which holds M06.9
        ("M06.011", "ICD-10-CM M06: Rheumatoid arthritis"),  # a deeper one walks further
        ("M06.0ZZ", "ICD-10-CM M06: Rheumatoid arthritis"),  # not in the release: walked up by its prefix
    ],
)
def test_a_child_code_falls_back_to_its_nearest_ancestor_with_content(client, code, level_label):
    found = matches(as_json(client, {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": code}))
    assert found
    assert {(level, label) for _, level, label in found} == {("ancestor-code", level_label)}


def test_the_ancestor_walk_stops_at_the_category_never_a_block(client, seeded_db):
    # M05.9 shares the block M05-M14 with rheumatoid arthritis' M06.9, but not its category.
    feed = as_json(client, {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M05.9"})
    assert feed["entry"] == []


def test_a_snomed_request_climbs_our_hierarchy_when_nothing_more_specific_matched(client):
    # Crohn's disease: coded, but no content is about it alone -> inflammatory bowel disease.
    found = matches(as_json(client, {"mainSearchCriteria.v.cs": SNOMEDCT, "mainSearchCriteria.v.c": "34000006"}))
    assert found and {(level, label) for _, level, label in found} == {
        ("broader-condition", "Inflammatory bowel disease")
    }
    exact = matches(as_json(client, {"mainSearchCriteria.v.cs": SNOMEDCT, "mainSearchCriteria.v.c": "69896004"}))
    assert exact and {level for _, level, _ in exact} == {"exact"}
    mesh = matches(as_json(client, {"mainSearchCriteria.v.cs": MESH, "mainSearchCriteria.v.c": "D009103"}))
    assert mesh and {level for _, level, _ in mesh} == {"exact"}


def test_a_spanish_request_is_answered_in_english_and_says_so(client):
    params = {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9"}
    feed = check(ask(client, params, **{"informationRecipient.languageCode.c": "es"}).content)
    assert feed.get(XML_LANG) == "en"
    echoed = {(c.get("scheme"), c.get("term")) for c in feed.findall(ATOM + "category")}
    assert ("informationRecipient.languageCode.c", "es") in echoed
    links = feed.findall(f"{ATOM}entry/{ATOM}link[@rel='alternate']")
    assert links and {link.get("hreflang") for link in links} == {"en"}


def test_several_criteria_are_answered_together_ranked_without_duplicates(client):
    params = [
        ("mainSearchCriteria.v.cs", SNOMEDCT),
        ("mainSearchCriteria.v.c", "34000006"),  # broader-condition: the IBD topic
        ("mainSearchCriteria.v.cs1", ICD10CM),
        ("mainSearchCriteria.v.c1", "M06.9"),  # exact: the same topic
        ("mainSearchCriteria.v.cs2", ICD10CM),
        ("mainSearchCriteria.v.c2", "A04.7"),  # exact: the FMT topic, through its claim
    ]
    found = matches(as_json(client, params))
    slugs = [slug for slug, _, _ in found]
    assert len(slugs) == len(set(slugs))
    assert set(slugs) == {"microbiome-imbalance-autoimmune-link", "fecal-microbiota-transplantation"}
    assert [LEVELS.index(level) for _, level, _ in found] == sorted(LEVELS.index(level) for _, level, _ in found)
    assert dict((s, level) for s, level, _ in found)["microbiome-imbalance-autoimmune-link"] == "exact"


def test_free_text_only_goes_through_synonyms_then_search(client):
    synonym = matches(as_json(client, {"mainSearchCriteria.v.dn": "Leaky  Gut"}))
    assert synonym and {level for _, level, _ in synonym} == {"synonym"}
    assert "Increased intestinal permeability" in synonym[0][2]
    text = matches(as_json(client, {"mainSearchCriteria.v.ot": "fermented foods"}))
    assert text and {level for _, level, _ in text} == {"text"}
    assert "diet-and-lifestyle" in [slug for slug, _, _ in text]
    # A code we do not hold falls back to its display name.
    fallback = matches(
        as_json(
            client,
            {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "Z99.89", "mainSearchCriteria.v.dn": "RA"},
        )
    )
    assert fallback and fallback[0][1] == "synonym" and "Rheumatoid arthritis" in fallback[0][2]


def test_extra_hl7_parameters_are_accepted_and_echoed(client):
    params = [
        ("mainSearchCriteria.v.cs", ICD10CM),
        ("mainSearchCriteria.v.c", "M06.9"),
        ("mainSearchCriteria.v.dn", "Rheumatoid arthritis"),
        ("performer", "PROV"),
        ("encounter.c.c", "AMB"),
        ("holder.assignedEntity.n", "Dr. Example"),
        ("informationRecipient.healthCareProvider.c.c", "200000000X"),
        ("informationRecipient", "PAT"),
        ("taskContext.c.c", "PROBLISTREV"),
        ("patientPerson.administrativeGenderCode.c", "F"),
        ("age.v.v", "45"),
        ("age.v.u", "a"),
        ("ageGroup.v.c", "D000328"),
    ]
    feed = as_json(client, params)
    assert [(c["scheme"], c["term"]) for c in feed["category"]] == params + [
        ("knowledgeResponseType", "application/json")
    ]
    assert feed["entry"]


@pytest.mark.parametrize(
    "params",
    [
        {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "Z00.00"},  # no content under Z00
        {"mainSearchCriteria.v.cs": "2.16.840.1.113883.6.103", "mainSearchCriteria.v.c": "714.0"},  # ICD-9-CM
        {"mainSearchCriteria.v.cs": "2.16.840.1.113883.6.88", "mainSearchCriteria.v.c": "161"},  # RxNorm
        {"mainSearchCriteria.v.cs": "2.16.840.1.113883.6.1", "mainSearchCriteria.v.c": "4548-4"},  # LOINC
        {"mainSearchCriteria.v.cs": "1.2.3.4.5", "mainSearchCriteria.v.c": "M06.9"},  # an OID we do not know
    ],
)
def test_no_match_is_a_200_with_no_entries_and_the_request_echoed(client, params):
    response = ask(client, params)
    assert response.status_code == 200
    feed = check(response.content)
    assert feed.findall(ATOM + "entry") == []
    assert [(c.get("scheme"), c.get("term")) for c in feed.findall(ATOM + "category")] == list(params.items())
    assert not feedparser.parse(response.content).bozo


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "mainSearchCriteria.v.c"),
        ({"performer": "PROV"}, "mainSearchCriteria.v.c"),
        ({"mainSearchCriteria.v.c": "M06.9"}, "mainSearchCriteria.v.cs"),
        ({"mainSearchCriteria.v.c1": "M06.9", "mainSearchCriteria.v.cs": ICD10CM}, "mainSearchCriteria.v.cs1"),
        ({"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9<x>"}, "mainSearchCriteria.v.c"),
        ({"mainSearchCriteria.v.dn": "RA", "knowledgeResponseType": "application/pdf"}, "knowledgeResponseType"),
        (
            {"mainSearchCriteria.v.dn": "RA", "informationRecipient.languageCode.c": "e s"},
            "informationRecipient.languageCode.c",
        ),
        ({"mainSearchCriteria.v.dn": "x" * 501}, "mainSearchCriteria.v.dn"),
    ],
)
def test_bad_core_parameters_are_422_problems_naming_the_parameter(client, params, field):
    response = ask(client, params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


# ---- properties --------------------------------------------------------------------------------------

REQUESTS = [
    {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "G35.A"},
    {"mainSearchCriteria.v.cs": SNOMEDCT, "mainSearchCriteria.v.c": "34000006", "subTopic.v.c": "Q000628"},
    {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "A04.7", "informationRecipient": "PROV"},
    {"mainSearchCriteria.v.dn": "leaky gut", "informationRecipient.languageCode.c": "es"},
]


def _recased(name: str, rng: random.Random) -> str:
    return "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in name)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(range(len(REQUESTS))), seed=st.integers(0, 2**32 - 1))
def test_names_match_in_any_case_and_order(client, which, seed):
    rng = random.Random(seed)
    items = list(REQUESTS[which].items())
    plain = matches(as_json(client, items))
    shuffled = [(_recased(name, rng), value) for name, value in items]
    rng.shuffle(shuffled)
    assert matches(as_json(client, shuffled)) == plain


CODES = st.sampled_from(["M06.9", "M06.00", "G35", "G35.A", "G35.D", "K50.90", "K51.90", "A04.7", "Z00.00", "Q99"])
SYSTEMS = st.sampled_from([ICD10CM, ICD10CM, SNOMEDCT, MESH, "2.16.840.1.113883.6.103"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(criteria=st.lists(st.tuples(CODES, SYSTEMS), min_size=1, max_size=4))
def test_any_set_of_criteria_gives_arrays_unique_entries_and_a_valid_feed(client, criteria):
    params = []
    for n, (code, system) in enumerate(criteria):
        suffix = str(n) if n else ""
        params += [(f"mainSearchCriteria.v.c{suffix}", code), (f"mainSearchCriteria.v.cs{suffix}", system)]
    body = ask(client, params, knowledgeResponseType="application/json").json()
    assert_json_shape(body)
    ids = [e["id"]["_value"] for e in body["feed"]["entry"]]
    assert len(ids) == len(set(ids))
    atom = ask(client, params)
    check(atom.content)
    assert not feedparser.parse(atom.content).bozo
    assert [e.find(ATOM + "id").text for e in check(atom.content).findall(ATOM + "entry")] == ids


# ---- narrowing, escaping, form posts, caching, limits, cost -------------------------------------------


def test_the_therapy_subtopic_narrows_to_therapy_content(client):
    params = {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "A04.7"}
    broad = matches(as_json(client, params))
    narrow = as_json(client, {**params, "subTopic.v.c": "Q000628"})
    assert narrow["entry"] and {s for s, _, _ in matches(narrow)} <= {s for s, _, _ in broad}
    assert [c for c in narrow["category"] if c["scheme"] == "subTopic.v.c"] == [
        {"scheme": "subTopic.v.c", "term": "Q000628"}
    ]
    for entry in narrow["entry"]:
        slug = entry["id"]["_value"].removeprefix(TOPIC_TAG)
        topic = client.get(f"/v1/topics/{slug}").json()
        claims = [client.get(f"/v1/claims/{c['id']}").json() for c in topic["claims"]]
        assert topic["therapies"] or any(c["therapies"] for c in claims)


def test_content_is_escaped_in_every_format(seeded_db):
    hostile = '<script>alert(1)</script> & "quoted"'
    with writing(seeded_db, "test") as writer:
        writer.put(
            "claim",
            "hostile-ra-claim",
            ClaimIn(
                topic="microbiome-imbalance-autoimmune-link",
                text=hostile,
                source_excerpt=hostile,
                conditions=["rheumatoid-arthritis"],
                evidence=Evidence(kind="background", strength="very-low"),
            ),
        )
    with client_for(seeded_db) as client:
        params = {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9"}
        atom = ask(client, params)
        summary = check(atom.content).find(f"{ATOM}entry/{ATOM}summary").text
        assert "&lt;script&gt;" in summary and "<script>" not in summary
        html = ask(client, params, knowledgeResponseType="text/html").text
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        page = client.get("/topics/microbiome-imbalance-autoimmune-link").text
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


def test_a_form_post_answers_like_the_get(client):
    params = {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "G35.A", "performer": "PROV"}
    got = as_json(client, params)
    posted = client.post(
        "/v1/infobutton",
        content=urlencode({**params, "knowledgeResponseType": "application/json"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200
    assert matches(posted.json()["feed"]) == matches(got)
    assert posted.json()["feed"]["category"] == got["category"]
    other = client.post(
        "/v1/infobutton",
        content=urlencode({"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "A04.7"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert other.status_code == 200 and other.headers["etag"] != posted.headers["etag"]
    repeated = client.post(  # a POST is never a 304, whatever it sends
        "/v1/infobutton",
        content=urlencode({"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "A04.7"}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "If-None-Match": other.headers["etag"]},
    )
    assert repeated.status_code == 200 and repeated.content == other.content
    assert "fecal-microbiota-transplantation" in other.text
    wrong = client.post("/v1/infobutton", json=params)
    assert wrong.status_code == 415 and wrong.headers["content-type"] == "application/problem+json"
    missing = client.post(
        "/v1/infobutton", content="performer=PROV", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "mainSearchCriteria.v.c"


def test_a_form_post_over_the_body_limit_is_a_413(client):
    body = urlencode({"mainSearchCriteria.v.dn": "RA", "performer": "x" * (1024 * 1024 + 1)})
    response = client.post(
        "/v1/infobutton", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"


def test_answers_are_cached_with_etags_and_their_updated_is_the_contents(client, seeded_db):
    params = {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9"}
    first = ask(client, params)
    assert first.headers["etag"] and "public" in first.headers["cache-control"]
    again = client.get(first.url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert first.headers["RateLimit-Limit"]
    updated = check(first.content).find(ATOM + "updated").text
    assert check(ask(client, params).content).find(ATOM + "updated").text == updated
    with writing(seeded_db, "test") as writer:  # new content: a new ETag, and `updated` moves to it
        writer.put(
            "claim",
            "new-ra-claim",
            ClaimIn(
                topic="microbiome-imbalance-autoimmune-link",
                text="A new claim about rheumatoid arthritis.",
                source_excerpt="A new claim.",
                conditions=["rheumatoid-arthritis"],
                evidence=Evidence(kind="background", strength="very-low"),
            ),
        )
    changed = client.get(first.url, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    assert check(changed.content).find(ATOM + "updated").text > updated


def test_answers_are_rate_limited_like_every_public_read(seeded_db):
    with client_for(seeded_db, rate_limit_anonymous="3/minute") as client:
        params = {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.9"}
        statuses = [ask(client, params).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]


def test_the_cost_of_an_answer_does_not_grow_with_the_content(seeded_db):
    from sqlalchemy import event

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SELECT PG_ADVISORY")):
            seen.append(statement)

    requests = [
        {"mainSearchCriteria.v.cs": ICD10CM, "mainSearchCriteria.v.c": "M06.00"},
        {"mainSearchCriteria.v.cs": SNOMEDCT, "mainSearchCriteria.v.c": "34000006"},
        {"mainSearchCriteria.v.dn": "RA"},
    ]

    def costs() -> list[int]:
        out = []
        with client_for(
            seeded_db, response_cache_entries=0, webhook_worker=False
        ) as client:  # no background polls counted
            ask(client, requests[0])  # the code tables are loaded
            for params in requests:
                seen.clear()
                assert ask(client, params).status_code == 200
                out.append(len(seen))
        return out

    event.listen(seeded_db.engine, "before_cursor_execute", count)
    try:
        before = costs()
        with writing(seeded_db, "test") as writer:
            for n in range(12):
                writer.put(
                    "topic",
                    f"ra-topic-{n}",
                    TopicIn(
                        source="gut-microbiome-autoimmune",
                        title=f"RA topic {n}",
                        summary="About rheumatoid arthritis.",
                        body="Text.",
                        conditions=["rheumatoid-arthritis"],
                    ),
                )
                for m in range(10):
                    writer.put(
                        "claim",
                        f"ra-claim-{n}-{m}",
                        ClaimIn(
                            topic=f"ra-topic-{n}",
                            text=f"Claim {m} about rheumatoid arthritis.",
                            source_excerpt="Claim.",
                            conditions=["rheumatoid-arthritis"],
                            evidence=Evidence(kind="background", strength="very-low"),
                        ),
                    )
        after = costs()
    finally:
        event.remove(seeded_db.engine, "before_cursor_execute", count)
    assert after == before, (before, after)
    assert max(after) <= 40, after
