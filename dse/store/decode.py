"""Rows as the store reads them back: JSON columns decoded and checked for shape, so a damaged row is said to
be damaged (``StoreDamaged``) instead of failing somewhere later."""

from __future__ import annotations

import json
import math
import shlex
import sqlite3
from pathlib import Path

from dse.errors import DseError, StoreDamaged
from dse.models.arch import Arch
from dse.store.records import Fit, ModelRecord
from dse.store.schema import MODEL_COLUMNS
from dse.tasks import TASKS
from dse.validate import is_number
from dse.validate import SOURCES, STATUSES, STEMS, parse_budget, shown



def _import_options(r: dict) -> str:
    """The dse import options that count a table at regime ``r`` (a low-level export's columns say its task)."""
    if "resolution" not in r:  # SR, denoising: counted at the task's output; the channels alone
        return f"--in-channels {r['in_channels']}"
    return (f"--resolution {r['resolution']} --stem {r['stem']} --in-channels {r['in_channels']} --num-classes "
            f"{r['num_classes']}")


def _fixed_network(name, task_name: str) -> bool:
    """Whether ``name`` is a fixed low-level network (FSRCNN, DnCNN) of task ``task_name``."""
    from dse.models.lowlevel import LOWLEVEL_REFERENCES

    ref = LOWLEVEL_REFERENCES.get(name) if isinstance(name, str) else None
    return ref is not None and ref.fixed and ref.task == task_name


def _sweep_shape(d: dict) -> str | None:
    """What is wrong with a sweep row's decoded JSON (regime, protocol, space), or None."""
    r = d["regime"] or {}
    f = r.get("flops")
    if not (isinstance(f, list) and len(f) == 2 and all(is_number(x) for x in f)):
        return "column regime has no flops window [lo, hi]"
    t = TASKS.get(r.get("task", "classify")) if isinstance(r.get("task", "classify"), str) else None
    if t is None:
        return f"column regime holds task {shown(r.get('task'))}; known: {', '.join(TASKS)}"
    low = t.name != "classify"  # a low-level task's regime has no resolution, stem or classes (dse.params)
    for k in ("in_channels",) if low else ("resolution", "in_channels", "num_classes"):
        if not (isinstance(r.get(k), int) and r[k] >= 1):
            return f"column regime has no positive integer {k}"
    if not low and r.get("stem") not in STEMS:
        return f"column regime has no stem ({' or '.join(STEMS)})"
    for k, allowed in t.options.items():
        if k == "scale" and r.get(k) not in allowed or k == "sigma" and not (is_number(r.get(k)) and r[k] > 0):
            return f"column regime holds {k} {shown(r.get(k))}, not {t.a} {k}"
    if "network" in r and not _fixed_network(r["network"], t.name):
        return f"column regime holds network {shown(r['network'])}, not a fixed {t.name} network"
    p = d["protocol"]
    if p is not None and not (all(isinstance(p.get(k, ""), str) for k in ("budget", "dataset"))
                              and all(is_number(p.get(k, 0)) for k in ("lr", "momentum", "weight_decay",
                                                                       "batch_size"))):
        return "column protocol holds a budget or dataset that is not text, or optimiser settings that are not numbers"
    if p is not None and p.get("budget") is not None:
        try:
            parse_budget(p["budget"])
        except DseError:
            return f"column protocol holds budget {shown(p['budget'])}, which is not a budget (Nep or Nit)"
    sp = d["space"]
    if sp is not None and not (sp.get("family") in ("anynet", "regnet") and isinstance(sp.get("params"), dict)):
        return "column space is not a space definition (family and params)"
    if "source" in d and d["source"] not in SOURCES:
        return f"column source is {shown(d['source'])}; a sweep is {', '.join(SOURCES)}"
    return None


_INTS = ("idx", "flops", "params", "acts", "train_flops", "train_params", "train_acts", "epochs", "attempts")
_REALS = ("error", "best_error", "train_seconds", "images_per_s")


def _record(sweep: str, r) -> ModelRecord:
    """A models row as a ModelRecord: the arch and the extra JSON (sampled RegNet parameters, fit) decoded. A row
    that does not decode (corrupt JSON, text in a number column, an unknown status) raises StoreDamaged."""
    d = dict(r)
    where = f"sweep {sweep!r}, model {d.get('idx')!r}"
    for k in _INTS + _REALS:
        v = d.get(k)
        if v is not None and (isinstance(v, (str, bytes)) or (k in _INTS and not isinstance(v, int))
                              or not math.isfinite(v) or v < 0):
            raise StoreDamaged(f"{where}: column {k} holds {v!r}, not a number >= 0")
    for k in ("error", "best_error"):
        if d.get(k) is not None and d[k] > 100:
            raise StoreDamaged(f"{where}: column {k} holds {d[k]!r}, not a top-1 error in % (0..100)")
    if d.get("status") not in STATUSES:
        raise StoreDamaged(f"{where}: column status holds {d.get('status')!r}; known: {', '.join(STATUSES)}")
    decode_errors = (ValueError, TypeError, KeyError, AttributeError)
    try:
        raw = d.pop("extra")
        extra = json.loads(raw) if raw else {}
        if not isinstance(extra, dict) or any(not isinstance(extra.get(k) or {}, dict)
                                               for k in ("regnet", "fit", "settings", "trained")):
            raise ValueError("not a JSON object of objects")
        if any(not is_number(v) for v in (extra.get("settings") or {}).values()):
            raise ValueError("a sampled setting is not a number")
        fit = Fit.from_dict(extra["fit"]) if extra.get("fit") else None
    except decode_errors as e:
        raise StoreDamaged(f"{where}: column extra does not decode ({e})") from None
    try:
        arch = Arch.from_dict(json.loads(d["arch"]))
    except decode_errors as e:
        raise StoreDamaged(f"{where}: column arch does not decode ({e})") from None
    rp = {k: d.pop(k) for k in ("w0", "wa", "wm")}
    rp = {k: v for k, v in rp.items() if v is not None} | (extra.get("regnet") or {})
    for k in ("stages", "depth", "se"):
        d.pop(k)
    d["arch"] = arch
    return ModelRecord(sweep=sweep, regnet=rp or None, fit=fit, settings=extra.get("settings"),
                       trained=extra.get("trained"), **d)


def _fit_dict(f) -> dict | None:
    return f.to_dict() if isinstance(f, Fit) else f


def _extra(d: dict) -> str | None:
    d = {k: v for k, v in d.items() if v}
    return json.dumps(d) if d else None


def salvage(path) -> str:
    """What of a damaged store can still be read, and how to save it (one sentence or two)."""
    try:
        con = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            names = [r[0] for r in con.execute("SELECT name FROM sweeps ORDER BY created, rowid")]
        except sqlite3.Error:
            return "Its sweeps cannot be read; restore a backup (or try `sqlite3 FILE .recover`)."
        good = {}
        for n in names:
            try:
                rows = con.execute(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE sweep = ?", (n,))
                for r in rows.fetchall():
                    _record(n, dict(zip(MODEL_COLUMNS, r)))
                row = con.execute("SELECT regime, protocol, space FROM sweeps WHERE name = ?", (n,)).fetchone()
                d = {k: json.loads(v) if v else None for k, v in zip(("regime", "protocol", "space"), row)}
                if not all(v is None or isinstance(v, dict) for v in d.values()) or _sweep_shape(d):
                    raise ValueError("sweep row")
                good[n] = d["regime"]
            except (sqlite3.Error, DseError, ValueError, TypeError, KeyError, AttributeError):
                pass
        con.close()
    except sqlite3.Error:
        return "Nothing in it can be read; restore a backup."
    if not good:
        return "No sweep in it reads whole; restore a backup (or try `sqlite3 FILE .recover`)."
    bad = [n for n in names if n not in good]
    q = shlex.quote
    steps = [f"dse export --sweep {q(n)} --db {q(str(path))} -o {q(n + '.csv')}; dse import {q(n + '.csv')} --sweep "
             f"{q(n)} --db new.sqlite " + _import_options(r) for n, r in list(good.items())[:3]]
    return (f"Sweeps that still read whole: {', '.join(good)}" + (f" (not: {', '.join(bad)})" if bad else "")
            + "; save each into a new store: " + " ; ".join(steps) + (" ; and so on" if len(good) > 3 else "") + ".")
