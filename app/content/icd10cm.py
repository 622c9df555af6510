"""ICD-10-CM as CMS publishes it: whether a code is in the release and billable (for checking codes on every
write), and its ancestors in the code system, nearest first, from the three-character category down, never a
block or a chapter (for the Infobutton's fallback).

The tables are CMS's, as the maintained `simple-icd-10-cm` package ships them. Loading them takes a few
seconds, so they are loaded once per process, on first use (or by `warm()` in the background at start).
A code the release does not hold (a newer or a mistyped one) is walked up by its own prefix the same way:
M06.00X -> M06.00 -> M06.0 -> M06."""

from __future__ import annotations

import re
import threading
import warnings
from functools import cache
from types import ModuleType

_FORM = re.compile(r"^([A-Z][0-9][0-9A-Z])\.?([0-9A-Z]{0,4})$")
_lock = threading.Lock()


def normalise(code: str) -> str | None:
    """The dotted, upper-case form (m069 -> M06.9), or None when it cannot be an ICD-10-CM code."""
    match = _FORM.match(code.strip().upper())
    if not match:
        return None
    category, rest = match.groups()
    return f"{category}.{rest}" if rest else category


@cache
def _tables() -> ModuleType:
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the package reads its data with a legacy API
        import simple_icd_10_cm

        return simple_icd_10_cm


@cache
def release() -> str:
    """The fiscal year of the packaged tables (`FY2026`): CMS's year runs from October, so an April 2026
    update is FY2026 and an October 2025 release is FY2026 too. Read from the name of the package's code list."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from simple_icd_10_cm import simple_icd_10_cm as module

    found = re.search(
        r"(January|February|March|April|May|June|July|August|September|October|November|December)"
        r"-(\d{4})",
        module._all_codes_package_file_name,
    )
    if not found:
        raise RuntimeError("cannot tell the ICD-10-CM release of the installed tables")
    month, year = found.group(1), int(found.group(2))
    return f"FY{year + 1 if month in ('October', 'November', 'December') else year}"


def is_billable(code: str) -> bool:
    """A code a claim can carry: in the release and a leaf (a category or subcategory with children is not)."""
    tables = _tables()
    return tables.is_valid_item(code) and tables.is_leaf(code)


def load() -> None:
    _tables()


def warm() -> None:
    threading.Thread(target=load, name="icd10cm-load", daemon=True).start()


def in_release(code: str) -> bool:
    return _tables().is_valid_item(code)


def description(code: str) -> str | None:
    tables = _tables()
    return tables.get_description(code) if tables.is_valid_item(code) else None


def _prefixes(code: str) -> list[str]:
    """M06.00X -> [M06.00, M06.0, M06]: shorter and shorter, down to the category."""
    category, _, rest = code.partition(".")
    out = [f"{category}.{rest[:n]}" for n in range(len(rest) - 1, 0, -1)]
    return [*out, category] if rest else []


def ancestors(code: str) -> list[str]:
    """Ancestor codes, nearest first, down to the three-character category (never a block or a chapter)."""
    dotted = normalise(code)
    if dotted is None:
        return []
    tables = _tables()
    if tables.is_valid_item(dotted):
        found = [tables.add_dot(a) for a in tables.get_ancestors(dotted) if tables.is_category_or_subcategory(a)]
        return [a for a in found if a != dotted]
    return _prefixes(dotted)
