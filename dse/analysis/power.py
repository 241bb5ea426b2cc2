"""How many models? The power of the KS comparison ``dse edf --compare`` makes, estimated from two pilot
populations, and a group-sequential version of it that stops training once the answer is in.

Power: for n models per space, the probability that the two-sample KS test (scipy's ``ks_2samp``, the test
``dse edf`` reports) rejects at ``alpha``, estimated by drawing n models from each pilot with replacement
(or, with ``effect``, from the pilot of A and the same pilot shifted to a KS distance ``effect``), with a
Clopper-Pearson interval for the Monte-Carlo error and a bootstrap over the pilots for the pilot's own error.

Sequential: looks after each round; at look k (n_k models per space, information time t_k = n_k / n_max) the
test rejects when p_k <= alpha(t_k) - alpha(t_{k-1}), the alpha the Lan-DeMets O'Brien-Fleming-type spending
function alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t)) allots to that look (Lan & DeMets 1983, Biometrika 70:
659-663). The looks' increments sum to alpha, so by the union bound the error rate over all looks is at most
alpha whatever the correlation between looks (conservative: the KS statistics of nested samples are positively
correlated). The adjusted p-value is min over looks of p_k * alpha / alpha_k. Futility (optional, non-binding:
it can only lower the error rate) stops with "no difference" when the conditional power, the chance that the
remaining looks reject if the current samples were the populations, falls below a threshold.

    >>> round(obf_spending(1.0, 0.05), 6), round(obf_spending(0.5, 0.05), 6)
    (0.05, 0.005575)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from dse.analysis.edf import dkw_half_width, ks_test
from dse.analysis.results import Drawable
from dse.errors import DseError, ParamError
from dse.validate import check_int, check_number, is_number


def obf_spending(t: float, alpha: float) -> float:
    """alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)): the alpha spent by information time t in (0, 1]."""
    from scipy.stats import norm

    if t <= 0:
        return 0.0
    return float(2.0 - 2.0 * norm.cdf(norm.ppf(1.0 - alpha / 2.0) / np.sqrt(min(t, 1.0))))


def ks_pvalue(a, b) -> tuple[float, float]:
    """(D, p) of the two-sample KS test dse edf reports (``dse.analysis.edf.ks_test``: scipy.stats.ks_2samp)."""
    return ks_test(a, b)


def _ks_d(a_sorted: np.ndarray, b_sorted: np.ndarray) -> float:
    x = np.concatenate([a_sorted, b_sorted])
    fa = np.searchsorted(a_sorted, x, side="right") / len(a_sorted)
    fb = np.searchsorted(b_sorted, x, side="right") / len(b_sorted)
    return float(np.abs(fa - fb).max())


class _PTable:
    """p-values of ks_2samp for two samples of n each, by D = k/n (the exact test depends on D, n only): one
    scipy call per distinct D instead of one per simulated study."""

    def __init__(self):
        self.cache = {}

    def p(self, d: float, n: int) -> float:
        k = int(round(d * n))
        if (k, n) not in self.cache:
            if k == 0:
                self.cache[(k, n)] = 1.0
            else:  # two samples whose KS distance is exactly k/n
                x = np.arange(n, dtype=np.float64)
                self.cache[(k, n)] = ks_pvalue(x, x + k - 0.5)[1]
        return self.cache[(k, n)]


def _shift_for(pilot: np.ndarray, d: float) -> float:
    """The shift s with sup |F(x) - F(x - s)| = d for the pilot's EDF F (bisection; the nearest reachable)."""
    x = np.sort(pilot)
    if d <= 0:
        return 0.0
    lo, hi = 0.0, float(x[-1] - x[0]) + 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _ks_d(x, x + mid) < d:
            lo = mid
        else:
            hi = mid
    return hi


def _draws(rng, pop: np.ndarray, n: int, reps: int) -> np.ndarray:
    return np.sort(rng.choice(pop, size=(reps, n), replace=True), axis=1)


def rejection_rate(pa, pb, n: int, alpha: float, reps: int, rng, table: _PTable | None = None) -> int:
    """How many of ``reps`` studies with n models per space (drawn from populations pa, pb) the KS test rejects."""
    table = table or _PTable()
    A, B = _draws(rng, pa, n, reps), _draws(rng, pb, n, reps)
    return sum(table.p(_ks_d(A[r], B[r]), n) <= alpha for r in range(reps))


@dataclass
class PowerRow:
    n: int
    power: float
    low: float
    high: float
    band_half_width: float  # the DKW band of one EDF from n models at 95%
    expected_ks: float      # mean KS distance between an EDF from n models and its pilot's

    def to_json(self) -> dict:
        return dict(vars(self))


@dataclass
class SequentialPlan:
    """The sequential procedure simulated from the pilots: rejection rate and mean n at stopping under the null
    (both spaces drawn from the pooled pilots) and under the observed difference, and the fixed n of equal power."""

    step: int
    max: int
    null_reject: float
    alt_reject: float
    mean_n_null: float
    mean_n_alt: float
    fixed_n: int | None

    def to_json(self) -> dict:
        return dict(vars(self))


@dataclass
class PowerResult(Drawable):
    """Power of the KS comparison of two spaces at each n, the n that reaches ``target``, the models and hours it
    costs beyond those trained, the uncertainty the small pilot adds, and optionally the sequential design."""

    sweeps: tuple
    pilot_n: tuple
    alpha: float
    target: float
    effect: float | None
    reps: int
    rows: list
    n_needed: int | None
    more_models: int | None
    hours: float | None
    pilot_interval: tuple | None  # power at n_needed over bootstrap resamples of the pilots (2.5, 97.5 %)
    sequential: SequentialPlan | None = None
    hours_range: tuple | None = None  # (low, high) of ``hours`` (dse.analysis.cost's range)
    _size = (6.0, 4.2)

    def to_json(self) -> dict:
        return {"sweeps": list(self.sweeps), "pilot_n": list(self.pilot_n), "alpha": self.alpha,
                "target": self.target, "effect": self.effect, "reps": self.reps,
                "rows": [r.to_json() for r in self.rows], "n_needed": self.n_needed, "more_models": self.more_models,
                "hours": self.hours, "hours_range": list(self.hours_range) if self.hours_range else None,
                "pilot_interval": list(self.pilot_interval) if self.pilot_interval else None,
                "sequential": self.sequential.to_json() if self.sequential else None}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([r.to_json() for r in self.rows])

    def _draw(self, axes):
        ax = axes[0]
        ns = [r.n for r in self.rows]
        ax.plot(ns, [r.power for r in self.rows], "o-", label="power")
        ax.fill_between(ns, [r.low for r in self.rows], [r.high for r in self.rows], alpha=0.2, lw=0,
                        label="Monte-Carlo 95%")
        ax.axhline(self.target, color="tab:red", lw=1, ls="--", label=f"target {self.target:g}")
        if self.n_needed:
            ax.axvline(self.n_needed, color="tab:green", lw=1, ls=":", label=f"n = {self.n_needed}")
        ax.set_xlabel("models per space")
        ax.set_ylabel(f"P(KS rejects at {self.alpha:g})")
        ax.set_ylim(0, 1)
        ax.set_title(" vs ".join(self.sweeps), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)


MAX_N = 10_000            # models per space a power table may ask about (the largest studies are thousands)
MAX_REPS = 100_000        # simulated studies per n
MAX_DRAWS = 2 * 10**7     # n x reps of one n: two (reps, n) float arrays of 160 MB each
MAX_SEQUENTIAL = 10_000   # --max of a simulated or run sequential comparison
MAX_LOOKS = 200           # looks (max / step): each look of each simulated study is a KS test


def check_power_options(alpha, target, reps, ns, effect=None) -> None:
    """The options of a power table, checked before any data is read: a refusal names the option and the limit
    (every limit bounds the simulation's time and memory)."""
    check_number(alpha, "alpha", 0, 1, low_open=True, high_open=True)
    if not (is_number(target) and alpha < target < 1):
        raise ParamError(f"{{target}} must be a power above {{alpha}} ({alpha:g}) and below 1, got {target!r}: at or "
                         f"below alpha, two identical spaces already reach it", "target", "alpha")
    if not (isinstance(reps, numbers.Integral) and not isinstance(reps, bool) and 100 <= reps <= MAX_REPS):
        raise ParamError(f"{{reps}} must be an integer from 100 to {MAX_REPS:,}, got {reps!r}", "reps")
    if not ns or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and 2 <= n <= MAX_N for n in ns):
        raise ParamError(f"{{n}} must be model counts from 2 to {MAX_N:,}, got {ns!r}", "n")
    if max(ns) * reps > MAX_DRAWS:
        raise ParamError(f"{{n}} {max(ns):,} x {{reps}} {reps:,} simulated models is more than {MAX_DRAWS:,} per n "
                         f"(memory and minutes); lower {{reps}} to {MAX_DRAWS // max(ns):,} or fewer", "n", "reps")
    if effect is not None and not (is_number(effect) and 0 < effect < 1):
        raise ParamError(f"{{effect}} must be a KS distance > 0 and < 1, got {effect!r}", "effect")


def check_sequential(step, max_n) -> None:
    """--step and --max of a sequential comparison: whole counts, max >= step, at most MAX_LOOKS looks."""
    check_int(step, "step", 1, MAX_SEQUENTIAL)
    if not (isinstance(max_n, numbers.Integral) and not isinstance(max_n, bool) and step <= max_n <= MAX_SEQUENTIAL):
        raise ParamError(f"{{max}} must be an integer >= {{step}} ({step}) and <= {MAX_SEQUENTIAL:,}, got {max_n!r}",
                         "max", "step")
    if -(-max_n // step) > MAX_LOOKS:
        raise ParamError(f"{{max}} {max_n} / {{step}} {step} is {-(-max_n // step):,} looks; at most {MAX_LOOKS} "
                         f"(use {{step}} {-(-max_n // MAX_LOOKS)} or more)", "max", "step")


MIN_PILOT = 5


def power_analysis(a, b, names=("a", "b"), ns=(25, 50, 100, 200), alpha: float = 0.05, target: float = 0.8,
                   effect: float | None = None, reps: int = 2000, seed: int = 0, seconds_per_model=None,
                   pilot_boot: int = 100, sequential: tuple | None = None) -> PowerResult:
    """The power table of the KS comparison of pilots ``a`` and ``b`` (arrays of errors) at each n in ``ns``.
    ``seconds_per_model``: the pilots' mean training time, for the hours the missing models cost;
    ``sequential``: (step, max) to simulate the sequential procedure too."""
    from scipy.stats import binomtest

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    check_power_options(alpha, target, reps, list(ns), effect)
    for name, p in zip(names, (a, b)):
        if p.ndim != 1 or not np.isfinite(p).all():
            raise ParamError(f"the errors of pilot {name!r} must be finite numbers in one list (a NaN or inf is no "
                             f"error; leave failed models out)", "a" if name == names[0] else "b")
        if len(p) < MIN_PILOT:
            raise DseError(f"sweep {name!r} has {len(p)} trained model(s); a pilot needs at least {MIN_PILOT} "
                           f"(train more: dse sample --sweep {name} -n 20 tops it up, then dse train)")
    # the pilots' own n belongs in the grid: a comparison they already settle needs no more models
    ns = sorted({int(n) for n in ns} | {min(len(a), len(b), MAX_N)})
    rng = np.random.default_rng(seed)
    if effect is not None:
        shift = _shift_for(a, effect)
        made = _ks_d(np.sort(a), np.sort(a + shift))
        if made - effect > 1.0 / len(a) + 1e-9:  # ties: the EDF jumps by more than one model's step
            raise ParamError(f"{{effect}} {effect:g}: no shift of the errors of sweep {names[0]!r} makes that KS "
                             f"distance; its {len(a)} errors hold ties ({len(np.unique(a))} distinct values), so the "
                             f"nearest shift makes {made:.3f}. Ask for {made:.3f} or more, or leave {{effect}} out to "
                             f"compare the two pilots", "effect")
    pa, pb = (a, a + shift) if effect is not None else (a, b)
    table, rows = _PTable(), []
    for n in ns:
        k = rejection_rate(pa, pb, n, alpha=alpha, reps=reps, rng=rng, table=table)
        ci = binomtest(int(k), reps).proportion_ci(0.95)
        exp_ks = float(np.mean([_ks_d(s, np.sort(pa)) for s in _draws(rng, pa, n, min(reps, 500))]))
        rows.append(PowerRow(n, k / reps, float(ci.low), high=float(ci.high), band_half_width=dkw_half_width(n),
                             expected_ks=exp_ks))
    hit = [r.n for r in rows if r.power >= target]
    n_needed = hit[0] if hit else None
    more = max(0, n_needed - min(len(a), len(b))) if n_needed else None
    hours = more * 2 * seconds_per_model / 3600 if more is not None and seconds_per_model else None
    interval = None
    if n_needed and effect is None and pilot_boot:
        ps = [rejection_rate(rng.choice(a, len(a)), rng.choice(b, len(b)), n_needed, alpha=alpha, reps=200, rng=rng,
                             table=table) / 200
              for _ in range(pilot_boot)]
        interval = (float(np.percentile(ps, 2.5)), float(np.percentile(ps, 97.5)))
    seq = None
    if sequential:
        seq = plan_sequential(pa, pb, *sequential, alpha=alpha, reps=max(200, reps // 4), rng=rng, table=table)
    return PowerResult(tuple(names), (len(a), len(b)), alpha, target=target, effect=effect, reps=reps, rows=rows,
                       n_needed=n_needed, more_models=more, hours=hours,
                       pilot_interval=interval, sequential=seq)


# ---- the sequential procedure ----

@dataclass
class Look:
    n: int
    statistic: float
    p: float
    boundary: float  # the alpha this look may spend: reject when p <= boundary

    def to_json(self) -> dict:
        return dict(vars(self))


@dataclass
class SequentialDecision:
    """continue, different or no difference, with each look and the p-value adjusted for the looks."""

    decision: str
    looks: list = field(default_factory=list)
    p_adjusted: float = 1.0
    reason: str = ""
    fixed_n: int | None = None  # the fixed n per space of the same power (simulated from the final samples)
    saved: int | None = None    # models per space saved against it (negative: the sequential design cost more)
    n: dict | None = None       # {space: models its last look used} (failed ones left out; at most max)

    def to_json(self) -> dict:
        return {"decision": self.decision, "n": self.n, "looks": [x.to_json() for x in self.looks],
                "p_adjusted": self.p_adjusted, "reason": self.reason, "fixed_n": self.fixed_n, "saved": self.saved}


def boundaries(ns, max_n: int, alpha: float) -> list[float]:
    """The alpha each look at n in ``ns`` (increasing) may spend: alpha(t_k) - alpha(t_{k-1}), t = n / max_n."""
    out, spent = [], 0.0
    for n in ns:
        a = obf_spending(n / max_n, alpha)
        out.append(max(a - spent, 0.0))
        spent = a
    return out


def sequential_decision(a_rounds, b_rounds, max_n: int, alpha: float = 0.05, futility: float | None = 0.1,
                        cp_reps: int = 200, seed: int = 0, table: _PTable | None = None,
                        last: bool = False) -> SequentialDecision:
    """The decision after the rounds so far: ``a_rounds``/``b_rounds`` are lists of arrays, the errors each round
    added to each space (a look after each round, on all the models so far). ``last``: no round follows (the
    sweeps hold ``max_n`` models, some of them failed): the look spends what alpha is left and decides. Pure:
    arrays in, a decision out.

    >>> rng = np.random.default_rng(0)
    >>> sequential_decision([rng.normal(0, 1, 20)], [rng.normal(3, 1, 20)], max_n=100).decision
    'different'
    """
    if not a_rounds or len(a_rounds) != len(b_rounds):
        raise ParamError("{rounds}: give the same number of rounds (arrays of errors) for both spaces", "rounds")
    if not (isinstance(max_n, numbers.Integral) and not isinstance(max_n, bool) and 1 <= max_n <= MAX_SEQUENTIAL):
        raise ParamError(f"{{max_n}} must be an integer >= 1 and <= {MAX_SEQUENTIAL:,}, got {max_n!r}", "max_n")
    if any(not np.isfinite(np.asarray(r, dtype=np.float64)).all() for r in (*a_rounds, *b_rounds)):
        raise ParamError("{rounds}: the errors must be finite numbers (a NaN or inf is no error)", "rounds")
    table = table or _PTable()
    a_all, b_all, ns, stats = np.array([]), np.array([]), [], []
    for ra, rb in zip(a_rounds, b_rounds):
        a_all, b_all = np.concatenate([a_all, ra]), np.concatenate([b_all, rb])
        n = min(len(a_all), len(b_all))
        ns.append(n)
        stats.append(ks_pvalue(a_all[:n], b_all[:n]))
    bounds = boundaries(ns, max_n, alpha)
    if last and ns[-1] < max_n:  # the final look, short of max_n by failed models: it may spend the rest
        bounds[-1] = alpha - sum(bounds[:-1])
    looks = [Look(n, d, p, bd) for n, (d, p), bd in zip(ns, stats, bounds)]
    p_adj = min(1.0, min((lk.p * alpha / lk.boundary if lk.boundary > 0 else 1.0) for lk in looks))
    if any(lk.p <= lk.boundary for lk in looks):
        return SequentialDecision("different", looks, p_adj, "the KS test crossed its boundary")
    if ns[-1] >= max_n or last:
        short = "" if ns[-1] >= max_n else f" ({ns[-1]} trained: the others failed or diverged)"
        return SequentialDecision("no difference", looks, p_adj,
                                  f"no look rejected up to {max_n} models per space{short}")
    if futility is not None:
        step = ns[-1] - ns[-2] if len(ns) > 1 and ns[-1] > ns[-2] else ns[-1]  # the rounds so far say the step
        cp = conditional_power(a_all, b_all, ns[-1], max_n=max_n, step=step, alpha=alpha, reps=cp_reps,
                               rng=np.random.default_rng(seed), table=table)
        if cp < futility:
            return SequentialDecision("no difference", looks, p_adj,
                                      f"futility: conditional power {cp:.3f} < {futility:g} (the remaining looks "
                                      f"would reject in {100 * cp:.1f}% of continuations)")
    return SequentialDecision("continue", looks, p_adj, "")


def conditional_power(a, b, n_now: int, max_n: int, step: int, alpha: float, reps: int, rng, table) -> float:
    """The chance that a later look rejects if the current samples were the populations: continue each study by
    drawing the missing models from them, looking every ``step`` models up to ``max_n``."""
    later = list(range(n_now + step, max_n, step)) + [max_n]
    bounds = dict(zip(later, boundaries([n_now] + later, max_n, alpha)[1:]))
    hits = 0
    for _ in range(reps):
        ea = np.concatenate([a[:n_now], rng.choice(a, max_n - n_now)])
        eb = np.concatenate([b[:n_now], rng.choice(b, max_n - n_now)])
        for n in later:
            if table.p(_ks_d(np.sort(ea[:n]), np.sort(eb[:n])), n) <= bounds[n]:
                hits += 1
                break
    return hits / reps


def simulate_sequential(pa, pb, step: int, max_n: int, alpha: float, reps: int, rng, table=None,
                        futility: float | None = None) -> tuple[float, float]:
    """(fraction of studies ending 'different', mean n per space at stopping) for the procedure on populations
    pa and pb (without futility by default: non-binding, it only stops earlier with 'no difference')."""
    table = table or _PTable()
    ns = list(range(step, max_n, step)) + [max_n]
    bounds = boundaries(ns, max_n, alpha)
    rej, stop = 0, []
    for _ in range(reps):
        ea, eb = rng.choice(pa, max_n), rng.choice(pb, max_n)
        n_stop = max_n
        for n, bd in zip(ns, bounds):
            if table.p(_ks_d(np.sort(ea[:n]), np.sort(eb[:n])), n) <= bd:
                rej += 1
                n_stop = n
                break
        stop.append(n_stop)
    return rej / reps, float(np.mean(stop))


def plan_sequential(pa, pb, step: int, max_n: int, alpha: float = 0.05, reps: int = 500, rng=None,
                    table=None) -> SequentialPlan:
    """The sequential procedure from the pilots: under the null (pooled pilots for both spaces) and under the
    observed difference, and the fixed n whose power equals the sequential design's."""
    check_sequential(step, max_n)
    rng = rng or np.random.default_rng(0)
    table = table or _PTable()
    pooled = np.concatenate([pa, pb])
    null_r, null_n = simulate_sequential(pooled, pooled, step, max_n=max_n, alpha=alpha, reps=reps, rng=rng,
                                         table=table)
    alt_r, alt_n = simulate_sequential(pa, pb, step, max_n=max_n, alpha=alpha, reps=reps, rng=rng, table=table)
    fixed = None
    for n in range(step, max_n + 1, step):  # the smallest fixed n (on the step grid) with the same power
        if rejection_rate(pa, pb, n, alpha=alpha, reps=reps, rng=rng, table=table) / reps >= alt_r:
            fixed = n
            break
    return SequentialPlan(step, max_n, null_r, alt_reject=alt_r, mean_n_null=null_n, mean_n_alt=alt_n, fixed_n=fixed)
