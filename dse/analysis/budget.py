"""Is the training budget long enough? Rank stability across budgets, and undertraining signals.

The method assumes that a short budget ranks models as a longer one would (NDS section 4, RegNet section 3).
Two checks, both pure (arrays and records in, results out):

- ``budget_check``: the same K models trained at the sweep's budget and at budget x factor. Per factor:
  Spearman's rho and Kendall's tau between the two budgets' errors (scipy), a percentile-bootstrap interval of
  rho (resampling the model pairs), the overlap of the two top quarters, and the median error change. With
  several sweeps, whether their comparison (the sign of the difference of median errors) survives the longer
  budget, with the KS test at both budgets.
  Verdict, from the longest budget checked:
    trustworthy  rho >= 0.8 and no comparison flips;
    misleading   a comparison flips, or rho < 0.5;
    doubtful     otherwise.
- ``undertraining``: signals computable from the per-epoch rows already stored, no extra training:
    loss_falling  more than half of the models still cut their training loss by >= 10% in the last epoch
                  (needs >= 2 epochs);
    depth         error rises with depth: Spearman rho(depth, error) >= 0.5 with p < 0.01 (deep, narrow nets
                  that a short budget cannot train: the budget, not the design, ranks them);
    near_chance   more than a quarter of the models end within 10% of chance error (100 * (1 - 1/classes)).
  A sweep with at least one signal (and >= 8 trained models) is flagged.
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass, field

import numpy as np

from dse.analysis.results import Drawable
from dse.errors import DseError
from dse.tasks import ERROR, Metric

TRUST_RHO, MISLEAD_RHO = 0.8, 0.5
LOSS_DROP, LOSS_SHARE = 0.10, 0.5
DEPTH_RHO, DEPTH_P = 0.5, 0.01
CHANCE_MARGIN, CHANCE_SHARE = 0.10, 0.25
MIN_FLAG_MODELS = 8


# ---- undertraining signals (no extra training) ----

@dataclass
class Signal:
    """One undertraining signal: its name, the measured value, the threshold, and a sentence."""

    name: str
    value: float
    threshold: float
    message: str

    def to_json(self) -> dict:
        return {"signal": self.name, "value": self.value, "threshold": self.threshold, "message": self.message}


@dataclass
class Undertraining:
    """The undertraining signals of one sweep (``signals`` empty: not flagged)."""

    sweep: str
    n: int
    signals: list = field(default_factory=list)
    measured: dict = field(default_factory=dict)  # every statistic, flagged or not

    @property
    def flagged(self) -> bool:
        return bool(self.signals)

    def warning(self) -> str:
        """One line naming the signals and what to do."""
        return (f"warning: sweep {self.sweep!r} may be undertrained ({'; '.join(s.message for s in self.signals)}): "
                f"the budget, not the design, may rank its models; check with dse budget-check --sweep {self.sweep}")

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "n": self.n, "flagged": self.flagged,
                "signals": [s.to_json() for s in self.signals], "measured": self.measured}


def undertraining(sweep: str, errors, depths, losses, num_classes: int | None,
                  measure: Metric = ERROR) -> Undertraining:
    """The signals of one sweep: ``errors`` (oriented lower-is-better: ``measure.loss`` of the results) and
    ``depths`` per trained model, ``losses`` the per-epoch training losses of each (lists, in epoch order),
    ``num_classes`` for chance error (None: a task without chance, SR or denoising: no such signal).

    >>> u = undertraining("s", [89.0] * 10, list(range(10, 20)), [[2.3, 2.2]] * 10, 10)
    >>> [s.name for s in u.signals]
    ['near_chance']
    """
    from scipy import stats

    e = np.asarray(errors, dtype=np.float64)
    d = np.asarray(depths, dtype=np.float64)
    out = Undertraining(sweep, len(e))
    drops = [(x[-2] - x[-1]) / x[-2] for x in losses if len(x) >= 2 and x[-2] > 0 and np.isfinite(x[-1])]
    if drops:
        share = float(np.mean(np.asarray(drops) >= LOSS_DROP))
        out.measured["loss_falling"] = {"share": share, "median_drop": float(np.median(drops)), "n": len(drops)}
        if share > LOSS_SHARE and len(drops) >= MIN_FLAG_MODELS:
            out.signals.append(Signal("loss_falling", share, LOSS_SHARE,
                                      f"{share:.0%} of models still cut their training loss by >= {LOSS_DROP:.0%} "
                                      f"in the last epoch"))
    if len(e) >= 3 and np.ptp(d) > 0 and np.ptp(e) > 0:
        rho, p = stats.spearmanr(d, e)
        out.measured["depth"] = {"spearman": float(rho), "pvalue": float(p)}
        if rho >= DEPTH_RHO and p < DEPTH_P and len(e) >= MIN_FLAG_MODELS:
            worse = "error rises" if measure == ERROR else f"{measure.label or measure.name} falls"
            out.signals.append(Signal("depth", float(rho), DEPTH_RHO,
                                      f"{worse} with depth (Spearman {rho:.2f}, p = {p:.2g})"))
    if len(e) and num_classes is not None:
        chance = 100.0 * (1 - 1 / max(2, int(num_classes)))
        share = float(np.mean(e >= (1 - CHANCE_MARGIN) * chance))
        out.measured["near_chance"] = {"share": share, "chance_error": chance}
        if share > CHANCE_SHARE and len(e) >= MIN_FLAG_MODELS:
            out.signals.append(Signal("near_chance", share, CHANCE_SHARE,
                                      f"{share:.0%} of models end near chance error ({chance:.0f}%)"))
    return out


# ---- budget check: the same models at a longer budget ----

def scale_budget(budget: str, factor: float) -> str:
    """'10ep' x 4 -> '40ep'; the result must be a whole number of epochs or steps."""
    from dse.errors import ParamError
    from dse.train.protocol import parse_budget

    n, unit = parse_budget(budget)
    if not factor > 1 or not np.isfinite(factor):
        raise ParamError(f"{{factors}}: a factor must be a number > 1 (a longer budget), got {factor:g}", "factors")
    v = n * factor
    if abs(v - round(v)) > 1e-9:
        raise ParamError(f"{{factors}}: {budget} x {factor:g} = {v:g} is not a whole number of "
                         f"{'epochs' if unit == 'ep' else 'steps'}; choose a factor that gives one", "factors")
    return f"{int(round(v))}{unit}"


def stratified(errors, k: int, seed: int = 0) -> np.ndarray:
    """Positions of ``k`` models spread over the error quantiles: the models sorted by error, cut into k
    strata of (nearly) equal size, one drawn at random from each (so good and bad models are both in)."""
    e = np.asarray(errors, dtype=np.float64)
    order = np.argsort(e, kind="stable")
    rng = np.random.default_rng(seed)
    cuts = np.linspace(0, len(e), k + 1).astype(int)
    return np.array(sorted(order[rng.integers(a, b)] for a, b in zip(cuts[:-1], cuts[1:])), dtype=np.int64)


def top_overlap(base, long, frac: float = 0.25) -> float:
    """|top-q of base  and  top-q of long| / q, with q = ceil(frac * n) (ties by position)."""
    q = max(1, int(np.ceil(frac * len(base))))
    a = set(np.argsort(base, kind="stable")[:q].tolist())
    b = set(np.argsort(long, kind="stable")[:q].tolist())
    return len(a & b) / q


MIN_K = 10  # below this many models per sweep at both budgets, no verdict: "too few models to tell"
SHRINK = 0.5  # a gap between two sweeps that shrinks below this share of itself at the longer budget is doubtful


def _spearman_fisher(rho: float, n: int, ci: float = 95.0) -> tuple[float, float]:
    """Fisher-z interval of Spearman's rho with Bonett & Wright's (2000) standard error sqrt((1 + rho^2/2)/(n-3)):
    honest at small n, where a bootstrap over a handful of pairs is not; (-1, 1) for n <= 3. A perfect |rho| = 1
    is taken as 1 - 1/n^2 (its z would be infinite: n pairs cannot establish a perfect correlation)."""
    from scipy.stats import norm

    if n <= 3 or not np.isfinite(rho):
        return -1.0, 1.0
    r = float(np.clip(rho, -(1 - 1 / n ** 2), 1 - 1 / n ** 2))
    z, se = np.arctanh(r), np.sqrt((1 + r * r / 2) / (n - 3))
    q = norm.ppf(1 - (100 - ci) / 200)
    return float(np.tanh(z - q * se)), float(np.tanh(z + q * se))


def _spearman_boot(x, y, n_boot: int, seed: int, ci: float = 95.0) -> tuple[float, float]:
    """Percentile-bootstrap interval of Spearman's rho, resampling pairs (vectorised: ranks, then Pearson)."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    n = len(x)
    idx = rng.integers(0, n, (n_boot, n))
    rx = stats.rankdata(x[idx], axis=1)
    ry = stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    ok = den > 0
    rho = (rx * ry).sum(axis=1)[ok] / den[ok]
    if not len(rho):
        return float("nan"), float("nan")
    lo, hi = np.percentile(rho, [(100 - ci) / 2, 100 - (100 - ci) / 2])
    return float(lo), float(hi)


@dataclass
class FactorCheck:
    """One sweep at one factor: the rank agreement of its K models between the base and the longer budget."""

    sweep: str
    factor: float
    budget: str
    n: int
    spearman: float
    spearman_low: float
    spearman_high: float
    kendall: float
    top_overlap: float
    median_change: float
    base: np.ndarray = field(repr=False, default=None)
    long: np.ndarray = field(repr=False, default=None)

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "factor": self.factor, "budget": self.budget, "n": self.n,
                "spearman": self.spearman, "spearman_low": self.spearman_low, "spearman_high": self.spearman_high,
                "kendall": self.kendall, "top_overlap": self.top_overlap, "median_change": self.median_change}


@dataclass
class Comparison:
    """Two sweeps' order (by median error of their checked models) at the base and at the longer budget."""

    a: str
    b: str
    factor: float
    base_order: str
    long_order: str
    flipped: bool
    ks_base: float
    p_base: float
    ks_long: float
    p_long: float
    gap_base: float = 0.0  # median error of b minus a's, at the base budget and at the longer one
    gap_long: float = 0.0
    population: dict | None = None  # the whole populations: effects at the base budget and predicted (see below)

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "factor": self.factor, "base_order": self.base_order,
                "long_order": self.long_order, "flipped": self.flipped, "ks_base": self.ks_base,
                "p_base": self.p_base, "ks_long": self.ks_long, "p_long": self.p_long, "gap_base": self.gap_base,
                "gap_long": self.gap_long, "population": self.population}


def _shown_effects(pop: dict | None, measure: Metric) -> dict | None:
    """population_effects' gaps (of oriented errors) in the measure's own values: a PSNR gap is b's minus a's in
    dB, its interval's ends swapped by the negation."""
    if pop is None or measure == ERROR:
        return pop
    v = measure.shown
    lo, hi = sorted((v(pop["gap_long_low"]), v(pop["gap_long_high"])))
    return {**pop, "gap_base": v(pop["gap_base"]), "gap_long": v(pop["gap_long"]), "gap_long_low": lo,
            "gap_long_high": hi}


def predict_long(base, long, errors) -> np.ndarray:
    """Every model's error at the longer budget predicted from its base error: the monotone (isotonic,
    non-decreasing; scipy) fit of the K pairs (base, long), linear between the fitted points, flat beyond them."""
    from scipy.optimize import isotonic_regression

    x, y = np.asarray(base, dtype=np.float64), np.asarray(long, dtype=np.float64)
    o = np.argsort(x, kind="stable")
    fit = isotonic_regression(y[o], increasing=True).x
    ux, inv = np.unique(x[o], return_inverse=True)  # tied base errors: their mean fitted value
    uy = np.bincount(inv, fit) / np.bincount(inv)
    return np.interp(np.asarray(errors, dtype=np.float64), ux, uy)


def population_effects(pa, ea, pb, eb, n_boot: int = 500, seed: int = 0, ci: float = 95.0) -> dict:
    """The comparison of two whole populations (all trained models' base errors ``ea``, ``eb``) at the base budget
    and predicted at the longer one from each sweep's K pairs (``pa``, ``pb`` = (base, long)): KS D and the
    difference of medians (b - a), with percentile intervals from resampling the pairs (the prediction's own
    uncertainty)."""
    from scipy import stats

    ea, eb = np.asarray(ea, dtype=np.float64), np.asarray(eb, dtype=np.float64)
    rng = np.random.default_rng(seed)

    def effects(qa, qb):
        la, lb = predict_long(*qa, ea), predict_long(*qb, eb)
        return float(stats.ks_2samp(la, lb).statistic), float(np.median(lb) - np.median(la))

    ks, gap = effects(pa, pb)
    boot = []
    for _ in range(n_boot):
        ia, ib = rng.integers(0, len(pa[0]), len(pa[0])), rng.integers(0, len(pb[0]), len(pb[0]))
        boot.append(effects((np.asarray(pa[0])[ia], np.asarray(pa[1])[ia]), (np.asarray(pb[0])[ib],
                                                                             np.asarray(pb[1])[ib])))
    q = [(100 - ci) / 2, 100 - (100 - ci) / 2]
    bk, bg = np.percentile([b[0] for b in boot], q), np.percentile([b[1] for b in boot], q)
    base = stats.ks_2samp(ea, eb)
    return {"n": [len(ea), len(eb)], "ks_base": float(base.statistic), "p_base": float(base.pvalue),
            "gap_base": float(np.median(eb) - np.median(ea)), "ks_long": ks, "ks_long_low": float(bk[0]),
            "ks_long_high": float(bk[1]), "gap_long": gap, "gap_long_low": float(bg[0]), "gap_long_high": float(bg[1])}


@dataclass
class BudgetCheck(Drawable):
    """Rank stability of sweeps across budgets, and the verdict (see the module's thresholds)."""

    sweeps: list
    factors: list      # [FactorCheck]
    comparisons: list  # [Comparison]
    verdict: str
    why: str
    measure: Metric = ERROR  # what median_change and the gaps are in (an error's points, or a PSNR's dB)

    _size = (5.5, 4.5)

    def to_json(self) -> dict:
        return {"sweeps": self.sweeps, "factors": [f.to_json() for f in self.factors],
                "comparisons": [c.to_json() for c in self.comparisons], "verdict": self.verdict, "why": self.why,
                **({"measure": self.measure.name, "unit": self.measure.unit} if self.measure != ERROR else {}),
                "thresholds": {"trustworthy_spearman": TRUST_RHO, "misleading_spearman": MISLEAD_RHO}}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([f.to_json() for f in self.factors])

    def _panels(self) -> int:
        return len(self.factors)

    def _draw(self, axes):
        from dse.report.plots import draw_budget

        for ax, f in zip(axes, self.factors):
            draw_budget(ax, f, self.measure)


def _order(a: str, b: str, ea, eb, measure: Metric = ERROR) -> str:
    """'a < b' when a's median (as the measure reads it: an error, or a PSNR) is below b's."""
    ma, mb = float(measure.shown(np.median(ea))), float(measure.shown(np.median(eb)))
    return f"{a} < {b}" if ma < mb else f"{a} > {b}" if ma > mb else f"{a} = {b}"


def budget_check(pairs: dict, budgets: dict, n_boot: int = 2000, seed: int = 0,
                 populations: dict | None = None, measure: Metric = ERROR) -> BudgetCheck:
    """``pairs`` {(sweep, factor): (base errors, long errors)} of the same models (aligned), ``budgets``
    {(sweep, factor): the longer budget's name}; ``populations`` {sweep: every trained model's base error}: the
    comparisons are then also judged on the whole populations (``population_effects``). Correlations are scipy's
    spearmanr and kendalltau. Errors are oriented lower-is-better (``measure.loss`` of a PSNR); the sentences and
    ``BudgetCheck.measure`` say them in the measure's own values."""
    from scipy import stats

    checks = []
    for (s, f), (x, y) in pairs.items():
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if len(x) < 3:
            raise DseError(f"sweep {s!r} at x{f:g}: {len(x)} model(s) trained at both budgets; a rank check needs "
                           f"at least 3")
        with warnings.catch_warnings():  # errors all equal at one budget: rho is NaN, said by the verdict
            warnings.simplefilter("ignore")
            rho = float(stats.spearmanr(x, y)[0])
            tau = float(stats.kendalltau(x, y)[0])
        lo, hi = _spearman_boot(x, y, n_boot, seed)
        flo, fhi = _spearman_fisher(rho, len(x))
        lo, hi = float(np.nanmin([lo, flo])), float(np.nanmax([hi, fhi]))  # the wider: honest when n is small
        checks.append(FactorCheck(s, f, budgets[(s, f)], n=len(x), spearman=rho, spearman_low=lo, spearman_high=hi,
                                  kendall=tau, top_overlap=top_overlap(x, y),
                                  median_change=float(measure.shown(np.median(y - x))), base=x, long=y))
    comps = []
    sweeps = list(dict.fromkeys(s for s, _ in pairs))
    factors = sorted({f for _, f in pairs})
    for f in factors:
        for i, a in enumerate(sweeps):
            for b in sweeps[i + 1:]:
                if (a, f) not in pairs or (b, f) not in pairs:
                    continue
                (xa, ya), (xb, yb) = pairs[(a, f)], pairs[(b, f)]
                kb, kl = stats.ks_2samp(xa, xb), stats.ks_2samp(ya, yb)
                bo, lo_ = _order(a, b, xa, xb, measure), _order(a, b, ya, yb, measure)
                pop = None
                if populations and a in populations and b in populations and min(len(xa), len(xb)) >= 3:
                    pop = population_effects((xa, ya), populations[a], (xb, yb), eb=populations[b],
                                             n_boot=min(n_boot, 500), seed=seed)
                comps.append(Comparison(a, b, f, base_order=bo, long_order=lo_, flipped=bo != lo_,
                                        ks_base=float(kb.statistic), p_base=float(kb.pvalue),
                                        ks_long=float(kl.statistic), p_long=float(kl.pvalue),
                                        gap_base=float(measure.shown(np.median(xb) - np.median(xa))),
                                        gap_long=float(measure.shown(np.median(yb) - np.median(ya))),
                                        population=_shown_effects(pop, measure)))
    top = max(factors)
    pts = measure.points  # the gaps are in the measure's own values (a PSNR gap: b's minus a's, in dB)
    rhos = [c.spearman for c in checks if c.factor == top]
    flips = [c for c in comps if c.factor == top and c.flipped]
    undefined = [c for c in checks if c.factor == top and not np.isfinite(c.spearman)]  # all equal at one budget
    worst = min((r for r in rhos if np.isfinite(r)), default=float("nan"))
    k = min(c.n for c in checks if c.factor == top)
    shrunk = [c for c in comps if c.factor == top and not c.flipped and c.gap_base != 0
              and abs(c.gap_long) < SHRINK * abs(c.gap_base)]
    vanish = [c for c in comps if c.factor == top and c.population and c.population["p_base"] < 0.05
              and c.population["gap_long_low"] <= 0 <= c.population["gap_long_high"]]
    if k < MIN_K:
        verdict = "too few models to tell"
        why = (f"{k} model(s) per sweep were retrained; a rank check needs at least {MIN_K} (retrain with --models "
               f"{MIN_K} or more)")
    elif undefined and not flips and not (worst < MISLEAD_RHO):  # judged whatever the order of the sweeps
        c = undefined[0]
        same = "base" if np.ptp(c.base) == 0 else "longer"
        verdict, why = "doubtful", (f"at x{top:g} the {c.n} retrained models of {c.sweep} all have the same "
                                    f"{measure.noun} at "
                                    f"the {same} budget, so their ranking cannot be compared (Spearman undefined)")
    elif flips or worst < MISLEAD_RHO:
        verdict = "misleading"
        why = (f"at x{top:g} the order of {flips[0].a} and {flips[0].b} flips ({flips[0].base_order} -> "
               f"{flips[0].long_order})" if flips else f"at x{top:g} Spearman {worst:.2f} < {MISLEAD_RHO}")
    elif vanish:  # judged on the whole populations, the difference may not survive the longer budget
        c = vanish[0]
        q = c.population
        verdict, why = "doubtful", (f"at x{top:g}, predicted for all {q['n'][0]} + {q['n'][1]} models from the "
                                    f"retrained pairs, the gap between {c.a} and {c.b} is {q['gap_long']:+.2f} {pts} "
                                    f"({q['gap_long_low']:+.2f}..{q['gap_long_high']:+.2f}; at the base budget "
                                    f"{q['gap_base']:+.2f}, KS p {q['p_base']:.3g}): it may vanish")
    elif shrunk:  # the order holds but the difference a study would report is melting away
        c = shrunk[0]
        verdict, why = "doubtful", (f"at x{top:g} the gap between {c.a} and {c.b} shrinks from {c.gap_base:+.2f} "
                                    f"to {c.gap_long:+.2f} {pts} of median {measure.noun} (below {SHRINK:g} of "
                                    f"itself)")
    elif worst >= TRUST_RHO:
        verdict, why = "trustworthy", f"at x{top:g} Spearman {worst:.2f} >= {TRUST_RHO} and no comparison flips"
    else:
        verdict, why = "doubtful", f"at x{top:g} Spearman {worst:.2f} is between {MISLEAD_RHO} and {TRUST_RHO}"
    return BudgetCheck(sweeps, checks, comps, verdict, why, measure=measure)
