"""Write the tables the docs show from their registries (a test keeps the docs equal to them):
docs/findings.md's criteria from dse.analysis.findings.FINDINGS.

    python scripts/docs_tables.py          # rewrite them in place
    python scripts/docs_tables.py --check  # exit 1 when a table differs from its registry
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tables() -> dict:
    """{(file, marker): the table's Markdown}."""
    from dse.analysis.findings import criteria_table

    return {("docs/findings.md", "criteria"): criteria_table(),
            ("docs/findings.md", "criteria-sr"): criteria_table("sr"),
            ("docs/findings.md", "criteria-denoise"): criteria_table("denoise")}


def updated(text: str, marker: str, table: str) -> str:
    """``text`` with the lines between ``<!-- MARKER: ... -->`` and ``<!-- end MARKER -->`` replaced by ``table``."""
    pat = re.compile(rf"(<!-- {marker}:[^\n]*-->\n)(.*?)(<!-- end {marker} -->)", re.S)
    if not pat.search(text):
        raise SystemExit(f"no <!-- {marker}: ... --> ... <!-- end {marker} --> block")
    return pat.sub(lambda m: m.group(1) + table + m.group(3), text)


def main(argv) -> int:
    stale = []
    for (name, marker), table in tables().items():
        path = ROOT / name
        text = path.read_text()
        new = updated(text, marker, table)
        if new != text:
            stale.append(name)
            if "--check" not in argv:
                path.write_text(new)
    if stale:
        print(("differ from their registries: " if "--check" in argv else "rewrote ") + ", ".join(stale))
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
