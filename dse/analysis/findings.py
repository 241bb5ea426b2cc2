"""The RegNet paper's findings as verdicts: one written criterion per finding, judged on populations.

Each finding reads the regimes (sweeps at different flops) of the spaces it needs and returns a row: the claim
in the paper's words, what was measured (a statistic with its interval, n, regimes, device) and a verdict,
``holds``, ``contradicted`` or ``can't tell``, the last with the reason and what would settle it. The criteria
(``FINDINGS[i].criterion``) are the contract; the thresholds are the constants below. Pure: arrays in.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> regs = []
    >>> for f in (2e6, 4e6, 8e6):
    ...     d = rng.integers(12, 29, 60).astype(float)
    ...     regs.append(Sample(f"regnetx@{f:g}", f, {"depth": d}, np.abs(d - 20) + rng.normal(0, 0.3, 60)))
    >>> judge({"regnetx": regs}, n_boot=2000).row("depth").verdict
    'holds'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dse.analysis.bootstrap import bootstrap
from dse.analysis.results import Drawable
from dse.analysis.trends import trend_series
from dse.tasks import ERROR, Metric
from dse.units import human, regime_label

MIN_MODELS = 20     # per regime: fewer and a regime is not read (NDS: EDFs of ~100 models are stable; 20 a floor)
MIN_REGIMES = 3     # a trend across flops (depth stays, w0 and g grow, lr and wd stay) needs 3 regimes
GENERAL = 2         # a claim "at any flops" holds only when seen at 2 regimes or more (one regime can contradict it)
DEPTH = (20, 15, 25)        # "about 20 blocks": the paper's value and the band a regime's interval must meet
WM = (2.5, 2.2, 2.8)        # "wm about 2.5"
WIDE = {"depth": 12.0, "wm": 0.8}  # an interval wider than this says too little ("intervals too wide")
FLAT = 1.0          # a slope interval (log value per log flops) wider than this cannot show a trend is flat
GROWS = 0.1         # "grows": contradicted when the slope's interval lies below this (flat or shrinking)
MIN_TIMED = 10      # timed models for the runtime finding
UNDERFIT_RHO = 0.0  # underfit: Spearman(depth, error) per regime, its interval above this (deeper is worse)
HOLDS, CONTRA, CANT, NA = "holds", "contradicted", "can't tell", "not applicable"


@dataclass
class Sample:
    """One regime of a space: its sweep, flops (the regime's x), per-model values of the parameters, errors;
    ``flagged``: why it looks undertrained (None: it does not, or was not trained here); ``trained_here``: False
    for results without training records (imported, set_results)."""

    sweep: str
    flops: float
    values: dict
    errors: np.ndarray
    flagged: str | None = None
    trained_here: bool = True
    stages: int | None = None  # the space's stage count (None: unknown, e.g. imported)
    bitops: float | None = None  # its BitOps regime (the window's upper end; a float sweep's: flops x 1024)

    @property
    def n(self) -> int:
        return len(self.errors)

    @property
    def label(self) -> str:
        return regime_label(self.flops)


@dataclass
class FindingRow:
    """One finding's verdict: the claim, what dse measured (``measured``; the statistic ``value`` with its
    interval ``low``..``high``), the models and regimes it rests on, the verdict and its reason, what would settle
    it, and notes (budget, device)."""

    id: str
    claim: str
    criterion: str
    verdict: str
    reason: str
    measured: str = ""
    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: int = 0
    regimes: list = field(default_factory=list)
    sweeps: list = field(default_factory=list)
    device: str | None = None
    settle: str = ""
    notes: list = field(default_factory=list)
    points: list = field(default_factory=list)  # [(x, median, low, high)] for the figure: per regime
    band: tuple | None = None  # the paper's value as the figure shades it (lo, hi)
    axis: str = "flops"  # what the points' x is: the regimes' flops, or (finding quantise) their BitOps

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("id", "claim", "criterion", "verdict", "reason", "measured", "value",
                                              "low", "high", "n", "regimes", "sweeps", "device", "settle", "notes")}


@dataclass
class FindingsResult(Drawable):
    """The findings' verdicts, one row each (``rows``)."""

    rows: list
    ci: float
    metric: str = "final"
    trained_seconds: float | None = None  # findings --run: how long its training took (beside the plan's estimate)
    task: str = "classify"  # the task whose sweeps were judged (dse.tasks); its findings' readings
    _size = (3.6, 2.9)

    def row(self, id: str) -> FindingRow:
        return next(r for r in self.rows if r.id == id)

    def to_json(self) -> list:
        return [r.to_json() for r in self.rows]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.to_json())

    def _panels(self) -> int:
        return max(1, sum(1 for r in self.rows if r.points))

    def _cols(self) -> int:
        return min(self._panels(), 4)

    def _draw(self, axes):
        from dse.report.plots import draw_finding

        drawn = [r for r in self.rows if r.points]
        for ax, r in zip(axes, drawn):
            f = finding(r.id)
            v = reading(f, self.task) if f else None
            draw_finding(ax, r, ylabel=v.label if isinstance(v, Finding) else r.id,
                         zero=bool(v.zero if isinstance(v, Finding) else f and f.zero))
        if not drawn:
            axes[0].text(0.5, 0.5, "no finding has evidence yet", ha="center", va="center", transform=axes[0].transAxes)
            axes[0].set_axis_off()


@dataclass(frozen=True)
class Finding:
    """A finding of the paper, registered once (``FINDINGS``): its id (``dse findings --only ID``), the claim in the
    paper's words, the criterion (when it holds, when it is contradicted), the spaces that can test it (preferred
    first; a comparison: (base, variant)), ``judge(finding, evidence, n_boot=, ci=, seed=, speeds=)`` -> FindingRow,
    and its figure's y label (``zero``: a line at 0, for differences). ``--only``'s help, the figure and the
    criteria table of docs/findings.md (``criteria_table``) are made from these entries."""

    id: str
    claim: str
    criterion: str
    spaces: tuple
    judge: object
    ylabel: str = ""
    zero: bool = False
    reads: str = ""  # the spaces read, in words, when not the list ``spaces``
    on: dict | None = None  # {task: Reading}: what the finding means on another task (dse.tasks); absent: n/a there
    stages: bool = False    # needs spaces of several stages (width growth): n/a where the task's have one
    classify: str = ""      # not a claim about classification: why (then classification's table leaves it out)
    missing: str = ""       # (a task's reading) it has meaning, but no built-in space tests it: why

    @property
    def label(self) -> str:
        return self.ylabel or f"best model's {self.id}"


@dataclass(frozen=True)
class Reading:
    """What a finding means on a task other than classification (``Finding.on``): the spaces that test it there
    (preferred first; a comparison: (base, variant)), the claim and criterion in that task's words, its own judge
    (None: the finding's), its figure's y label; ``na``: it has no meaning on that task (why); ``missing``: it has,
    but no built-in space tests it (why: a can't-tell row)."""

    spaces: tuple = ()
    claim: str = ""
    criterion: str = ""
    judge: object = None
    ylabel: str = ""
    na: str = ""
    missing: str = ""
    zero: bool | None = None  # its figure's line at 0 (None: the finding's)


def reading(f: Finding, task: str = "classify") -> Finding | str:
    """Finding ``f`` as it reads on ``task``: the finding with that task's spaces, claim, criterion and judge, or
    the reason it does not apply there (a str)."""
    if task == "classify":
        return f.classify or f
    r = (f.on or {}).get(task)
    if r is None:
        return f"the paper's claim about classification has no {task} counterpart here"
    if r.na:
        return r.na
    return replace(f, spaces=r.spaces, claim=r.claim or f.claim, criterion=r.criterion or f.criterion,
                   judge=r.judge or f.judge, ylabel=r.ylabel or f.ylabel, missing=r.missing, on=None,
                   zero=f.zero if r.zero is None else r.zero)


def _enough(samples, k=MIN_MODELS) -> list:
    return [s for s in samples if s.n >= k]


def _pick(evidence: dict, spaces, need=()) -> tuple[str | None, list]:
    """The first of ``spaces`` with a regime of enough models (else the first with any regime), and its regimes;
    only regimes whose models have the parameters ``need`` count."""
    evidence = {sp: [s for s in ss if all(p in s.values and (~np.isnan(np.asarray(s.values[p], dtype=np.float64))).sum()
                                          >= 2 for p in need)] for sp, ss in evidence.items()}
    for sp in spaces:
        if _enough(evidence.get(sp, [])):
            return sp, sorted(evidence[sp], key=lambda s: s.flops)
    for sp in spaces:
        if evidence.get(sp):
            return sp, sorted(evidence[sp], key=lambda s: s.flops)
    return None, []


def _boot(s: Sample, p: str, n_boot, ci, seed) -> dict:
    x = np.asarray(s.values[p], dtype=np.float64)
    ok = ~np.isnan(x)
    return bootstrap(x[ok], s.errors[ok], n_boot, ci=ci, seed=seed)


def _missing(row: FindingRow, spaces, what="") -> FindingRow:
    row.verdict, row.reason = CANT, f"no trained sweep of {' or '.join(spaces)}{what}"
    row.settle = (f"sample {spaces[0]} at {MIN_REGIMES}+ regimes, {MIN_MODELS}+ models each, and train them (dse "
                  f"findings --plan writes the commands and says what they cost here)")
    return row


def _too_few(row, space, samples, need_regimes) -> FindingRow | None:
    """A can't-tell row when the regimes or their models are too few, else None."""
    good = _enough(samples)
    if len(good) < need_regimes:
        small = [f"{s.sweep} has {s.n}" for s in samples if s.n < MIN_MODELS]
        row.verdict = CANT
        row.reason = (f"{len(good)} regime(s) of {space} with >= {MIN_MODELS} models; {need_regimes} needed"
                      + (f" ({', '.join(small)})" if small else ""))
        more = [f"{s.sweep} to {MIN_MODELS}" for s in samples if s.n < MIN_MODELS]
        parts = [f"sample and train more models: {', '.join(more)}"] if more else []
        if len(good) + len(more) < need_regimes:
            parts.append(f"add {need_regimes - len(good) - len(more)} regime(s) of {space} (dse sample --space "
                         f"{space} --regimes ... -n {MIN_MODELS})")
        row.settle = "; ".join(parts)
        return row
    return None


def _budget(row: FindingRow, samples) -> FindingRow:
    """Budget notes; a verdict on undertrained sweeps becomes can't tell (the budget may rank their models)."""
    flagged = [s for s in samples if s.flagged]
    if any(not s.trained_here for s in samples):
        row.notes.append("results without training records (imported or set): judged on their errors; the budget "
                         "was not checked")
    if flagged and row.verdict == CANT:
        row.notes.append("undertrained per the budget signals: " + ", ".join(s.sweep for s in flagged))
    elif flagged:
        row.notes.append(f"would be {row.verdict!r} on the errors alone")
        row.notes += [f"{s.sweep}: {s.flagged}" for s in flagged]
        row.verdict = CANT
        row.reason = "undertrained per the budget signals (" + ", ".join(s.sweep for s in flagged) + "): the budget " \
                     "may rank these models, not their design"
        row.settle = "a longer --budget, or check it: " + ", ".join(f"dse budget-check --sweep {s.sweep}"
                                                                     for s in flagged)
    return row


def _interval_rows(row, samples, p, n_boot, ci, seed):
    """Per regime bootstrap of the best model's ``p``: [(sample, dict)] and the row's figure points."""
    out = []
    for s in _enough(samples):
        b = _boot(s, p, n_boot, ci, seed)
        out.append((s, b))
        row.points.append((s.flops, b["median"], b["low"], b["high"]))
    row.regimes = [s.label for s, _ in out]
    row.sweeps = [s.sweep for s, _ in out]
    row.n = sum(s.n for s, _ in out)
    row.measured = "; ".join(f"{s.label}: {b['median']:g} [{b['low']:g}, {b['high']:g}]" for s, b in out)
    return out


def _outside(row, per, band, p, unit="") -> bool:
    """Shade the paper's ``band`` (lo, hi); contradicted (True) when a regime's interval lies wholly outside it."""
    row.band = lo, hi = band
    bad = [(s, b) for s, b in per if b["high"] < lo or b["low"] > hi]
    if bad:
        s, b = bad[0]
        row.verdict = CONTRA
        row.reason = f"at {s.label} the best {p} is {b['low']:.4g}-{b['high']:.4g}{unit}, outside {lo}-{hi}"
    return bool(bad)


def _trend(samples, p, n_boot, ci, seed):
    good = _enough(samples)
    return trend_series("s", p, [(s.sweep, s.flops, s.values[p], s.errors) for s in good], n_boot=n_boot, ci=ci,
                        seed=seed)


def judge_depth(f, ev, n_boot, ci, seed, **_):
    row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
    space, samples = _pick(ev, f.spaces, ("depth",))
    if space is None:
        return _missing(row, f.spaces)
    per = _interval_rows(row, samples, "depth", n_boot=n_boot, ci=ci, seed=seed)
    value, lo, hi = DEPTH
    if _outside(row, per, (lo, hi), "depth", " blocks"):
        return _budget(row, [s for s, _ in per])
    few = _too_few(row, space, samples, MIN_REGIMES)
    if few:
        return _budget(few, [s for s, _ in per])
    t = _trend(samples, "depth", n_boot, ci, seed)
    row.value, row.low, row.high = t.slope, t.slope_low, t.slope_high
    row.measured += f"; slope of log depth on log flops {t.slope:.2f} [{t.slope_low:.2f}, {t.slope_high:.2f}]"
    wide = [s.label for s, b in per if b["high"] - b["low"] > WIDE["depth"]]
    if t.slope_low > 0 or t.slope_high < 0:
        row.verdict, row.reason = CONTRA, f"the best depth {t.trend} with flops (slope interval excludes 0)"
    elif wide or t.slope_high - t.slope_low > FLAT:
        row.reason = (f"intervals too wide ({', '.join(wide)} wider than {WIDE['depth']:g} blocks)" if wide else
                      f"the slope interval is wider than {FLAT:g}")
        row.settle = "more models per regime (2x shrinks the intervals by about 1.4x)"
    else:
        row.verdict, row.reason = HOLDS, (f"every regime's best depth meets {lo}-{hi} and the slope interval holds 0")
    return _budget(row, [s for s, _ in per])


def judge_b(f, ev, n_boot, ci, seed, **_):
    row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
    space, samples = _pick(ev, f.spaces, ("b",))
    if space is None:
        return _missing(row, f.spaces, " (a space with b free)")
    per = _interval_rows(row, samples, "b", n_boot=n_boot, ci=ci, seed=seed)
    row.band = (1, 1)
    bad = [(s, b) for s, b in per if b["low"] > 1]
    if bad:
        s, b = bad[0]
        row.verdict, row.reason = CONTRA, f"at {s.label} the best model's b is {b['low']:g}-{b['high']:g}, not 1"
    elif _too_few(row, space, samples, GENERAL):
        pass
    elif all(b["median"] == 1 for _, b in per):
        row.verdict, row.reason = HOLDS, "at every regime the best model's b is 1 (the bootstrap's median; no " \
                                         "interval above 1)"
    else:
        row.reason = "the intervals hold b = 1, but the bootstrap's median is above 1 at a regime"
        row.settle = "more models per regime"
    return _budget(row, [s for s, _ in per])


def judge_wm(f, ev, n_boot, ci, seed, **_):
    row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
    space, samples = _pick(ev, f.spaces, ("wm",))
    if space is None:
        return _missing(row, f.spaces)
    per = _interval_rows(row, samples, "wm", n_boot=n_boot, ci=ci, seed=seed)
    value, lo, hi = WM
    if _outside(row, per, (lo, hi), "wm"):
        pass
    elif _too_few(row, space, samples, GENERAL):
        pass
    elif any(b["high"] - b["low"] > WIDE["wm"] for _, b in per):
        row.reason, row.settle = f"intervals too wide (> {WIDE['wm']:g})", "more models per regime"
    else:
        row.verdict, row.reason = HOLDS, f"every regime's best wm meets {lo}-{hi}"
    return _budget(row, [s for s, _ in per])


def _judge_grows(p):
    def judge(f, ev, n_boot, ci, seed, **_):
        row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
        space, samples = _pick(ev, f.spaces, (p,))
        if space is None:
            return _missing(row, f.spaces)
        per = _interval_rows(row, samples, p, n_boot=n_boot, ci=ci, seed=seed)
        if _too_few(row, space, samples, MIN_REGIMES):
            return _budget(row, [s for s, _ in per])
        t = _trend(samples, p, n_boot, ci, seed)
        row.value, row.low, row.high = t.slope, t.slope_low, t.slope_high
        row.measured += f"; slope of log {p} on log flops {t.slope:.2f} [{t.slope_low:.2f}, {t.slope_high:.2f}]"
        if t.slope_low > 0:
            row.verdict, row.reason = HOLDS, "the slope interval lies above 0"
        elif t.slope_high < GROWS:
            row.verdict, row.reason = CONTRA, f"the slope interval lies below {GROWS:g}: {p} does not grow"
        else:
            row.reason, row.settle = "the slope interval holds 0 and growth", "more models per regime, or more regimes"
        return _budget(row, [s for s, _ in per])
    return judge


def judge_stable(f, ev, n_boot, ci, seed, **_):
    """lr and wd stable across regimes: both slopes hold 0 (narrowly)."""
    row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
    space, samples = _pick(ev, f.spaces, ("lr", "wd"))
    if space is None:
        return _missing(row, f.spaces)
    row.regimes = [s.label for s in _enough(samples)]
    row.sweeps = [s.sweep for s in _enough(samples)]
    row.n = sum(s.n for s in _enough(samples))
    if _too_few(row, space, samples, MIN_REGIMES):
        return _budget(row, samples)
    ts = {p: _trend(samples, p, n_boot, ci, seed) for p in ("lr", "wd")}
    row.measured = "; ".join(f"slope of log {p} {t.slope:.2f} [{t.slope_low:.2f}, {t.slope_high:.2f}]"
                             for p, t in ts.items())
    row.points = [(s.flops, float(np.median(s.values["lr"])), float(np.min(s.values["lr"])),
                   float(np.max(s.values["lr"]))) for s in _enough(samples)]
    moving = [p for p, t in ts.items() if t.slope_low > 0 or t.slope_high < 0]
    if moving:
        row.verdict, row.reason = CONTRA, f"{' and '.join(moving)} change with flops (slope interval excludes 0)"
    elif any(t.slope_high - t.slope_low > FLAT for t in ts.values()):
        row.reason, row.settle = f"slope intervals wider than {FLAT:g}", "more models per regime"
    else:
        row.verdict, row.reason = HOLDS, "both slope intervals hold 0"
    return _budget(row, samples)


def median_difference(a, b, n_boot: int = 2000, ci: float = 95.0, seed: int = 0) -> tuple[float, float, float]:
    """median(b) - median(a) and its ci% percentile bootstrap interval (each population resampled)."""
    rng = np.random.default_rng(seed)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ia = rng.integers(0, len(a), (n_boot, len(a)))
    ib = rng.integers(0, len(b), (n_boot, len(b)))
    d = np.median(b[ib], axis=1) - np.median(a[ia], axis=1)
    lo, hi = np.percentile(d, [(100 - ci) / 2, 100 - (100 - ci) / 2])
    return float(np.median(b) - np.median(a)), float(lo), float(hi)


def _judge_compare(sign):
    """variant vs base at the regimes both have: sign +1: the variant is worse (its median error higher; the errors
    are oriented, so on an SR sweep: its median PSNR lower). ``measure`` says the differences in its own values."""
    def judge(f, ev, n_boot, ci, seed, measure: Metric = ERROR, **_):
        row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
        base, variant = f.spaces
        a, b = {s.flops: s for s in _enough(ev.get(base, []))}, {s.flops: s for s in _enough(ev.get(variant, []))}
        both = sorted(set(a) & set(b))
        if not both:
            row.reason = (f"no regime where {base} and {variant} both have >= {MIN_MODELS} trained models"
                          + (f" ({base}: {', '.join(s.label for s in ev.get(base, [])) or 'none'}; {variant}: "
                             f"{', '.join(s.label for s in ev.get(variant, [])) or 'none'})"
                             if ev.get(base) or ev.get(variant) else ""))
            row.settle = (f"dse sample --space {base} and --space {variant} at the same --regimes, -n {MIN_MODELS}+ "
                          f"each, then dse train")
            return row
        per, shown = [], []
        for i, fl in enumerate(both):
            d, lo, hi = median_difference(a[fl].errors, b[fl].errors, n_boot=min(n_boot, 4000), ci=ci, seed=seed + i)
            per.append((fl, d, lo, hi))
            v = sorted((measure.shown(lo), measure.shown(hi)))  # in the measure's values (a PSNR: dB, negated)
            shown.append((fl, float(measure.shown(d)), v[0], v[1]))
            row.points.append(shown[-1])
        row.regimes = [regime_label(fl) for fl in both]
        row.sweeps = [a[fl].sweep for fl in both] + [b[fl].sweep for fl in both]
        row.n = sum(a[fl].n + b[fl].n for fl in both)
        row.measured = f"median {measure.noun} of {variant} minus {base} ({measure.points}): " + "; ".join(
            f"{regime_label(fl)}: {d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for fl, d, lo, hi in shown)
        row.value, row.low, row.high = shown[0][1], shown[0][2], shown[0][3]
        agree = [fl for fl, d, lo, hi in per if (lo > 0 if sign > 0 else hi < 0)]
        against = [fl for fl, d, lo, hi in per if (hi < 0 if sign > 0 else lo > 0)]
        _across(row, len(per), agree, against,
                contra=lambda x: f"at {regime_label(x)} {variant} is {'better' if sign > 0 else 'worse'} than "
                                 f"{base} (interval excludes 0)",
                holds=f"at every regime ({len(per)}) the interval is on the paper's side",
                partial=f"on the paper's side at {len(agree)} of {len(per)} regime(s); the claim spans regimes: "
                        f"{GENERAL} needed, none against", none_settle="more models per space and regime")
        used = [a[fl] for fl in both] + [b[fl] for fl in both]
        return _budget(row, used)
    return judge


def _across(row, n: int, agree: list, against: list, *, contra, holds: str, partial: str, none_settle: str) -> None:
    """The verdict of a claim about every regime, from the regimes whose interval is on its side (``agree``) and
    against it: contradicted at one against (``contra(that regime)`` says why), holds when all ``n`` agree (at least
    GENERAL), else can't tell (on its side at some, or none)."""
    if against:
        row.verdict, row.reason = CONTRA, contra(against[0])
    elif len(agree) >= GENERAL and len(agree) == n:
        row.verdict, row.reason = HOLDS, holds
    elif agree:
        row.reason, row.settle = partial, "more regimes, or more models where the interval holds 0"
    else:
        row.reason, row.settle = "every interval holds 0", none_settle


def spearman_interval(x, y, n_boot: int = 2000, ci: float = 95.0, seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rho of (x, y) (scipy) and its ci% percentile bootstrap interval (the pairs resampled)."""
    from scipy import stats

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rho = float(stats.spearmanr(x, y)[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), (min(n_boot, 2000), len(x)))
    rx = np.argsort(np.argsort(x[idx], axis=1), axis=1).astype(np.float64)  # ranks (ties broken: a resample's
    ry = np.argsort(np.argsort(y[idx], axis=1), axis=1).astype(np.float64)  # interval, not its point estimate)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    r = r[np.isfinite(r)]
    lo, hi = np.percentile(r, [(100 - ci) / 2, 100 - (100 - ci) / 2]) if len(r) else (np.nan, np.nan)
    return rho, float(lo), float(hi)


def judge_underfit(f, ev, n_boot, ci, seed, measure: Metric = ERROR, **_):
    """Deep networks underfit at the budget: Spearman(depth, error) per regime (a PSNR oriented as an error), its
    bootstrap interval above 0 at every regime (>= GENERAL) holds, below 0 at one contradicts. The budget signals
    are its subject, not a reason to doubt it: flagged sweeps are noted, not turned into can't tell."""
    row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
    space, samples = _pick(ev, f.spaces, ("depth",))
    if space is None:
        return _missing(row, f.spaces)
    per = []
    for i, s in enumerate(_enough(samples)):
        d = np.asarray(s.values["depth"], dtype=np.float64)
        if np.ptp(d) == 0 or np.ptp(s.errors) == 0:
            continue
        rho, lo, hi = spearman_interval(d, s.errors, n_boot, ci, seed + i)
        per.append((s, rho, lo, hi))  # (of the oriented errors; shown as Spearman(depth, PSNR) for a PSNR)
        row.points.append((s.flops, rho, lo, hi) if not measure.higher_is_better else (s.flops, -rho, -hi, -lo))
    row.regimes, row.sweeps = [s.label for s, *_ in per], [s.sweep for s, *_ in per]
    row.n = sum(s.n for s, *_ in per)
    worse = f"{measure.noun} falls" if measure.higher_is_better else "error rises"
    row.measured = "" if not per else f"Spearman(depth, {measure.noun}) " + "; ".join(  # (the points: shown)
        f"{s.label}: {v:+.2f} [{lo:+.2f}, {hi:+.2f}]" for (s, *_), (_, v, lo, hi) in zip(per, row.points))
    if per:
        row.value, row.low, row.high = row.points[0][1:]
    against = [s for s, r, lo, hi in per if hi < UNDERFIT_RHO]
    agree = [s for s, r, lo, hi in per if lo > UNDERFIT_RHO]
    if _too_few(row, space, samples, 1):
        pass
    elif not per:
        row.reason, row.settle = "depth (or the result) does not vary within a regime", "a space with depth free"
    else:
        _across(row, len(per), agree, against,
                contra=lambda x: f"at {x.label} deeper networks are better (the interval of Spearman(depth, "
                                 f"{measure.noun}) lies {'above' if measure.higher_is_better else 'below'} 0)",
                holds=f"at every regime ({len(per)}) the {worse} with depth (interval on that side of 0)",
                partial=f"the {worse} with depth at {len(agree)} of {len(per)} regime(s); {GENERAL} needed, none "
                        f"against", none_settle="more models per regime")
    flagged = [s.sweep for s, *_ in per if s.flagged]
    if flagged:
        row.notes.append("the budget signals flag " + ", ".join(flagged) + ": what this finding is about")
    return row


def bitops_label(x: float) -> str:
    """A BitOps regime's name: 8.2G BitOps (its window's upper end)."""
    return f"{human(x, sep='')} BitOps"


def judge_quantise(f, ev, n_boot, ci, seed, measure: Metric = ERROR, **_):
    """Shrink or quantise: the float space (``f.spaces[0]``) against each quantised space (the others) at the
    BitOps regimes both were drawn in (``Sample.bitops``: dse sample --bitops's window's upper end; a float
    sweep's flops window x 1024 is the same regime). Holds
    when at every regime read (>= GENERAL) some quantised space's median is better (interval of the difference on
    that side of 0); contradicted when at a regime every quantised space read is worse."""
    row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
    base, variants = f.spaces[0], f.spaces[1:]
    a = {s.bitops: s for s in _enough(ev.get(base, [])) if s.bitops}
    pairs, used = [], []
    for k, v in enumerate(variants):
        b = {s.bitops: s for s in _enough(ev.get(v, [])) if s.bitops}
        for i, x in enumerate(sorted(set(a) & set(b))):
            d, lo, hi = median_difference(a[x].errors, b[x].errors, n_boot=min(n_boot, 4000), ci=ci,
                                          seed=seed + 97 * k + i)
            pairs.append((x, v, d, lo, hi))
            used += [a[x], b[x]]
    if not pairs:
        row.reason = (f"no BitOps regime where {base} and a quantised space ({', '.join(variants)}) both have >= "
                      f"{MIN_MODELS} trained models (each drawn with dse sample --bitops in the same window)")
        row.settle = (f"dse sample --space {base} --bitops LO:HI -n {MIN_MODELS} and --space {variants[0]} with the "
                      f"same window, at {GENERAL}+ windows (a float sweep drawn in the flops window LO/1024:HI/1024 "
                      f"is the same), then dse train")
        return row
    regimes = sorted({x for x, *_ in pairs})
    row.axis = "BitOps"
    best = {x: min((p for p in pairs if p[0] == x), key=lambda p: p[3]) for x in regimes}  # the surest gain
    for x in regimes:
        _, v, d, lo, hi = best[x]
        sh = sorted((measure.shown(lo), measure.shown(hi)))
        row.points.append((x, float(measure.shown(d)), sh[0], sh[1]))
    row.regimes = [bitops_label(x) for x in regimes]
    row.sweeps = list(dict.fromkeys(s.sweep for s in used))
    row.n = sum(s.n for s in {id(s): s for s in used}.values())
    row.measured = f"median {measure.noun} of the quantised space minus {base} at equal BitOps ({measure.points}): " \
        + "; ".join(f"{bitops_label(x)} {v}: {measure.shown(d):+.2f} [{min(measure.shown(lo), measure.shown(hi)):+.2f},"
                    f" {max(measure.shown(lo), measure.shown(hi)):+.2f}]" for x, v, d, lo, hi in pairs)
    row.value, row.low, row.high = row.points[0][1:]
    agree = [x for x in regimes if best[x][4] < 0]
    against = [x for x in regimes if all(p[3] > 0 for p in pairs if p[0] == x)]
    _across(row, len(regimes), agree, against,
            contra=lambda x: f"at {bitops_label(x)} every quantised space read is worse than {base} (intervals "
                             f"exclude 0): shrinking the float network wins there",
            holds=f"at every BitOps regime ({len(regimes)}) a quantised space beats {base} (interval excludes 0)",
            partial=f"a quantised space is better at {len(agree)} of {len(regimes)} regime(s); {GENERAL} needed, "
                    f"none against", none_settle="more models per space and regime")
    return _budget(row, used)


def judge_runtime(f, ev, n_boot, ci, seed, speeds=None, **_):
    row = FindingRow(f.id, f.claim, f.criterion, CANT, "")
    if not speeds or len(speeds["models"]) < MIN_TIMED:
        row.reason = f"{len(speeds['models']) if speeds else 0} timed model(s); {MIN_TIMED} needed"
        row.settle = "dse speed (times every model of the store on this machine's device)"
        return row
    ms = np.array([m["ms"] for m in speeds["models"]], dtype=np.float64)
    fl = np.array([m["flops"] for m in speeds["models"]], dtype=np.float64)
    ac = np.array([m["acts"] for m in speeds["models"]], dtype=np.float64)
    flat = [what for what, x in (("timings", ms), ("flops", fl), ("activations", ac)) if np.ptp(x) == 0]
    if flat:  # a correlation with a constant is undefined: nothing to compare
        row.n = len(ms)
        row.reason = f"the {flat[0]} do not vary over the {len(ms)} timed models"
        row.settle = "time models of different sizes (dse speed on sweeps that span flops and activations)"
        return row
    rng = np.random.default_rng(seed)
    n = len(ms)
    idx = rng.integers(0, n, (min(n_boot, 4000), n))

    def r(x, y):
        x, y = x - x.mean(axis=-1, keepdims=True), y - y.mean(axis=-1, keepdims=True)
        return (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))

    with np.errstate(invalid="ignore", divide="ignore"):  # a resample may hold one value many times
        d = r(ac[idx], ms[idx]) - r(fl[idx], ms[idx])
    d = d[np.isfinite(d)]
    if not len(d):
        row.reason, row.settle = "no resample of the timings varies", "time more models of different sizes"
        return row
    lo, hi = np.percentile(d, [(100 - ci) / 2, 100 - (100 - ci) / 2])
    value = float(r(ac, ms) - r(fl, ms))
    row.value, row.low, row.high, row.n, row.device = value, float(lo), float(hi), n, speeds["device"]
    row.measured = (f"Pearson r(acts, ms) - r(flops, ms) = {value:+.3f} [{lo:+.3f}, {hi:+.3f}] over {n} models "
                    f"({speeds['mode']}, batch {speeds['batch']})")
    if lo > 0:
        row.verdict, row.reason = HOLDS, "activations correlate with runtime better than flops (interval above 0)"
    elif hi < 0:
        row.verdict, row.reason = CONTRA, "flops correlate with runtime better than activations (interval below 0)"
    else:
        row.reason, row.settle = "the interval holds 0", "time more models (dse speed on more sweeps)"
    if not str(speeds["device"]).lower().startswith(("cuda", "nvidia", "gpu")) and "GPU" not in str(speeds["device"]):
        row.notes.append(f"measured on {speeds['device']}; the paper's claim is about GPUs")
    return row


DIFF = "median error difference (%)"
PSNR_DIFF = "median PSNR difference (dB)"
SR_SPACES = ("sr_anynet_e1", "sr_edsr", "sr_anynet", "sr_anynet_wide", "sr_regnet")  # depth free, e = 1 first
DN_SPACES = ("denoise_anynet",)
_BLOCKS = ("depth in residual blocks (2 convs each: a body of d blocks is 2d + 4 conv layers with the head, body "
           "end, upsampler and tail)")


def _low(sr: Reading, denoise: Reading | None = None) -> dict:
    """A finding's readings on SR and on denoising (default: the SR one with the denoising spaces, where it names
    SR spaces; not applicable where it names none)."""
    if denoise is None:
        denoise = replace(sr, spaces=DN_SPACES if sr.spaces else (), claim=sr.claim.replace("SR", "denoising"),
                          missing=sr.missing.replace("SR", "denoising"))
    return {"sr": sr, "denoise": denoise}


_NO_G = Reading(na="the SR and denoising blocks (wide_res) have no group convolution, so no group width")
_NO_RES = Reading(na="an SR or denoising network's input size is the task's (the scale fixes it): no resolution to "
                     "choose at fixed flops")
FINDINGS = [
    Finding("depth", "The best models have about 20 blocks whatever their flops (depth does not grow with flops)",
            f"bootstrap of the best model's depth per regime, and the slope of log depth on log flops across >= "
            f"{MIN_REGIMES} regimes of >= {MIN_MODELS} models: holds when every regime's interval meets "
            f"{DEPTH[1]}-{DEPTH[2]} and the slope interval holds 0 (narrower than {FLAT:g}, regime intervals "
            f"narrower than {WIDE['depth']:g} blocks); contradicted when a regime's interval lies outside "
            f"{DEPTH[1]}-{DEPTH[2]} or the slope interval excludes 0",
            ("regnet", "regnetx", "regnety"), judge_depth,
            on=_low(Reading(SR_SPACES, "The best SR models have about 20 blocks whatever their flops",
                            f"as for classification, with {_BLOCKS}", ylabel="best model's depth (blocks)"))),
    Finding("b", "b = 1 (no bottleneck) is best",
            f"bootstrap of the best model's b per regime in a space with b free: holds when every regime's median is "
            f"1 (and so its interval holds 1) at >= {GENERAL} regimes; contradicted when an interval lies above 1",
            ("regnet", "anynet_e", "anynet_d", "anynet_c", "anynet_b", "anynet_a"), judge_b,
            on=_low(Reading(("sr_anynet_e1", "sr_anynet_wide"),
                            "e = 1 (no expansion: EDSR's block) is best, as b = 1 is; WDSR's wide activation (e > 1) "
                            "says the opposite",
                            f"median PSNR of sr_anynet_wide (e 2-4) minus sr_anynet_e1 (e = 1) per shared regime (>= "
                            f"{MIN_MODELS} models each), bootstrap interval: holds when below 0 at every regime (>= "
                            f"{GENERAL}: wide activation hurts); contradicted when above 0 at one (it helps)",
                            _judge_compare(+1), ylabel=PSNR_DIFF, zero=True),
                    Reading(missing="no built-in denoising pair of spaces with e = 1 and with wide activation"))),
    Finding("wm", "The width multiplier wm is about 2.5",
            f"bootstrap of the best model's wm per regime: holds when every regime's interval meets {WM[1]}-{WM[2]} "
            f"(narrower than {WIDE['wm']:g}) at >= {GENERAL} regimes; contradicted when one lies outside it",
            ("regnet", "regnetx", "regnety"), judge_wm, stages=True,
            on=_low(Reading(("sr_regnet",), "Across an SR network's stages the width grows by wm about 2.5"),
                    Reading(missing="no built-in denoising space samples wm (a regnet-family denoising space would)"))),
    Finding("w0", "w0 grows with flops",
            f"slope of log(best w0) on log flops across >= {MIN_REGIMES} regimes: holds when its interval lies above "
            f"0; contradicted when it lies below {GROWS:g}",
            ("regnetx", "regnety", "regnet"), _judge_grows("w0"),
            on=_low(Reading(("sr_regnet",), "The SR network's first width w0 grows with flops"),
                    Reading(missing="no built-in denoising space samples w0 (a regnet-family denoising space would)"))),
    Finding("g", "The group width g grows with flops",
            f"slope of log(best g) on log flops across >= {MIN_REGIMES} regimes: holds when its interval lies above "
            f"0; contradicted when it lies below {GROWS:g}",
            ("regnetx", "regnety", "regnet"), _judge_grows("g"), on=_low(_NO_G, _NO_G)),
    Finding("runtime", "Activations, not flops, predict runtime (on a GPU)",
            f"Pearson r(acts, ms) - r(flops, ms) over >= {MIN_TIMED} timed models, bootstrap interval: holds above "
            f"0, contradicted below 0",
            (), judge_runtime, ylabel="r(acts, ms) - r(flops, ms)",
            reads="every timed sweep (`dse speed`); the device is named, and a CPU is said not to be the paper's "
                  "setting",
            on=_low(Reading((), "Activations, not multiply-adds, predict an SR network's runtime (on a GPU)"),
                    Reading((), "Activations, not multiply-adds, predict a denoising network's runtime (on a GPU)"))),
    Finding("inverted", "The inverted bottleneck (b < 1) hurts",
            f"median error of regnetx_inverted minus regnetx per shared regime (>= {MIN_MODELS} models each), "
            f"bootstrap interval: holds when above 0 at every regime (>= {GENERAL}); contradicted when below 0 at one",
            ("regnetx", "regnetx_inverted"), _judge_compare(+1), ylabel=DIFF, zero=True,
            on=_low(Reading(na="SR's counterpart of the inverted bottleneck is wide activation (e > 1): finding b"),
                    Reading(na="denoising's counterpart of the inverted bottleneck is wide activation: finding b"))),
    Finding("depthwise", "Depthwise convolution (g = 1) hurts",
            "median error of regnetx_dw minus regnetx per shared regime, as for the inverted bottleneck",
            ("regnetx", "regnetx_dw"), _judge_compare(+1), ylabel=DIFF, zero=True, on=_low(_NO_G, _NO_G)),
    Finding("resolution", "Varying the input resolution hurts (a fixed 224 px is best at fixed flops)",
            "median error of regnetx_res minus regnetx per shared regime, as for the inverted bottleneck",
            ("regnetx", "regnetx_res"), _judge_compare(+1), ylabel=DIFF, zero=True, on=_low(_NO_RES, _NO_RES)),
    Finding("se", "SE helps (RegNetY beats RegNetX)",
            f"median error of regnety minus regnetx per shared regime: holds when below 0 at every regime (>= "
            f"{GENERAL}); contradicted when above 0 at one",
            ("regnetx", "regnety"), _judge_compare(-1), ylabel=DIFF, zero=True,
            on=_low(Reading(("sr_anynet_e1", "sr_anynet_se"), "Channel attention (SE, as RCAN's) helps SR networks",
                            f"median PSNR of sr_anynet_se minus sr_anynet_e1 per shared regime (>= {MIN_MODELS} "
                            f"models each), bootstrap interval: holds when above 0 at every regime (>= {GENERAL}); "
                            f"contradicted when below 0 at one", ylabel=PSNR_DIFF, zero=True),
                    Reading(missing="no built-in denoising pair of spaces with and without channel attention"))),
    Finding("lrwd", "The best lr and wd are stable across regimes",
            f"slopes of log(best lr) and log(best wd) on log flops across >= {MIN_REGIMES} regimes of regnetx_lrwd: "
            f"holds when both intervals hold 0 (narrower than {FLAT:g}); contradicted when one excludes 0",
            ("regnetx_lrwd",), judge_stable, ylabel="lr (median, range)",
            on=_low(Reading(claim="The best Adam lr is stable across regimes",
                            missing="no built-in SR space samples lr and wd (every SR model trains at one Adam lr); "
                                    "an SR space file with [params.lr] and [params.wd] would test it"))),
    Finding("quantise", "At equal BitOps (very low cost), quantised networks beat smaller float ones: quantise "
                        "rather than shrink",
            f"median error of each quantised space (regnetx_w8a8, _w4a4, _w2a2) minus regnetx, all drawn in the "
            f"same BitOps windows (dse sample --bitops), per shared window (>= {MIN_MODELS} models each), bootstrap "
            f"interval: holds when at every window (>= {GENERAL}) some quantised space's interval lies below 0; "
            f"contradicted when at one window every quantised space's lies above 0 (the smaller float network wins)",
            ("regnetx", "regnetx_w4a4", "regnetx_w8a8", "regnetx_w2a2"), judge_quantise,
            ylabel="best quantised minus float (median error, points)", zero=True,
            on=_low(Reading(("sr_anynet_e1", "sr_anynet_w4a4", "sr_anynet_w8a8"),
                            "At equal BitOps, quantised SR networks beat smaller float ones (PAMS, DDTB: 8 bits "
                            "nearly lossless)",
                            f"median PSNR of each quantised space (sr_anynet_w8a8, _w4a4) minus sr_anynet_e1 in the "
                            f"same BitOps windows, per shared window (>= {MIN_MODELS} models each): holds when at "
                            f"every window (>= {GENERAL}) one lies above 0; contradicted when at one window all lie "
                            f"below 0", ylabel="best quantised minus float (median PSNR, dB)"),
                    Reading(missing="no built-in quantised denoising space (a denoise_anynet file with "
                                    "[params.bits_w] and [params.bits_a] would test it)"))),
    Finding("underfit", "Deep SR networks underfit at short budgets: the PSNR falls with depth (RCAN's observation)",
            f"Spearman rho(depth, PSNR) per regime of >= {MIN_MODELS} models, bootstrap interval: holds when it lies "
            f"below 0 at every regime (>= {GENERAL}); contradicted when above 0 at one (deeper is better); the "
            f"budget signals are noted, not a reason for can't tell (they are its subject)",
            SR_SPACES, judge_underfit, ylabel="Spearman(depth, PSNR)", zero=True,
            classify="the paper makes no such claim about classification (dse's budget signals check it: dse edf "
                     "warns when the error rises with depth)",
            on=_low(Reading(SR_SPACES), Reading(DN_SPACES, "Deep denoising networks underfit at short budgets: the "
                                                           "PSNR falls with depth"))),
]


@dataclass
class TaskComparison:
    """The findings on classification and on a low-level task side by side (``rows``: per finding the two rows and
    ``reading``, what they say together); ``notes``: what a task without sweeps would need."""

    classify: FindingsResult
    other: FindingsResult
    rows: list = field(default_factory=list)  # [{"id", "claim", "classify", "other", "reading", "settle"}]
    notes: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"tasks": ["classify", self.other.task], "rows": self.rows, "notes": self.notes}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


def together(a: str, b: str, names=("classification", "SR")) -> str:
    """What two verdicts on one finding say together: 'holds in both', 'contradicted in one (SR)', ..."""
    v = dict(zip(names, (a, b)))
    if NA in v.values():
        na = [k for k, x in v.items() if x == NA]
        return "not applicable" + ("" if len(na) == 2 else f" to {na[0]}")
    held = [k for k, x in v.items() if x == HOLDS]
    against = [k for k, x in v.items() if x == CONTRA]
    if len(held) == 2:
        return "holds in both"
    if len(against) == 2:
        return "contradicted in both"
    if held and against:
        return f"holds in {held[0]}, contradicted in {against[0]}"
    if against:
        return f"contradicted in {against[0]}; can't tell in {next(k for k in names if k not in against)}"
    if held:
        return f"holds in {held[0]}; can't tell in {next(k for k in names if k not in held)}"
    return "can't tell"


def compare_tasks(cls: FindingsResult, other: FindingsResult) -> TaskComparison:
    """Classification's verdicts (``cls``) beside another task's (``other``), one row per finding of either."""
    from dse.tasks import TASKS

    names = ("classification", TASKS[other.task].name.upper() if other.task == "sr" else other.task)
    by = {r.id: r for r in cls.rows}, {r.id: r for r in other.rows}
    out = TaskComparison(cls, other)
    for f in FINDINGS:
        a, b = by[0].get(f.id), by[1].get(f.id)
        if a is None and b is None:
            continue  # (left out by --only)
        va = a.verdict if a is not None else NA
        vb = b.verdict if b is not None else NA
        settle = "; ".join(f"{n}: {r.settle}" for n, r in zip(names, (a, b)) if r is not None and r.verdict == CANT
                           and r.settle)
        out.rows.append({"id": f.id, "claim": f.claim, "classify": va, "classify_why": a.reason if a else
                         reading(f, "classify"), other.task: vb, f"{other.task}_why": b.reason if b else "",
                         "reading": together(va, vb, names), "settle": settle})
    for n, r in zip(names, (cls, other)):
        if not any(x.n for x in r.rows) and not any(x.verdict in (HOLDS, CONTRA) for x in r.rows):
            task = "" if r.task == "classify" else f" --task {r.task}"
            out.notes.append(f"no {n} study with enough trained models here: dse findings --plan{task} says what "
                             f"one takes, --run trains it")
    return out


def finding(id: str) -> Finding | None:
    """The registered finding ``id`` (None when there is none)."""
    return next((f for f in FINDINGS if f.id == id), None)


def criteria_table(task: str = "classify") -> str:
    """The criteria as docs/findings.md shows them (a Markdown table made from ``FINDINGS``, each as it reads on
    ``task``; a test keeps the docs equal to it)."""
    rows = ["| id | claim | criterion | spaces read |", "|---|---|---|---|"]
    for f in FINDINGS:
        v = reading(f, task)
        if isinstance(v, str):
            if task != "classify":
                rows.append(f"| {f.id} | {f.claim} | not applicable: {v} | |")
        elif v.missing:
            rows.append(f"| {f.id} | {v.claim} | can't tell here: {v.missing} | |")
        else:
            rows.append(f"| {f.id} | {v.claim} | {v.criterion} | {v.reads or ', '.join(v.spaces)} |")
    return "\n".join(rows) + "\n"


def judge(evidence: dict, speeds: dict | None = None, n_boot: int = 2000, ci: float = 95.0, seed: int = 0,
          metric: str = "final", only=None, task: str = "classify", measure: Metric = ERROR) -> FindingsResult:
    """Every finding (or those in ``only``) judged on ``evidence`` ({space: [Sample]}, the sweeps of ``task``,
    errors oriented by ``measure``) and ``speeds`` ({device, mode, batch, models: [{ms, flops, acts}]} or None),
    each as it reads on ``task`` (``reading``): one with no meaning there is ``not applicable``, with why (on
    classification such a finding is left out: its table is the paper's)."""
    rows = []
    for f in FINDINGS:
        if only and f.id not in only:
            continue
        v = reading(f, task)
        if isinstance(v, str):
            if task != "classify":
                rows.append(FindingRow(f.id, f.claim, "", NA, v))
            continue
        if v.missing:  # a claim no built-in space tests yet
            rows.append(FindingRow(f.id, v.claim, v.criterion, CANT, v.missing,
                                   settle="a space file that tests it (docs/spaces.md), sampled and trained"))
            continue
        own = [sp for sp in v.spaces if evidence.get(sp)] or list(evidence)  # (none of its own: what is here)
        stages = {s.stages for sp in own for s in evidence.get(sp, [])} - {None}
        if v.stages and stages and max(stages) < 2:  # only one-stage spaces here: width growth means nothing
            rows.append(FindingRow(f.id, v.claim, v.criterion, NA, f"the {task} sweeps here ({', '.join(own)}) have "
                                   f"one stage: a width growth across stages has no meaning there"))
            continue
        row = v.judge(v, evidence, n_boot=n_boot, ci=ci, seed=seed, speeds=speeds, measure=measure)
        if task != "classify":  # the plan that settles it is the task's
            row.settle = row.settle.replace("dse findings --plan", f"dse findings --plan --task {task}")
        rows.append(row)
    return FindingsResult(rows, ci=ci, metric=metric, task=task)
