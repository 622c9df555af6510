"""JSON-LD: every single record answers `Accept: application/ld+json` with schema.org, and a JSON-LD
processor (pyld, with the schema.org context served offline) keeps the types and properties."""

import pytest
from pyld import jsonld as ld

from app.content import jsonld
from tests.test_search import write

SCHEMA = "https://schema.org/"
LD = {"Accept": "application/ld+json"}


def offline_loader(url, options=None):
    """The schema.org context without the network: every term is a schema.org term."""
    if url.rstrip("/") in ("https://schema.org", "http://schema.org"):
        return {"contextUrl": None, "documentUrl": url, "document": {"@context": {"@vocab": SCHEMA}}}
    raise AssertionError(f"a test tried to fetch {url}")


def expand(document):
    [node] = ld.expand(document, {"documentLoader": offline_loader})
    return node


def types(node):
    return {t.removeprefix(SCHEMA) for t in node.get("@type", [])}


def prop(node, name):
    return node.get(SCHEMA + name, [])


def value(node, name):
    return [v["@value"] for v in prop(node, name) if "@value" in v]


def get_ld(client, path):
    response = client.get(path, headers=LD)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    return expand(response.json())


def test_a_condition_is_a_medical_condition_with_a_medical_code_per_system(client):
    node = get_ld(client, "/v1/conditions/rheumatoid-arthritis")
    assert types(node) == {"MedicalCondition"}
    assert node["@id"].endswith("/v1/conditions/rheumatoid-arthritis")
    assert value(node, "name") == ["Rheumatoid arthritis"]
    assert "RA" in value(node, "alternateName")
    codes = {(value(c, "codingSystem")[0], value(c, "codeValue")[0]) for c in prop(node, "code")}
    assert all(types(c) == {"MedicalCode"} for c in prop(node, "code"))
    assert codes == {("ICD-10-CM", "M06.9"), ("MeSH", "D001172"), ("SNOMED-CT", "69896004")}


THERAPY_TYPES = [
    ("probiotics", "DietarySupplement"),
    ("prebiotics", "DietarySupplement"),
    ("dietary-supplements", "DietarySupplement"),
    ("high-fibre-diet", "LifestyleModification"),
    ("physical-activity", "LifestyleModification"),
    ("fecal-microbiota-transplantation", "MedicalTherapy"),
    ("precision-medicine", "MedicalTherapy"),
]


def test_a_therapy_takes_the_schema_org_type_of_its_therapy_type(client):
    for slug, kind in THERAPY_TYPES:
        node = get_ld(client, f"/v1/therapies/{slug}")
        assert types(node) == {kind}, slug
        assert value(node, "name")


def test_an_expert_is_a_person_with_job_title_affiliation_and_credentials(client):
    node = get_ld(client, "/v1/experts/houshang-aminian")
    assert types(node) == {"Person"}
    assert value(node, "name") == ["Houshang Aminian"]
    assert value(node, "jobTitle")
    [affiliation] = prop(node, "affiliation")
    assert types(affiliation) == {"Organization"} and value(affiliation, "name")
    [credential] = prop(node, "hasCredential")
    assert value(credential, "name") == ["MD"]


def test_a_claim_has_its_text_appearance_and_author(client):
    node = get_ld(client, "/v1/claims/gut-microbiome-is-microbial-ecosystem")
    assert types(node) == {"Claim"}
    assert value(node, "text")
    [appearance] = prop(node, "appearance")
    assert types(appearance) == {"Quotation"} and value(appearance, "text")
    [page] = prop(appearance, "isPartOf")
    assert types(page) == {"MedicalWebPage"} and page["@id"].endswith("/v1/topics/gut-microbiome-immune-interaction")
    [author] = prop(node, "author")
    assert types(author) == {"Person"} and author["@id"].endswith("/v1/experts/shaili-gandhi")


def test_a_claim_is_about_its_conditions_and_therapies(client):
    claim = client.get("/v1/claims", params={"condition": "rheumatoid-arthritis", "limit": 1}).json()["items"][0]
    node = get_ld(client, f"/v1/claims/{claim['id']}")
    about = {t for item in prop(node, "about") for t in types(item)}
    assert "MedicalCondition" in about


def test_a_topic_is_a_medical_web_page_with_review_and_subjects(client, seeded_db):
    write(
        seeded_db,
        "topic",
        "probiotics-and-prebiotics",
        last_reviewed_at="2026-10-01",
        reviewed_by="Editorial board",
    )
    node = get_ld(client, "/v1/topics/probiotics-and-prebiotics")
    assert types(node) == {"MedicalWebPage"}
    assert value(node, "lastReviewed") == ["2026-10-01"]
    [reviewer] = prop(node, "reviewedBy")
    assert value(reviewer, "name") == ["Editorial board"]
    about = {t for item in prop(node, "about") for t in types(item)}
    assert "DietarySupplement" in about
    assert value(node, "text") and value(node, "abstract")


def test_quotes_and_sources_have_their_types(client):
    quote = get_ld(client, "/v1/quotes/aminian-fmt")
    assert types(quote) == {"Quotation"}
    assert types(prop(quote, "creator")[0]) == {"Person"}
    source = get_ld(client, "/v1/sources/gut-microbiome-autoimmune")
    assert types(source) == {"Article"} and value(source, "headline")


def test_every_resource_answers_json_ld(client):
    for plural in ("conditions", "therapies", "experts", "sources", "topics", "claims", "quotes"):
        item = client.get(f"/v1/{plural}", params={"limit": 1}).json()["items"][0]
        key = item.get("slug") or item.get("id")
        node = get_ld(client, f"/v1/{plural}/{key}")
        assert node["@id"].endswith(f"/v1/{plural}/{key}") and types(node)


def test_json_ld_has_its_own_etag_and_revalidates(client):
    path = "/v1/conditions/rheumatoid-arthritis"
    as_json, as_ld = client.get(path), client.get(path, headers=LD)
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.headers["etag"] != as_ld.headers["etag"]
    assert "Accept" in as_ld.headers["vary"]
    assert client.get(path, headers={**LD, "If-None-Match": as_ld.headers["etag"]}).status_code == 304
    assert client.get(path, headers={**LD, "If-None-Match": as_json.headers["etag"]}).status_code == 200


@pytest.mark.parametrize(
    ("accept", "wants_ld"),
    [
        ("application/ld+json", True),
        ("application/ld+json, application/json;q=0.9", True),
        ("application/json, application/ld+json;q=0.5", False),
        ("*/*", False),
        (None, False),
        ("application/ld+json;q=0", False),
        ("application/ld+json;q=bogus", False),
        ("text/html, application/ld+json", True),
    ],
)
def test_accept_negotiation(accept, wants_ld):
    assert jsonld.wanted(accept) is wants_ld


def test_unknown_key_is_still_a_problem(client):
    response = client.get("/v1/conditions/gout", headers=LD)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
