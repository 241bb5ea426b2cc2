"""The HTML of a self-contained report: tables, figures (inline SVG), a page of sections, no external links.
The sections themselves (``dse.api.report``) compute through the Study's public methods; this module only
writes HTML."""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone

from dse import __version__

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:1.2em 1.6em;color:#1d2330;background:#fff;line-height:1.45}
h1{font-size:1.7em;margin:.2em 0}
h2{font-size:1.3em;margin-top:1.8em;border-bottom:2px solid #e3e7ef;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.2em 0 .4em} table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{padding:.3em .7em;border-bottom:1px solid #e3e7ef;text-align:right} th{background:#f4f6fa}
td:first-child,th:first-child,.t{text-align:left} .fig svg{max-width:100%;height:auto} .muted{color:#667}
nav a{margin-right:1em} .yes{color:#17803d;font-weight:600} .no{color:#a33}
"""


def svg(result) -> str:
    """A result's figure as inline SVG."""
    buf = io.StringIO()
    result.figure().savefig(buf, format="svg")  # figure() has laid itself out tightly: no second draw pass
    s = buf.getvalue()
    return s[s.index("<svg"):]


def _isnum(c) -> bool:
    try:
        float(str(c).replace(",", "").split("/")[0])
        return True
    except ValueError:
        return str(c) == ""


def table(cols, rows, raw_cols=()) -> str:
    """An HTML table; numeric columns right-aligned, text left."""
    num = [all(_isnum(r[i]) for r in rows) for i in range(len(cols))]
    al = lambda i: "" if num[i] else " class=t"  # noqa: E731
    head = "".join(f"<th{al(i)}>{html.escape(str(c))}</th>" for i, c in enumerate(cols))
    body = "".join("<tr>" + "".join(f"<td{al(i)}>{c if i in raw_cols else html.escape(str(c))}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def fmt(v, spec=".2f") -> str:
    """A number formatted, or '' for None."""
    return "" if v is None else format(v, spec)


def regimes(t) -> list[str]:
    """The regime labels of a TrendsResult, in order of flops."""
    from dse.units import regime_label

    return [regime_label(f) for f in sorted({r.flops for s in t.series for r in s.regimes})]


def cells(s, labels) -> list[str]:
    """A series' 'median [low, high]' under each regime label ('' where it has none)."""
    from dse.units import regime_label

    by = {regime_label(r.flops): r for r in s.regimes}
    return [f"{by[k].median:.4g} [{by[k].low:.4g}, {by[k].high:.4g}]" if k in by else "" for k in labels]


def verdict(v: str) -> str:
    cls = {"grows": "yes", "shrinks": "no", "yes": "yes", "no": "no", "ok": "yes", "flagged": "no"}.get(v, "muted")
    return f'<span class="{cls}">{html.escape(v)}</span>'


def muted(text: str) -> str:
    return f"<p class=muted>{text}</p>"


def figure(result) -> str:
    return f'<div class="fig">{svg(result)}</div>'


def page(subtitle: str, sections: list) -> str:
    """The whole document: a header line and ``sections`` [(id, title, html)] with a navigation bar."""
    nav = "".join(f'<a href="#{i}">{html.escape(t)}</a>' for i, t, _ in sections)
    parts = "".join(f'<section id="{i}"><h2>{html.escape(t)}</h2>{b}</section>' for i, t, b in sections)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>dse report</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
            f"<h1>dse report</h1><p class=muted>{subtitle} &middot; {when} &middot; dse {__version__}</p>"
            f"<nav>{nav}</nav>{parts}</body></html>")
