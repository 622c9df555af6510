"""data/ holds the seed article faithfully: every verbatim field is in the text, and the counts hold."""

import hashlib

import pytest
import yaml

from tests.conftest import DATA_DIR, SEED_TEXT

SOURCE_FILE = DATA_DIR / "sources" / "gut-microbiome-autoimmune.yaml"
TEXT_FILE = DATA_DIR / "sources" / "gut-microbiome-autoimmune.txt"


@pytest.fixture(scope="module")
def article():
    return yaml.safe_load(SOURCE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def text():
    return TEXT_FILE.read_text(encoding="utf-8")


def test_the_shipped_text_is_the_seed_article_byte_for_byte():
    if not SEED_TEXT.exists():
        pytest.skip(f"the shared seed is not beside this checkout ({SEED_TEXT.name})")
    assert TEXT_FILE.read_bytes() == SEED_TEXT.read_bytes()


def test_the_source_names_its_text_by_hash(article):
    assert article["source"]["text_sha256"] == hashlib.sha256(TEXT_FILE.read_bytes()).hexdigest()


def test_every_verbatim_field_is_found_in_the_text(article, text):
    verbatim = [("topic", t["slug"], t[f]) for t in article["topics"] for f in ("title", "body")]
    verbatim += [("claim", c["id"], c["source_excerpt"]) for c in article["claims"]]
    verbatim += [("quote", q["id"], q["text"]) for q in article["quotes"]]
    experts = yaml.safe_load((DATA_DIR / "experts.yaml").read_text(encoding="utf-8"))["experts"]
    verbatim += [("expert", e["slug"], e["described_as"]) for e in experts]
    missing = [(kind, key) for kind, key, value in verbatim if value not in text]
    assert not missing


def test_every_section_is_a_topic_in_order(article, text):
    headings = [line[:-1] for line in text.splitlines() if line.endswith(":") and len(line) < 120]
    assert [t["title"] for t in sorted(article["topics"], key=lambda t: t["position"])] == headings


def test_the_article_is_split_into_many_claims_each_resting_on_its_topic(article):
    bodies = {t["slug"]: t["body"] for t in article["topics"]}
    assert len(article["claims"]) >= 25
    for claim in article["claims"]:
        assert claim["source_excerpt"] in bodies[claim["topic"]], claim["id"]
        assert claim["evidence"]["citations"] == []  # the article cites nothing
        assert claim["evidence"]["strength"] in ("low", "very-low")


def test_every_quoted_expert_is_there(article):
    experts = {e["slug"]: e for e in yaml.safe_load((DATA_DIR / "experts.yaml").read_text())["experts"]}
    names = {e["name"] for e in experts.values()}
    assert {"Shaili Gandhi", "Houshang Aminian", "Vrushali Gersappe", "Lia Huynh"} <= names
    assert {q["expert"] for q in article["quotes"]} == set(experts)
    for expert in experts.values():
        assert expert["specialties"], expert["slug"]


def test_condition_codes_are_the_checked_ones():
    conditions = {c["slug"]: c for c in yaml.safe_load((DATA_DIR / "conditions.yaml").read_text())["conditions"]}

    def codes(slug):
        return {(c["system"], c["code"]) for c in conditions[slug]["codes"]}

    assert {("icd10cm", "M06.9"), ("mesh", "D001172")} <= codes("rheumatoid-arthritis")
    assert {("icd10cm", "G35"), ("mesh", "D009103")} <= codes("multiple-sclerosis")
    assert ("mesh", "D015212") in codes("inflammatory-bowel-disease")
    assert {("icd10cm", "K50.90"), ("mesh", "D003424")} <= codes("crohns-disease")
    assert {("icd10cm", "K51.90"), ("mesh", "D003093")} <= codes("ulcerative-colitis")
    assert conditions["crohns-disease"]["parent"] == "inflammatory-bowel-disease"
    assert conditions["inflammatory-bowel-disease"]["parent"] == "autoimmune-disorders"
