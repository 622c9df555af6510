"""What a clinician relies on in data/: the source's hedges and strength kept in every claim, summaries that
say nothing their body does not, evidence kinds that follow the vocabulary, complete diet and topic links."""

import re

import pytest
import yaml

from tests.conftest import DATA_DIR

SOURCE_FILE = DATA_DIR / "sources" / "gut-microbiome-autoimmune.yaml"

# Words that set how sure a sentence is. A class of them in a claim's excerpt must survive in its text:
# "can lead to" may become "can", never a flat statement; "revolutionizing" is not softened to "changing".
HEDGES = {
    "possibility": {"can", "may", "might", "could", "potential", "potentially", "possible", "possibly"},
    "promise": {"promise", "promising", "hope"},
    "association": {"associated", "association", "linked", "link"},
    "contribution": {"contribute", "contributes", "contributing"},
    "suggestion": {"suggest", "suggests", "suggested"},
    "ongoing": {"being", "ongoing", "emerging", "exploring", "explored"},
}
STRENGTH = {
    "revolution": {"revolutionizing", "revolutionising"},
    "instrumental": {"instrumental"},
    "vast": {"vast"},
    "pivotal": {"pivotal"},
    "profound": {"profound"},
    "crucial": {"crucial"},
    "significant": {"significant", "significantly"},
    "essential": {"essential"},
}

# Words that carry no claim of their own, left out when a summary is compared with its body.
_STOP_WORDS = """a an and or the of in on to for with by as at from into its it is are be been has have that this
these their them they which who whose such through than then there so also not no well beyond up out"""
STOP = frozenset(re.findall(r"[a-z]+", _STOP_WORDS))


@pytest.fixture(scope="module")
def article():
    return yaml.safe_load(SOURCE_FILE.read_text(encoding="utf-8"))


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def classes(text: str, table: dict[str, set[str]]) -> set[str]:
    found = words(text)
    return {name for name, members in table.items() if found & members}


@pytest.mark.parametrize("table", [HEDGES, STRENGTH], ids=["hedges", "strength"])
def test_every_claim_keeps_the_hedges_and_strength_of_its_excerpt(article, table):
    lost = {
        claim["id"]: sorted(classes(claim["source_excerpt"], table) - classes(claim["text"], table))
        for claim in article["claims"]
    }
    assert not {key: missing for key, missing in lost.items() if missing}


def test_the_hedge_comparison_catches_a_flattened_claim():
    """The check above fails on the defect it was written for: the leaky-gut claims as they first stood."""
    excerpt = "Imbalances in gut bacteria can lead to increased intestinal permeability, allowing harmful substances"
    flat = "A leaky gut lets harmful substances into the bloodstream."
    assert classes(excerpt, HEDGES) - classes(flat, HEDGES) == {"possibility"}
    assert classes("is revolutionizing the approach", STRENGTH) - classes("is changing how", STRENGTH)


def stem(word: str) -> str:
    for suffix in ("ies", "es", "s", "ed", "ing", "al", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def test_no_topic_summary_says_what_its_body_does_not(article):
    """Every word of a summary that carries meaning is in the body, or names one of the topic's conditions
    or therapies (by name or synonym): a summary may shorten its body, not add to it ("early" trials)."""
    conditions = {c["slug"]: c for c in yaml.safe_load((DATA_DIR / "conditions.yaml").read_text())["conditions"]}
    therapies = {t["slug"]: t for t in yaml.safe_load((DATA_DIR / "therapies.yaml").read_text())["therapies"]}
    added = {}
    for topic in article["topics"]:
        allowed = {stem(w) for w in words(topic["body"])}
        for record in [conditions[s] for s in topic["conditions"]] + [therapies[s] for s in topic["therapies"]]:
            for name in [record["name"], *record["synonyms"]]:
                allowed |= {stem(w) for w in words(name)}
        extra = sorted(w for w in words(topic["summary"]) - STOP if len(w) > 1 and stem(w) not in allowed)
        if extra:
            added[topic["slug"]] = extra
    assert not added


EVIDENCE_WORDS = {
    "clinical-trials": ("clinical trials have shown",),
    "studies": ("studies have", "associated with", "linked to"),
    "ongoing-research": ("being explored", "being studied", "being developed", "exploring", "ongoing", "emerging"),
}


def test_evidence_kind_follows_the_words_that_name_it(article):
    """The vocabulary (data/README.md) maps the source's words to a kind; `stated_as` holds those words."""
    wrong = {}
    for claim in article["claims"]:
        stated = (claim["evidence"]["stated_as"] or "").lower()
        expected = [kind for kind, phrases in EVIDENCE_WORDS.items() if any(p in stated for p in phrases)]
        if stated and expected and claim["evidence"]["kind"] not in expected:
            wrong[claim["id"]] = (claim["evidence"]["kind"], expected)
        if claim["evidence"]["kind"] in ("studies", "clinical-trials"):
            assert claim["evidence"]["strength"] == "low", claim["id"]  # names support, cites none
    assert not wrong


def test_every_condition_and_therapy_of_a_topics_claims_is_the_topics_too(article):
    topics = {t["slug"]: t for t in article["topics"]}
    missing = {}
    for claim in article["claims"]:
        topic = topics[claim["topic"]]
        for field in ("conditions", "therapies"):
            gap = set(claim[field]) - set(topic[field])
            if gap:
                missing[(claim["id"], field)] = sorted(gap)
    assert not missing


def test_dietary_supplements_are_not_tagged_where_the_article_means_probiotics():
    """The `dietary-supplement` type is defined as other than probiotics and prebiotics."""
    article = yaml.safe_load(SOURCE_FILE.read_text(encoding="utf-8"))
    therapies = {t["slug"]: t for t in yaml.safe_load((DATA_DIR / "therapies.yaml").read_text())["therapies"]}
    for record in article["claims"] + article["topics"]:
        linked = {therapies[s]["type"] for s in record["therapies"]}
        if "dietary-supplement" in linked:
            assert not {"probiotic", "prebiotic"} & linked, record.get("id") or record["slug"]


def test_what_the_article_names_only_as_harmful_is_an_exposure_not_a_treatment():
    therapies = {t["slug"]: t for t in yaml.safe_load((DATA_DIR / "therapies.yaml").read_text())["therapies"]}
    assert therapies["antibiotics"]["type"] == "exposure"


def test_things_the_diet_section_names_together_are_a_claim_each(article):
    """Stress and activity are a claim each; so processed foods and antibiotic use are too."""
    for pair in (("processed foods", "antibiotic"), ("stress", "physical activity")):
        both = [c["id"] for c in article["claims"] if all(p in c["text"].lower() for p in pair)]
        assert not both, pair


DIET_WORDS = re.compile(r"\b(diet|dietary|food|foods|fiber|fibre|nutrition|polyphenols)\b", re.IGNORECASE)


def test_the_diet_query_finds_every_claim_whose_words_are_about_diet(client, article):
    """`?therapy_type=diet` reaches every excerpt that speaks of diet, food or nutrition, and nothing else
    (the excerpt is the article's own words, so this is judged from the text, not from our tags). Where
    one excerpt is split into several claims (processed foods; antibiotic use), one of them is enough."""
    got = {c["id"] for c in client.get("/v1/claims", params={"therapy_type": "diet", "limit": 100}).json()["items"]}
    excerpts = {c["id"]: c["source_excerpt"] for c in article["claims"]}
    about_diet = {text for text in excerpts.values() if DIET_WORDS.search(text)}
    assert about_diet == {excerpts[key] for key in got}
    assert {"diet-and-lifestyle-shape-gut-microbiome", "processed-foods-can-disrupt-microbial-balance"} <= got


def test_fmt_and_probiotic_topics_carry_dysbiosis_as_their_claims_do(client):
    for slug in ("fecal-microbiota-transplantation", "probiotics-and-prebiotics"):
        topic = client.get(f"/v1/topics/{slug}").json()
        assert "dysbiosis" in [c["slug"] for c in topic["conditions"]], slug
