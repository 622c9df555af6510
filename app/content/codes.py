"""Codes checked against their systems. Every write of a condition or therapy (the editors' API and the
importer alike, through the write shape) passes each of its codes through `check`, which refuses what the
system does not hold and returns the code as stored: its release (`version`), its name in the system, and
`checked_against`, the release it was checked against.

- ICD-10-CM: CMS's tables as `simple-icd-10-cm` ships them (`icd10cm.release()`, e.g. FY2026), and for the
  release before it (FY2025) a shipped list of its codes (`icd10cm_fy2025.tsv.gz`). An unknown code is
  refused; a category or subcategory that cannot be billed is refused unless the record marks it
  deliberately as a category; each is checked in the release it names (G35 is billable in FY2025, a
  category in FY2026). A code naming an older release must still be in the packaged one; whether it could
  be billed in its own release is not checked.
- MeSH: NLM's topical descriptors of the year the shipped table names (`mesh_descriptors.tsv.gz`, made by
  `scripts/generate_mesh_table.py`); the name given must be the descriptor's name.
- SNOMED CT: the edition must be named and the identifier's check digit (Verhoeff) must hold. No SNOMED CT
  release can be fetched or shipped here, so a concept's existence is not verified: `checked_against` is null.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from stdnum import verhoeff

from app.content import icd10cm

MESH_FILE = Path(__file__).with_name("mesh_descriptors.tsv.gz")
PREVIOUS_ICD10CM_FILE = Path(__file__).with_name("icd10cm_fy2025.tsv.gz")
_MESH_UI = re.compile(r"^D\d{6,9}$")
_SCTID = re.compile(r"^[1-9]\d{5,17}$")
_FISCAL_YEAR = re.compile(r"^FY(\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")
_lock = threading.Lock()


class CodeRefused(ValueError):
    """A code its system does not hold, or holds as something else; the message names the code."""


@dataclass(frozen=True)
class Checked:
    code: str
    version: str | None
    name: str | None
    checked_against: str | None


@dataclass(frozen=True)
class MeshTable:
    year: str
    names: dict[str, str]


@cache
def mesh() -> MeshTable:
    with _lock, gzip.open(MESH_FILE, "rt", encoding="utf-8") as lines:
        header = next(lines)
        found = re.search(r"MeSH (\d{4})", header)
        if not found:
            raise RuntimeError(f"{MESH_FILE.name} does not name its MeSH year")
        names = dict(line.rstrip("\n").split("\t", 1) for line in lines)
    return MeshTable(found.group(1), names)


def load() -> None:
    """Load every table a check reads (seconds, once per process), so no write pays for it."""
    icd10cm.load()
    previous_release()
    mesh()


def warm(around: Callable[[], AbstractContextManager[object]] = nullcontext) -> None:
    """`load` in the background (at start, so the first write does not wait), inside `around` (how the
    process keeps objects that live as long as it: `ops.heap.long_lived`)."""

    def run() -> None:
        with around():
            load()

    threading.Thread(target=run, name="code-tables-load", daemon=True).start()


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


@cache
def previous_release() -> tuple[str, dict[str, bool]]:
    """The release before the packaged one, shipped as a compact list (`scripts/generate_icd10cm_previous.py`):
    its name (`FY2025`) and, per code, whether it can be billed."""
    with gzip.open(PREVIOUS_ICD10CM_FILE, "rt", encoding="ascii") as lines:
        found = re.search(r"ICD-10-CM (FY\d{4})", next(lines))
        if not found:
            raise RuntimeError(f"{PREVIOUS_ICD10CM_FILE.name} does not name its release")
        codes = {code: flag == "1" for code, flag in (line.rstrip("\n").split("\t") for line in lines)}
    return found.group(1), codes


def _billing(code: str, release: str, billable: bool, category: bool) -> None:
    if not billable and not category:
        raise CodeRefused(
            f"icd10cm code {code!r} is a category in {release} and cannot be billed; give one of its "
            "codes, or mark it `category: true` if the category is meant"
        )
    if billable and category:
        raise CodeRefused(f"icd10cm code {code!r} is billable in {release}; it is not a category")


def _icd10cm(code: str, version: str | None, name: str | None, category: bool) -> Checked:
    dotted = icd10cm.normalise(code)
    release = icd10cm.release()
    version = version or release
    year = _FISCAL_YEAR.match(version)
    if not year:
        raise CodeRefused(f"icd10cm code {code!r}: version {version!r} is not a fiscal year such as {release}")
    if int(year.group(1)) > int(release[2:]):
        raise CodeRefused(f"icd10cm code {code!r}: release {version} is newer than the {release} tables here")
    previous, previous_codes = previous_release()
    if version == previous:  # checked against that release's own list
        if dotted is None or dotted not in previous_codes:
            raise CodeRefused(f"icd10cm code {code!r} is not in ICD-10-CM {previous}")
        _billing(code, previous, previous_codes[dotted], category)
        checked = previous
    else:  # the packaged release; an older one is checked for presence in it only
        if dotted is None or not icd10cm.in_release(dotted):
            raise CodeRefused(f"icd10cm code {code!r} is not in ICD-10-CM {release}")
        if version == release:
            _billing(code, release, icd10cm.is_billable(dotted), category)
        checked = release
    known = icd10cm.description(dotted) if icd10cm.in_release(dotted) else None
    if name is not None and known is not None and not _same_name(name, known):
        raise CodeRefused(f"icd10cm code {code!r} is {known!r} in {release}, not {name!r}")
    return Checked(dotted, version, name or known, checked)


def _mesh(code: str, version: str | None, name: str | None) -> Checked:
    table = mesh()
    if not _MESH_UI.match(code):
        raise CodeRefused(f"mesh code {code!r} is not a descriptor UI such as D001172")
    known = table.names.get(code)
    if known is None:
        raise CodeRefused(f"mesh code {code!r} is not a MeSH {table.year} descriptor")
    version = version or table.year
    found = _YEAR.match(version)
    if not found or int(found.group(1)) > int(table.year):
        raise CodeRefused(f"mesh code {code!r}: version {version!r} is not a MeSH year up to {table.year}")
    if name is not None and not _same_name(name, known):
        raise CodeRefused(f"mesh code {code!r} is {known!r} in MeSH {table.year}, not {name!r}")
    return Checked(code, version, known, f"MeSH {table.year}")


def _snomedct(code: str, version: str | None, name: str | None) -> Checked:
    if not _SCTID.match(code) or not verhoeff.is_valid(code):
        raise CodeRefused(f"snomedct code {code!r} is not a SNOMED CT identifier (its check digit fails)")
    if not version:
        raise CodeRefused(f"snomedct code {code!r}: name its edition as `version` (e.g. International)")
    return Checked(code, version, name, None)


def check(system: str, code: str, version: str | None, name: str | None, category: bool) -> Checked:
    """The code as it is stored, or `CodeRefused` naming it."""
    if category and system != "icd10cm":
        raise CodeRefused(f"{system} code {code!r}: only ICD-10-CM codes can be marked as a category")
    if system == "icd10cm":
        return _icd10cm(code, version, name, category)
    if system == "mesh":
        return _mesh(code, version, name)
    if system == "snomedct":
        return _snomedct(code, version, name)
    raise CodeRefused(f"unknown code system {system!r}")
