"""Search knows British and American spellings, and returns therapies (and conditions) as hits of their own."""

from breame.spelling import BRITISH_ENGLISH_SPELLINGS
from hypothesis import given
from hypothesis import strategies as st

from app.search.terms import Vocabulary, parse
from tests.test_editing import make_key

EMPTY = Vocabulary((), {}, 0)


def hits(client, q, **params):
    response = client.get("/v1/search", params={"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def found(client, q, **params):
    return {(h["resource"], h["key"]) for h in hits(client, q, **params)}


def test_fibre_and_fiber_find_the_same_hits(client):
    fibre, fiber = found(client, "fibre"), found(client, "fiber")
    assert fibre == fiber
    assert ("claim", "fibre-fermented-polyphenol-diet-supports-gut-bacteria") in fibre
    assert ("therapy", "high-fibre-diet") in fibre
    assert ("topic", "diet-and-lifestyle") in fibre  # its body says "fiber" only


def test_faecal_finds_what_fecal_finds(client):
    faecal = found(client, "faecal microbiota")
    assert faecal == found(client, "fecal microbiota")
    assert ("therapy", "fecal-microbiota-transplantation") in faecal
    assert ("topic", "fecal-microbiota-transplantation") in faecal


@given(st.sampled_from(sorted(BRITISH_ENGLISH_SPELLINGS.items())))
def test_every_spelling_pair_of_the_table_finds_both(pair):
    british, american = pair
    if british.isalpha() and american.isalpha():
        from_british, from_american = parse(british, EMPTY)[0], parse(american, EMPTY)[0]
        assert from_british[0] == (british,) and (american,) in from_british
        # Several British spellings may share one American one (anaesthetise, anaesthetize): it finds them all.
        assert from_american[0] == (american,) and (british,) in from_american
        assert set(from_american) <= set(from_british) | {
            (b,) for b, a in BRITISH_ENGLISH_SPELLINGS.items() if a == american
        }


def test_medical_spellings_are_known_both_ways():
    for british, american in [
        ("fibre", "fiber"),
        ("faecal", "fecal"),
        ("oesophagus", "esophagus"),
        ("haemorrhage", "hemorrhage"),
        ("anaemia", "anemia"),
        ("paediatric", "pediatric"),
    ]:
        assert parse(british, EMPTY) == [[(british,), (american,)]]
        assert parse(american, EMPTY) == [[(american,), (british,)]]


def test_therapies_are_hits_with_their_own_snippets(client):
    by_key = {(h["resource"], h["key"]): h for h in hits(client, "probiotics")}
    hit = by_key[("therapy", "probiotics")]
    assert hit["title"] == "Probiotics" and hit["url"] == "/v1/therapies/probiotics"
    assert "<mark>" in hit["snippet"]
    assert ("condition", "dysbiosis") in found(client, "dysbiosis")


def test_filters_restrict_therapy_hits_as_the_therapy_list_does(client):
    diet_therapies = {t["slug"] for t in client.get("/v1/therapies", params={"therapy_type": "diet"}).json()["items"]}
    therapy_hits = {key for resource, key in found(client, "diet", therapy_type="diet") if resource == "therapy"}
    assert therapy_hits and therapy_hits <= diet_therapies
    named = {key for resource, key in found(client, "foods", therapy="fermented-foods") if resource == "therapy"}
    assert named == {"fermented-foods"}


def test_a_draft_therapy_is_not_found(client, seeded_db):
    editor = make_key(seeded_db)
    body = {"slug": "kombucha-draft", "name": "Kombucha zymurgy", "type": "diet"}
    assert client.post("/v1/therapies", json=body, headers=editor).status_code == 201
    assert not found(client, "zymurgy")
    client.patch("/v1/therapies/kombucha-draft", json={"status": "published"}, headers=editor)
    assert found(client, "zymurgy") == {("therapy", "kombucha-draft")}
