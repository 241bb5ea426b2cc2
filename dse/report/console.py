"""Terminal output: human-readable numbers and tables (rich), plain when not on a terminal."""

from __future__ import annotations

import json
import sys


def console():
    """A rich Console on the current stdout; wide and colourless when it is not a terminal."""
    from rich.console import Console

    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if tty else 160, no_color=not tty, highlight=False,
                   soft_wrap=not tty)


def _numeric(cell: str) -> bool:
    try:
        float(cell.replace(",", "").split(" ")[0])
        return True
    except ValueError:
        return False


def table(title, columns, rows):
    """Print a table: ``columns`` names, ``rows`` lists of cells (str() applied); numbers right-aligned."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    rows = [[str(x) for x in r] for r in rows]
    for i, c in enumerate(columns):
        right = bool(rows) and all(_numeric(r[i]) for r in rows)
        last_text = i == len(columns) - 1 and not right  # a too-wide table wraps its last text column (a reason)
        t.add_column(c, justify="right" if right else "left", no_wrap=not last_text)
    for r in rows:  # as text: a cell's [brackets] (an interval, a TOML section) are not rich markup
        t.add_row(*[Text(x) for x in r])
    console().print(t)


def say(text: str = "") -> None:
    print(text, flush=True)


def print_json(obj) -> None:
    print(json.dumps(obj))
