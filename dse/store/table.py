"""Flat tables of models (one row per model) for export and import: CSV, or Parquet with pyarrow."""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import sys
from pathlib import Path


from dse.errors import DseError, write_error
from dse.models.arch import DEFAULT_BLOCK, STAGE_FIELDS, STEM_WIDTH, Arch, Design
from dse.models.blocks import BLOCK_TYPES, STEM_TYPES, ensure_plugins
from dse.models.complexity import complexity_many
from dse.validate import (ACTIVATIONS, COUNTS, DESIGN_CHOICES, IMPORT_STATUSES, MAX_BATCH, MAX_EPOCHS, MAX_SEED,
                          MAX_STAGE_DEPTH,
                          MAX_WIDTH)
from dse.validate import SETTINGS as LIMITS
from dse.tasks import TASKS, task_of
from dse.models.precision import PRECISION_SETTINGS

HEAD = ("sweep", "id", "space", "stages")
TAIL = ("depth", "se", "w0", "wa", "wm", "flops", "params", "acts", "status", "error", "best_error",
        "epochs", "train_seconds")
FIT = ("e_fit", "fit_w0", "fit_wa", "fit_wm")  # the RegNet fit (dse fit), empty until fitted
# design choices: the activation; the resolution the counts are at; the optimiser settings it trained with
# (else sampled, else the sweep's protocol; empty when neither is known yet)
SETTINGS = DESIGN_CHOICES  # activation, resolution, lr, wd, momentum, batch_size, bits (dse.validate)
PRECISION = PRECISION_SETTINGS  # written when a model has them (empty: float, ends at 8 bits)


def setting_cells(m, regime: dict | None, protocol: dict | None) -> dict:
    """The SETTINGS columns of one model record (``ModelRecord.used``)."""
    return {k: m.used(k, regime, protocol) for k in SETTINGS}
SPEED = ("images_per_s", "infer_ms", "train_ms", "speed_device", "speed_batch")  # training throughput, dse speed


def most_measured_batch(recs) -> int | None:
    """The batch size most of these timings were taken at (ties: 64, then the smaller); None if none."""
    counts = {}
    for r in recs:
        counts[r.batch] = counts.get(r.batch, 0) + 1
    return max(counts, key=lambda b: (counts[b], b == 64, -b)) if counts else None


def speed_columns(store, sweeps, device: str | None = None) -> tuple[str | None, dict]:
    """The timings export carries, of one device (default: the most measured): (device, {(sweep, idx):
    {"infer_ms", "train_ms", "speed_batch"}}), each mode at its most measured batch on that device."""
    devices = [d for d, _ in store.speed_devices()]
    if device is None:
        device = devices[0] if devices else None
    elif device not in devices:
        raise DseError(f"no timings on device {device!r}; measured: {', '.join(devices) or 'none (run dse speed)'}")
    out = {}
    if device is None:
        return None, out
    recs = store.speeds(sweeps, device)
    for mode in ("infer", "train"):
        batch = most_measured_batch([r for r in recs if r.mode == mode])
        if batch is None:
            continue
        for r in recs:
            if r.mode == mode and r.batch == batch:
                out.setdefault((r.sweep, r.idx), {})[f"{mode}_ms"] = r.ms
                out[(r.sweep, r.idx)]["speed_batch"] = batch
    return device, out


def export_rows(store, sweeps, speed_device: str | None = None) -> tuple[list[str], list[dict]]:
    """Columns and rows for the given sweeps: per-stage d1..dS, w1..wS, b1..bS, g1..gS (paper's b), and the
    timings of one device (``speed_columns``)."""
    rows, smax, design_cols, task_cols = [], 0, {}, {}
    device, speeds = speed_columns(store, sweeps, speed_device)
    for name in sweeps:
        rec = store.sweep(name)
        space = rec.space_name
        for m in store.models(name):
            a: Arch = m.arch
            smax = max(smax, a.stages)
            r = {"sweep": name, "id": m.idx, "space": space, "stages": a.stages}
            for p in STAGE_FIELDS:
                for i, v in enumerate(a.stage(p)):
                    r[f"{p}{i + 1}"] = v
            r.update(depth=a.depth, se=int(a.se))
            if a.block != DEFAULT_BLOCK or a.design != Design(se=a.se):  # the columns of other designs, when used
                r.update(_design_cells(a))
                design_cols.update(r)
            r.update({k: getattr(m, k) for k in TAIL if k not in ("depth", "se")})
            r.update(setting_cells(m, rec.regime, rec.protocol))
            t = task_of(rec.regime)
            if t.low_level:  # the task, its scale or noise, and the result under its own name (error is kept too)
                r.update(task=t.name, scale=(rec.regime or {}).get("scale"), sigma=(rec.regime or {}).get("sigma"),
                         **{t.metric.name: m.error, f"best_{t.metric.name}": m.best_error})
                task_cols.update({"task": 1, "scale": 1, "sigma": 1, t.metric.name: 1, f"best_{t.metric.name}": 1})
                if (rec.regime or {}).get("network"):  # a fixed network (FSRCNN, DnCNN): its arch is its middle
                    r["network"] = rec.regime["network"]
                    task_cols["network"] = 1
            if m.fit:
                r.update(e_fit=m.fit.e_fit, fit_w0=m.fit.w0, fit_wa=m.fit.wa, fit_wm=m.fit.wm)
            r["images_per_s"] = m.images_per_s
            sp = speeds.get((name, m.idx))
            if sp:
                r.update(sp, speed_device=device)
            rows.append(r)
    extra = [c for c in DESIGN_COLUMNS if c in design_cols]
    extra += [f"{p}{i}" for p in DESIGN_STAGE for i in range(1, smax + 1) if f"{p}1" in design_cols]
    tail = list(TAIL)
    cols = (list(HEAD) + [f"{p}{i}" for p in STAGE_FIELDS for i in range(1, smax + 1)] + tail[:2] + extra
            + tail[2:] + list(task_cols) + [k for k in SETTINGS if k not in PRECISION or any(
                r.get(k) is not None for r in rows)] + list(FIT) + list(SPEED))
    return cols, rows


DESIGN_COLUMNS = ("block", "stem", "stem_w", "head_w")  # written when a sweep has a block or design other than X/Y
DESIGN_STAGE = ("k", "e", "s")  # kernels, expansions (blocks that use them), strides (when not all 2)


def _design_cells(a: Arch) -> dict:
    """The export cells of a network's block and design: block, stem, stem_w, head_w, k/e/s per stage."""
    r = {"block": a.block, "stem": a.stem or "", "stem_w": a.stem_w, "head_w": a.head_w}
    for p in DESIGN_STAGE:
        if p != "s" and p not in a.uses:
            continue
        r.update({f"{p}{i + 1}": v for i, v in enumerate(a.stage(p))})
    return r


def write_table(cols, rows, out) -> None:
    """Write to a .csv path, a .parquet path (needs pyarrow), or '-' / None for standard output."""
    if out and str(out) != "-" and str(out).endswith(".parquet"):
        df = _pandas_frame(cols, rows)
        try:
            df.to_parquet(out, index=False)
        except ImportError:
            raise DseError("writing Parquet needs pyarrow: pip install 'dse[parquet]' (or write a .csv)") from None
        except OSError as e:
            raise write_error(out, e) from None
        return
    try:
        f = sys.stdout if not out or str(out) == "-" else open(out, "w", newline="")
        try:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        finally:
            if f is not sys.stdout:
                f.close()
    except BrokenPipeError:  # the reader stopped (dse export | head): click exits quietly, as for any output
        raise
    except OSError as e:
        raise write_error(out, e) from None


def _pandas_frame(cols, rows):
    import pandas as pd

    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)


def check_table_file(path) -> Path:
    """A table we can read: an existing regular .csv or .parquet file (else a DseError saying why)."""
    path = Path(path)
    if not path.exists():
        raise DseError(f"cannot read {path}: no such file")
    if not path.is_file():  # a FIFO would block forever, /dev/zero never ends
        raise DseError(f"cannot read {path}: not a regular file (a folder, a device or a pipe)")
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise DseError(f"{path}: unknown table type {path.suffix or '(none)'!r}; dse reads .csv and .parquet files "
                       f"(save a spreadsheet as CSV first)")
    return path


def read_table(path) -> tuple[list[str], list[dict]]:
    """Columns and rows (strings, '' for empty) of a CSV or Parquet file."""
    path = check_table_file(path)
    if path.suffix.lower() == ".parquet":
        import pandas as pd

        try:
            df = pd.read_parquet(path)
        except ImportError:
            raise DseError("reading Parquet needs pyarrow: pip install 'dse[parquet]'") from None
        except Exception as e:  # pyarrow raises its own types (ArrowInvalid, ArrowIOError, OSError) for a bad file
            raise DseError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0][:200]})") from None
        df = df.astype(object).where(df.notna(), "")
        return list(df.columns), [{k: str(v) for k, v in r.items()} for r in df.to_dict("records")]
    try:
        with open(path, newline="") as f:
            rd = csv.DictReader(f)
            rows = list(rd)
            cols = list(rd.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as e:
        raise DseError(f"{path}: not a readable CSV file ({e})") from None
    except OSError as e:
        raise DseError(f"cannot read {path}: {e.strerror or e}") from None
    return cols, rows


STATUSES_IMPORTED = IMPORT_STATUSES


def import_rows(path, regime) -> tuple[list[dict], str, object]:
    """Models from a table trained elsewhere, the space name its ``space`` column gives ('imported' when absent
    or mixed), and the regime they are counted at (``regime``, or the task, scale and sigma the table's columns
    give: a super-resolution or denoising export); complexity is computed for every model and checked against
    the table's own counts. Every row is validated before anything is returned (all or nothing); an error names
    the file, line and column."""
    cols, rows = read_table(path)
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise DseError(f"{path}: column {dup[0]!r} appears more than once; each column must be given once")
    regime = _task_regime(path, rows, regime)
    measure = TASKS[regime.task].metric
    # the result: error (what export writes for every task), else the task's own column (psnr)
    res = "error" if "error" in cols or measure.name not in cols else measure.name
    stage_cols = [c for c in cols if re.fullmatch(r"[dwbgkes][1-9][0-9]*", c)]
    smax = max((int(c[1:]) for c in stage_cols), default=1)
    need = [f"{p}{i}" for i in range(1, smax + 1) for p in ("dw" if "block" in cols else "dwbg")] + [res]
    missing = [c for c in need if c not in cols]
    if missing:
        raise DseError(f"{path}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                       f"an imported table needs per-stage d1..dS, w1..wS (b1..bS, g1..gS for blocks with a "
                       f"bottleneck and groups: the X/Y block, the default) and error"
                       + (f" (or {measure.name})" if regime.low_level else ""))
    if not rows:
        raise DseError(f"{path}: no rows to import")
    sweeps = [x for x in dict.fromkeys((r.get("sweep") or "").strip() for r in rows) if x] if "sweep" in cols else []
    if len(sweeps) > 1:  # a whole-store export: its sweeps (and budget copies) are not one population
        shown = ", ".join(sweeps[:6]) + (f", ... ({len(sweeps)} in all)" if len(sweeps) > 6 else "")
        raise DseError(f"{path}: the sweep column names {len(sweeps)} sweeps ({shown}); a sweep is one population, "
                       f"so import them one at a time: export each with dse export --sweep NAME -o NAME.csv, then "
                       f"dse import NAME.csv --sweep NAME")
    out, given = [], []
    for n, r in enumerate(rows, start=2):  # line 1 is the header
        if None in r:  # csv.DictReader keeps the cells past the header's columns under None
            raise DseError(f"{path}, line {n}: {len(cols) + len(r[None])} values but the header names {len(cols)} "
                           f"columns")
        val = _Cells(path, n, r)
        filled = [bool((r.get(f"d{i}") or "").strip()) for i in range(1, smax + 1)]
        s = sum(filled)
        if not s or not all(filled[:s]):
            raise DseError(f"{path}, line {n}: the stages must be d1..dS without gaps (got d columns "
                           f"{[i + 1 for i, f in enumerate(filled) if f]})")
        for i in range(s + 1, smax + 1):
            extra = [f"{p}{i}" for p in "dwbgkes" if (r.get(f"{p}{i}") or "").strip()]
            if extra:
                raise DseError(f"{path}, line {n}: column {extra[0]} is set but d{i} is empty (the model has {s} "
                               f"stages)")
        stages = val("stages", int, False)
        if stages is not None and stages != s:
            raise DseError(f"{path}, line {n}: column stages = {stages} but the row has {s} stages (d1..d{s})")
        d, w = [val(f"d{i}", int) for i in range(1, s + 1)], [val(f"w{i}", int) for i in range(1, s + 1)]
        for col, v, top in [(f"d{i + 1}", x, MAX_STAGE_DEPTH) for i, x in enumerate(d)] + \
                           [(f"w{i + 1}", x, MAX_WIDTH) for i, x in enumerate(w)]:
            if not 1 <= v <= top:
                raise DseError(f"{path}, line {n}: column {col} = {v} is outside 1..{top}")
        act = (r.get("activation") or "").strip() or "relu"
        if act not in ACTIVATIONS:
            raise DseError(f"{path}, line {n}: column activation = {act!r} is unknown; allowed: "
                           f"{', '.join(ACTIVATIONS)} (or empty: relu)")
        block = (r.get("block") or "").strip() or DEFAULT_BLOCK
        if block not in ensure_plugins():
            raise DseError(f"{path}, line {n}: column block = {block!r} is unknown; registered: "
                           f"{', '.join(sorted(BLOCK_TYPES))} (or empty: {DEFAULT_BLOCK})")
        uses = BLOCK_TYPES[block].uses
        per = {p: tuple(val(f"{p}{i}", kind) for i in range(1, s + 1)) if p in uses else None
               for p, kind in (("b", float), ("g", int), ("k", int), ("e", float))}
        strides = [val(f"s{i}", int, False) for i in range(1, s + 1)]
        stem = (r.get("stem") or "").strip() or None
        if stem is not None and stem not in STEM_TYPES:
            raise DseError(f"{path}, line {n}: column stem = {stem!r} is unknown; allowed: {', '.join(STEM_TYPES)} (or "
                           f"empty: the regime's)")
        try:
            arch = Arch(tuple(d), tuple(w), per["b"], per["g"], se=bool(val("se", int, False) or 0), activation=act,
                        block=block, kernels=per["k"], expansions=per["e"],
                        strides=None if all(x is None for x in strides) else tuple(strides), stem=stem,
                        stem_w=val("stem_w", int, False) or STEM_WIDTH, head_w=val("head_w", int, False) or 0)
        except (ValueError, TypeError) as e:
            raise DseError(f"{path}, line {n}: {e}") from None
        bad = [i + 1 for i, (w_, b, g) in enumerate(zip(arch.widths, arch.bottlenecks, arch.group_widths))
               if "g" in uses and round(w_ / b) % g]
        if bad:
            raise DseError(f"{path}, line {n}: stage {bad[0]}: inner width w/b is not a multiple of g "
                           f"(apply the compatibility rule before importing)")
        m = {"arch": arch, "error": val(res, float, False), "best_error": val(f"best_{res}", float, False),
             "epochs": val("epochs", int, False), "train_seconds": val("train_seconds", float, False)}
        for k, col in (("error", res), ("best_error", f"best_{res}")):
            if m[k] is not None and not 0 <= m[k] <= 100:
                raise DseError(f"{path}, line {n}: column {col} = {m[k]:g} is not "
                               + ("a top-1 error in % (0..100)" if not regime.low_level else
                                  f"{measure.label} in {measure.unit} (0..100)"))
        for k in ("epochs", "train_seconds"):
            if m[k] is not None and m[k] < 0:
                raise DseError(f"{path}, line {n}: column {k} = {m[k]:g} is negative")
        if m["epochs"] is not None and m["epochs"] > MAX_EPOCHS:  # (an SQLite INTEGER holds 2^63; a budget far less)
            raise DseError(f"{path}, line {n}: column epochs = {m['epochs']:g} is more than the {MAX_EPOCHS:,} "
                           f"epochs a model may train")
        given.append({k: val(k, int, False) for k in COUNTS})
        rp = {k: val(k, float, False) for k in ("w0", "wa", "wm")}
        _check_regnet(path, n, rp, "")
        m["regnet"] = rp if any(v is not None for v in rp.values()) else None
        fit = {k: val(c, float, False) for k, c in zip(("e_fit", "w0", "wa", "wm"), FIT)}
        if any(v is not None for v in fit.values()):
            missing = [c for c, v in zip(FIT, fit.values()) if v is None]
            if missing:
                raise DseError(f"{path}, line {n}: the RegNet fit needs {', '.join(FIT)} together; "
                               f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty (fill them, or "
                               f"empty all four: dse fit computes them)")
            if fit["e_fit"] < 0:
                raise DseError(f"{path}, line {n}: column e_fit = {fit['e_fit']:g} is negative (a fit's mean error "
                               f"is >= 0)")
            _check_regnet(path, n, {k: fit[k] for k in ("w0", "wa", "wm")}, "fit_")
            m["fit"] = {**fit, "w0": int(fit["w0"])}
        m["idx"] = val("id", int, False)
        if m["idx"] is not None and not 0 <= m["idx"] <= MAX_SEED:
            raise DseError(f"{path}, line {n}: column id = {m['idx']} is not a model index (0 to 2^63-1)")
        dev, batch = (r.get("speed_device") or "").strip(), val("speed_batch", int, False)
        if batch is not None and not 1 <= batch <= MAX_BATCH:
            raise DseError(f"{path}, line {n}: column speed_batch = {batch} is outside 1..{MAX_BATCH}")
        ms = {mode: val(f"{mode}_ms", float, False) for mode in ("infer", "train")}
        for mode, v in ms.items():
            if v is not None and not v > 0:
                raise DseError(f"{path}, line {n}: column {mode}_ms = {v:g} is not a time in ms (> 0)")
            if v is not None and not dev:
                raise DseError(f"{path}, line {n}: column {mode}_ms is set but speed_device is empty (timings "
                               f"mean nothing without the device they were measured on)")
        m["speeds"] = [(dev, mode, batch or 64, v) for mode, v in ms.items() if v is not None]
        m["images_per_s"] = val("images_per_s", float, False)
        if m["images_per_s"] is not None and m["images_per_s"] < 0:
            raise DseError(f"{path}, line {n}: column images_per_s = {m['images_per_s']:g} is negative")
        st = (r.get("status") or "").strip()
        if st and st not in STATUSES_IMPORTED:
            raise DseError(f"{path}, line {n}: column status = {st!r} is unknown; allowed: "
                           f"{', '.join(STATUSES_IMPORTED)} (or empty)")
        if st == "done" and m["error"] is None:
            raise DseError(f"{path}, line {n}: status is done but column error is empty")
        m["status"] = st or ("done" if m["error"] is not None else "pending")
        m["settings"] = _import_settings(val, regime, path, n)
        out.append(m)
    ids = [m["idx"] for m in out]
    if any(i is not None for i in ids):  # the table's own model ids are kept (an exported subset: 1, 2, 4)
        if None in ids:
            raise DseError(f"{path}, line {ids.index(None) + 2}: column id is empty while other rows have one; give "
                           f"every row its id, or none (ids 0, 1, 2, ... in row order)")
        seen = {}
        for line, i in enumerate(ids, start=2):
            if i in seen:
                raise DseError(f"{path}, line {line}: column id = {i} repeats line {seen[i]}; ids name one model each")
            seen[i] = line
    else:
        for i, m in enumerate(out):
            m["idx"] = i
    _check_complexity(path, out, given, regime)
    spaces = {(r.get("space") or "").strip() for r in rows}
    return out, (spaces.pop() if len(spaces) == 1 and "" not in spaces else "imported"), regime


def _task_regime(path, rows, regime):
    """``regime`` with the task, scale, sigma and fixed network the table's columns give (one value each; none:
    classification, as every table before tasks)."""
    got = {}
    for col in ("task", "scale", "sigma", "network"):
        vals = {(r.get(col) or "").strip() for r in rows} - {""}
        if len(vals) > 1:
            raise DseError(f"{path}: column {col} holds {', '.join(sorted(vals))}: a sweep is one task at one scale "
                           f"and noise; import the rows of each in its own sweep")
        got[col] = vals.pop() if vals else None
    if got["task"] in (None, "classify") and all(got[k] is None for k in ("scale", "sigma", "network")):
        return regime
    try:
        return dataclasses.replace(regime, task=got["task"] or "classify",
                                   scale=None if got["scale"] is None else int(float(got["scale"])),
                                   sigma=None if got["sigma"] is None else float(got["sigma"]),
                                   network=got["network"], in_channels=_network_channels(got["network"], regime))
    except (DseError, ValueError) as e:  # an unknown task, a scale out of range, a task option of another task
        raise DseError(f"{path}: columns task, scale, sigma, network: "
                       f"{str(e).replace('{', '').replace('}', '')}") from None


def _network_channels(network, regime) -> int:
    """The input channels a table's rows are counted at: a fixed network's own, else the regime's."""
    from dse.models.lowlevel import LOWLEVEL_REFERENCES

    ref = LOWLEVEL_REFERENCES.get(network) if network else None
    return ref.in_channels if ref is not None else regime.in_channels


def _check_regnet(path, line, rp: dict, prefix: str) -> None:
    """RegNet parameters of a row (given ones only): w0 > 0, wa >= 0, wm > 1 (u_j = w0 + wa j, w0 wm^k)."""
    for k, ok, what in (("w0", lambda v: v > 0, "> 0"), ("wa", lambda v: v >= 0, ">= 0"),
                        ("wm", lambda v: v > 1, "> 1")):
        v = rp.get(k)
        if v is not None and not ok(v):
            raise DseError(f"{path}, line {line}: column {prefix}{k} = {v:g} is not a RegNet {k} (it must be {what})")


def _import_settings(val, regime, path, line) -> dict | None:
    """A row's own design choices: a resolution other than the import regime's, and lr, wd, momentum, batch_size
    (what it trained with), each checked against what a space may sample."""
    st = {}
    for k, lim in LIMITS.items():  # the ranges a space file and a Protocol accept (dse.validate.SETTINGS)
        v = val(k, int if lim.integer else float, False)
        if v is None:
            continue
        if not lim.ok(v):
            raise DseError(f"{path}, line {line}: column {k} = {v:g} is not allowed; it must be {lim.text()} "
                           f"({lim.why})")
        if k != "resolution" or v != regime.resolution:
            st[k] = v
    return st or None


class _Cells:
    """Typed reads of one row's cells; errors name the file, line and column."""

    def __init__(self, path, line, row):
        self.path, self.line, self.row = path, line, row

    def __call__(self, col, kind, required=True):
        s = (self.row.get(col) or "").strip()
        where = f"{self.path}, line {self.line}: column {col}"
        if s == "":
            if required:
                raise DseError(f"{where} is empty")
            return None
        try:
            v = float(s)
        except ValueError:
            raise DseError(f"{where} = {s!r} is not a number") from None
        if not math.isfinite(v):
            raise DseError(f"{where} = {s!r} is not a finite number")
        if kind is int:
            if not v.is_integer():
                raise DseError(f"{where} = {s!r} must be an integer")
            return int(v)
        return v


def _check_complexity(path, models, given, regime):
    """Count every model's flops, params and acts at ``regime``; a count the table gives must agree (to
    rounding), else the table was counted at another regime (or is wrong)."""
    if regime.low_level:  # counted at the task's output (dse.models.lowlevel), whatever the import options say
        counts = [regime.count(m["arch"]) for m in models]
        f, p, a = ([c[k] for c in counts] for k in COUNTS)
        kw = {"resolution": [None] * len(models)}
    else:
        kw = regime.cx_kwargs()
        kw["resolution"] = [(m.get("settings") or {}).get("resolution") or regime.resolution for m in models]
        f, p, a = complexity_many([m["arch"] for m in models], **kw)
    for line, (m, g, *cx) in enumerate(zip(models, given, f, p, a), start=2):
        for k, v in zip(COUNTS, cx):
            v = int(v)
            if v <= 0:
                raise DseError(f"{path}, line {line}: the architecture's {k} cannot be counted ({v})")
            if g[k] is not None and abs(g[k] - v) > max(1, 1e-9 * v):
                at = (f"at a {'x'.join(map(str, TASKS[regime.task].count_at))} output ({regime.task}"
                      + (f" x{regime.scale}" if regime.scale else "") + f", {regime.in_channels} channels)"
                      if regime.low_level else
                      f"at resolution {kw['resolution'][line - 2]} ({regime.stem} stem, {regime.in_channels} input "
                      f"channels, {regime.num_classes} classes)")
                raise DseError(f"{path}, line {line}: column {k} = {g[k]} but the architecture has {v} {at}: give the "
                               f"regime the table was counted at (--resolution, --stem, --in-channels, "
                               f"--num-classes; the task, scale and sigma columns), or drop the column")
            m[k] = v
