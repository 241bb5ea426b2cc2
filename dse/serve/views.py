"""What ``dse serve`` answers: the views, one table (``ROUTES``), each a function of the store's ``Views`` and its
declared query parameters, checked by the same Checks as the library's keywords (``dse.params``).

A new view is one entry: its path, content type, query parameters ({name: Check}), and the function that computes
its body through the Study's public methods (the page's script reads the JSON ones).

    >>> sorted(ROUTES)[:3]
    ['/', '/api/edf', '/api/edf.svg']
"""

from __future__ import annotations

import html
import os
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from dse.errors import DseError, ParamError
from dse.tasks import task_of
from dse.params import Check, Choice, Int, Names
from dse.validate import STATUSES

POWER_REPS = 500          # the power view's simulated studies per n (a light look; dse power does the full one)
HEAVY_EVERY_S = 30.0      # figures, the power simulation and report sections are recomputed at most this often


class Bad(Exception):
    """A bad request: (HTTP status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Views:
    """The server's views of one store, each computed through the Study and cached until the store changes."""

    def __init__(self, study, heavy_every: float = HEAVY_EVERY_S):
        self.study = study
        self.path = Path(study.path)
        self.heavy_every = heavy_every
        self._cache, self._lock = {}, threading.Lock()
        self._compute = threading.RLock()  # one view computed at a time (a view may read another: re-entrant)

    def version(self) -> str:
        """A token that changes whenever the store is written (the file's and its WAL's size and time)."""
        parts = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(f"{self.path}{suffix}")
                parts.append(f"{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                parts.append("-")
        return "/".join(parts)

    def get(self, key: tuple, compute, heavy: bool = False):
        """``compute()`` once per store version for ``key``; a ``heavy`` view (a figure, a simulation, a report
        section) at most once every ``heavy_every`` seconds, the last one served meanwhile."""
        v = self.version()
        with self._lock:
            hit = self._cache.get(key)
        if hit and (hit[0] == v or (heavy and time.monotonic() - hit[2] < self.heavy_every)):
            return hit[1]
        with self._compute:
            with self._lock:  # computed by another request while this one waited?
                hit = self._cache.get(key)
            if hit and hit[0] == v:
                return hit[1]
            out = compute()
        with self._lock:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (v, out, time.monotonic())
        return out

    def sweeps(self, names, least: int = 1, most: int | None = None) -> list[str]:
        """The sweeps a request names (each one the store holds), or, named none, every trained sweep (budget-check's
        copies left out); between ``least`` and ``most`` of them."""
        known = self.get(("names",), self.study.sweeps)
        unknown = [n for n in names or [] if n not in known]
        if unknown:
            raise Bad(400, f"unknown sweep {unknown[0]!r}; known: {', '.join(known)}")
        if not names:
            names = [p["sweep"] for p in self.progress()["sweeps"] if p["source"] != "budget" and p["done"] >= 2]
        if len(names) < least or (most and len(names) > most):
            raise Bad(400, f"sweeps: give {least}{f' to {most}' if most and most != least else ''} sweep names "
                           f"(sweeps=a,b), or none for every trained sweep")
        return list(names)

    def progress(self):
        return self.get(("progress",), self.study.progress)

    def health(self) -> None:
        """Raises Bad(503) with the store's own words when it cannot be read now (missing, damaged, locked)."""
        try:
            self.get(("health",), lambda: self.study.status() and None)
        except DseError as e:
            raise Bad(503, str(e)) from None


@dataclass(frozen=True)
class View:
    """One route: its content type, declared query parameters, and ``body(views, query, rest)`` (``rest``: the path
    after a prefix route's ``/``, e.g. a section's id) -> bytes, str, or an object sent as JSON."""

    ctype: str
    body: Callable
    query: dict = field(default_factory=dict)
    help: str = ""
    prefix: bool = False  # the route is a path prefix (/api/section/ID)


def _read(check: Check, raw: str, key: str):
    """A query parameter's text as the value its Check judges: a number for Int, a list for Names."""
    inner = getattr(check, "inner", check)
    if isinstance(inner, Names):
        return [x for x in raw.split(",") if x]
    if isinstance(inner, Int):
        try:
            return int(raw)
        except ValueError:
            raise ParamError(f"{{{key}}}: {raw[:40]!r} is not an integer", key) from None
    return raw


def query(view: View, q: dict) -> dict:
    """The view's declared query parameters as checked values (absent: not in the dict); others are ignored (the
    page adds a cache-busting ``v``)."""
    out = {}
    for key, check in view.query.items():
        if key in q:
            out[key] = check.check(_read(check, q[key][-1], key), key)
    return out


def _page_file(name: str) -> str:
    return resources.files("dse.serve").joinpath(name).read_text(encoding="utf-8")


def _svg(result) -> str:
    from dse.report.html import svg

    return svg(result)


def _edf(v: Views, names):
    return v.get(("edf", tuple(names)), lambda: v.study.edf(names))


def _models(v: Views, q, rest):
    names = v.sweeps(q["sweeps"]) if "sweeps" in q else None
    df = v.get(("models", tuple(names or ())), lambda: v.study.models(names))
    rows = df.to_dict("records")
    if q.get("status"):
        rows = [r for r in rows if r.get("status") == q["status"]]
    return {"columns": list(df.columns), "rows": rows}


def _model(v: Views, q, rest):
    sweep = v.sweeps(q.get("sweeps"), 1, 1)[0]
    if "id" not in q:
        raise Bad(400, "id: give the model's id (id=3)")
    idx = q["id"]
    recs = {m.idx: m for m in v.get(("records", sweep), lambda: v.study.records(sweep))}
    if idx not in recs:
        raise Bad(400, f"sweep {sweep!r} has no model {idx}")
    m = recs[idx]
    ep = v.get(("epochs", sweep), lambda: v.study.epochs([sweep]))
    rows = ep[ep.id == idx].drop(columns=["sweep", "id"]).to_dict("records")
    t = task_of(v.get(("sweep", sweep), lambda: v.study.sweep(sweep)).regime)  # what error holds (an SR: PSNR)
    return {"sweep": sweep, "id": idx, "status": m.status, "error": m.error, "best_error": m.best_error,
            "measure": t.metric.name, "unit": t.metric.unit, "arch": m.arch.to_dict(), "flops": m.flops,
            "params": m.params, "acts": m.acts, "settings": m.settings,
            "reason": m.reason, "epochs": rows}


def _sections():
    from dse.api.report import SECTIONS

    return SECTIONS


def _section(v: Views, q, sid):
    """A section of dse report, computed as the report computes it (one source for a figure and its numbers)."""
    from dse.api.report import ReportContext

    found = [s for s in _sections() if s.id == sid]
    if not found:
        raise Bad(404, f"no section {sid[:40]!r}; sections: {', '.join(s.id for s in _sections())}")
    sec = found[0]
    names = v.sweeps(q["sweeps"]) if "sweeps" in q else None

    def render():
        pops = {n: v.study.population(n) for n in (names or [p["sweep"] for p in v.progress()["sweeps"]
                                                             if p["source"] != "budget"])}
        c = ReportContext(v.study, list(pops), {n: v.study.sweep(n) for n in pops}, pops=pops, metric="final",
                          named=names is not None)
        body = sec.render(c)
        return f"<h2>{html.escape(sec.title)}</h2>" + (body if body is not None else
                                                       "<p class=muted>Nothing to show yet.</p>")
    return v.get(("section", sid, tuple(names or ())), render, heavy=True)


def _edf_svg(v: Views, q, rest):
    names = v.sweeps(q.get("sweeps"))
    return v.get(("edf.svg", tuple(names)), lambda: _svg(_edf(v, names)), heavy=True)


def _power(v: Views, q, rest):
    names, reps = v.sweeps(q.get("sweeps"), 2, 2), q.get("reps", POWER_REPS)
    return v.get(("power", tuple(names), reps), lambda: v.study.power(names, reps=reps), heavy=True).to_json()


def _css(v: Views, q, rest):
    from dse.report.html import CSS

    return CSS + _page_file("page.css")


def _meta(v: Views, q, rest):
    """What the page's script lists without retyping it: the model statuses, the report's sections (id, title, and
    whether the page shows it live or on demand)."""
    return {"statuses": list(STATUSES),
            "sections": [{"id": s.id, "title": s.title, "live": s.live} for s in _sections() if s.live]}


SWEEPS = Names()
JSON, HTML, SVG = "application/json", "text/html; charset=utf-8", "image/svg+xml"
ROUTES: dict[str, View] = {
    "/": View(HTML, lambda v, q, rest: _page_file("page.html"), help="the page"),
    "/index.html": View(HTML, lambda v, q, rest: _page_file("page.html"), help="the page"),
    "/page.js": View("text/javascript; charset=utf-8", lambda v, q, rest: _page_file("page.js"),
                     help="the page's script (the Content Security Policy allows no inline script)"),
    "/page.css": View("text/css; charset=utf-8", _css, help="the report's style sheet and the page's own"),
    "/api/version": View(JSON, lambda v, q, rest: {"version": v.version()}, help="changes whenever the store does"),
    "/api/meta": View(JSON, _meta, help="statuses and report sections, for the page's script"),
    "/api/status": View(JSON, lambda v, q, rest: v.progress(),
                         help="what dse status --json prints, with rates, time left and the running models"),
    "/api/edf": View(JSON, lambda v, q, rest: _edf(v, v.sweeps(q.get("sweeps"))).to_json(), {"sweeps": SWEEPS},
                     help="dse edf --compare --json: the EDFs, their bands and the KS tests"),
    "/api/edf.svg": View(SVG, _edf_svg, {"sweeps": SWEEPS}, help="the EDF figure"),
    "/api/power": View(JSON, _power, {"sweeps": SWEEPS, "reps": Int(100, 5000)},
                       help="dse power --compare --json, from the models trained so far"),
    "/api/undertraining": View(JSON, lambda v, q, rest: {n: u.to_json() for n, u in v.get(
        ("under",), v.study.undertraining, heavy=True).items()}, help="each sweep's undertraining signals"),
    "/api/models": View(JSON, _models, {"sweeps": SWEEPS, "status": Choice(STATUSES)},
                        help="the model table (dse export's columns), filtered"),
    "/api/model": View(JSON, _model, {"sweeps": SWEEPS, "id": Int(0, 2**63 - 1)},
                       help="one model: its settings and training curve"),
    "/api/section": View(HTML, lambda v, q, rest: _section(v, q, rest), {"sweeps": SWEEPS}, prefix=True,
                         help="/api/section/ID: a section of dse report"),
}


def find(path: str) -> tuple[View, str]:
    """(the view of ``path``, the rest after a prefix route); Bad(404) for any other path."""
    if path in ROUTES and not ROUTES[path].prefix:
        return ROUTES[path], ""
    head, _, rest = path.rpartition("/")
    if head in ROUTES and ROUTES[head].prefix:
        return ROUTES[head], rest
    api = ", ".join(p + ("/ID" if r.prefix else "") for p, r in ROUTES.items() if p.startswith("/api/"))
    raise Bad(404, f"no such page; the API: {api}")


def answer(views: Views, path: str, q: dict) -> tuple[str, object]:
    """(content type, body) of a GET: the route's view with its query checked (ParamError when a value is bad)."""
    view, rest = find(path)
    return view.ctype, view.body(views, query(view, q), rest)
