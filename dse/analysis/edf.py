"""Error EDFs, NDS complexity normalisation and two-sample Kolmogorov-Smirnov tests."""

from __future__ import annotations

import warnings

import numpy as np

from dse.errors import ParamError


def edf(errors, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted errors and the EDF just after each: F(e) = sum of weights of errors <= e (weights sum to 1)."""
    e = np.asarray(errors, dtype=np.float64)
    w = np.full(len(e), 1.0 / len(e)) if weights is None else np.asarray(weights, dtype=np.float64)
    o = np.argsort(e, kind="stable")
    return e[o], np.cumsum(w[o]) / w.sum()


def effective_n(weights) -> float:
    """Kish's effective sample size of weighted observations: (sum w)^2 / sum w^2 (n for equal weights)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / (w ** 2).sum())


def dkw_half_width(n: float, level: float = 0.95) -> float:
    """The half-width of the simultaneous DKW band (Massart's constant): P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2),
    so eps = sqrt(ln(2 / (1 - level)) / (2 n)).

    >>> round(dkw_half_width(100, 0.95), 4)
    0.1358
    """
    return float(np.sqrt(np.log(2.0 / (1.0 - level)) / (2.0 * n)))


def bootstrap_half_width(errors, weights=None, level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> float:
    """The half-width of a simultaneous bootstrap band: the ``level`` quantile of sup |F* - F| over resamples of the
    n errors (drawn with the EDF's weights as probabilities)."""
    e = np.asarray(errors, dtype=np.float64)
    w = np.full(len(e), 1.0 / len(e)) if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    o = np.argsort(e, kind="stable")
    e, w = e[o], w[o]
    f = np.cumsum(w)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(e), size=(n_boot, len(e)), p=w)  # resampled positions in the sorted errors
    # both EDFs compared at the distinct errors only (the last of each run of ties): tied errors are one step of
    # F, so a resample that only reorders ties is the same EDF (all-equal errors: every resample is F, width 0)
    last = np.r_[np.nonzero(np.diff(e))[0], len(e) - 1]
    sups = np.empty(n_boot)
    for b in range(n_boot):
        fb = np.bincount(idx[b], minlength=len(e)).cumsum() / len(e)  # F* at each sorted error
        sups[b] = np.abs(fb[last] - f[last]).max()
    return float(np.round(np.quantile(sups, level), 12))


def normalization_weights(cx: dict, bins: int, lo_hi=None) -> tuple[dict, tuple[float, float]]:
    """NDS complexity normalisation: k equal bins over [lo, hi] (lo = largest per-set minimum, hi =
    smallest per-set maximum, unless given); a model in bin j of a set with m_j models there weighs
    1/(k*m_j); models outside get weight 0. Returns ({name: weights}, (lo, hi))."""
    if bins < 1:
        raise ParamError(f"{{bins}} must be at least 1, got {bins}", "bins")
    arrs = {k: np.asarray(v, dtype=np.float64) for k, v in cx.items()}
    if lo_hi is None:
        lo = max(a.min() for a in arrs.values())
        hi = min(a.max() for a in arrs.values())
    else:
        lo, hi = map(float, lo_hi)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ParamError(f"{{range}} must be finite with LO < HI, got {lo:g}:{hi:g}", "range")
    if not hi > lo:
        raise ParamError(f"the complexity ranges of the sweeps do not overlap (common range {lo:g}..{hi:g}); "
                         f"compare sweeps of one regime, or give {{range}} LO:HI", "range")
    edges = np.linspace(lo, hi, bins + 1)
    out = {}
    for name, a in arrs.items():
        inside = (a >= lo) & (a <= hi)
        j = np.clip(np.searchsorted(edges, a, side="right") - 1, 0, bins - 1)
        m = np.bincount(j[inside], minlength=bins)
        if np.any(m == 0):
            empty = int(np.flatnonzero(m == 0)[0])
            raise ParamError(f"sweep {name!r} has no model in complexity bin {empty + 1} of {bins} "
                             f"({edges[empty]:.4g}..{edges[empty + 1]:.4g}); use fewer {{bins}} (or a narrower "
                             f"{{range}})",
                             "bins", "range")
        w = np.where(inside, 1.0 / (bins * m[j].clip(min=1)), 0.0)
        out[name] = w
    return out, (float(lo), float(hi))


def weighted_quantile(values, weights, q) -> float:
    """The smallest value v with weighted EDF(v) >= q (the inverse EDF; q in [0, 1])."""
    e, f = edf(values, weights)
    return float(e[min(np.searchsorted(f, q - 1e-12, side="left"), len(e) - 1)])


def edf_stats(errors, weights=None, thresholds=()) -> dict:
    """n, min, mean, median, 10/25/75th percentiles and the fraction of models below each threshold."""
    e = np.asarray(errors, dtype=np.float64)
    if weights is None:
        pct = np.percentile(e, [10, 25, 50, 75])
        out = {"n": len(e), "min": float(e.min()), "mean": float(e.mean()), "median": float(pct[2]),
               "p10": float(pct[0]), "p25": float(pct[1]), "p75": float(pct[3])}
        out["below"] = {str(t): float(np.mean(e < t)) for t in thresholds}
        return out
    w = np.asarray(weights, dtype=np.float64)
    keep = w > 0
    e, w = e[keep], w[keep] / w[keep].sum()
    out = {"n": int(keep.sum()), "min": float(e.min()), "mean": float(np.dot(e, w))}
    for k, q in (("median", 0.5), ("p10", 0.1), ("p25", 0.25), ("p75", 0.75)):
        out[k] = weighted_quantile(e, w, q)
    out["below"] = {str(t): float(w[e < t].sum()) for t in thresholds}
    return out


def ks_test(a, b, wa=None, wb=None) -> tuple[float, float]:
    """Two-sample KS statistic and p-value. Unweighted: scipy.stats.ks_2samp (exact for small samples).
    Weighted: D = sup |F_a - F_b| over the weighted EDFs and p as scipy's asymptotic two-sample method
    (Kolmogorov distribution kstwo at round(n_a n_b / (n_a + n_b))), with the effective sample sizes
    n_eff = (sum w)^2 / sum w^2 in place of the counts (equal weights give scipy's method='asymp')."""
    from scipy import stats  # imported here: it costs half a second of start-up

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if wa is None and wb is None:
        with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp": scipy's fallback
            warnings.simplefilter("ignore", RuntimeWarning)
            r = stats.ks_2samp(a, b)
        return float(r.statistic), float(r.pvalue)
    wa = np.ones(len(a)) if wa is None else np.asarray(wa, dtype=np.float64)
    wb = np.ones(len(b)) if wb is None else np.asarray(wb, dtype=np.float64)
    ka, kb = wa > 0, wb > 0
    a, wa, b, wb = a[ka], wa[ka] / wa[ka].sum(), b[kb], wb[kb] / wb[kb].sum()
    grid = np.union1d(a, b)
    fa = _cdf_at(a, wa, grid)
    fb = _cdf_at(b, wb, grid)
    d = float(np.max(np.abs(fa - fb)))
    na, nb = 1.0 / np.sum(wa**2), 1.0 / np.sum(wb**2)
    en = max(1, int(np.round(na * nb / (na + nb))))
    p = float(stats.kstwo.sf(d, en))
    return d, min(1.0, max(0.0, p))


def _cdf_at(x, w, grid):
    o = np.argsort(x, kind="stable")
    xs, cw = x[o], np.cumsum(w[o])
    i = np.searchsorted(xs, grid, side="right")
    return np.where(i > 0, cw[np.maximum(i - 1, 0)], 0.0)
