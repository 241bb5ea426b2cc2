"""Trends across complexity regimes (RegNet paper Fig. 11 and Fig. 12 bottom; pycls ``plot_trends``).

One space sampled at several flop regimes: at each regime the empirical bootstrap of the best model's value
of a parameter, and across the regimes the trend of that value with complexity, slope of
log(value) against log(flops) with an interval from the bootstrap replicates themselves. Also how the
complexity of the good models grows: acts ~ flops^alpha, params ~ flops^beta.

Pure: arrays in, results out.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> regs = [(f"s@{f}", f, rng.integers(10, 30, 200).astype(float), rng.normal(30, 1, 200))
    ...         for f in (2e8, 4e8, 8e8)]
    >>> trend_series("s", "depth", regs, n_boot=2000).trend   # depth unrelated to error here
    'stable'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dse.analysis.bootstrap import bootstrap
from dse.analysis.results import Drawable
from dse.errors import DseError
from dse.validate import as_number
from dse.validate import check_seed
from dse.units import regime_label

GOOD_FRAC, GOOD_MIN = 0.25, 5  # the good models of a regime: its best quarter by error, at least 5


@dataclass
class RegimePoint:
    """One regime of a trend: the bootstrap of the best model's value (median, ci% interval) and the min..max of
    the parameter among the regime's models; ``flops`` is the regime's x."""

    sweep: str
    flops: float
    n: int
    median: float
    low: float
    high: float
    min: float
    max: float
    kept: np.ndarray = field(repr=False)  # the bootstrap replicates (the best model's value in each)

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "flops": as_number(self.flops), "n": self.n, "median": self.median,
                "low": self.low,
                "high": self.high, "min": self.min, "max": self.max}


@dataclass
class TrendSeries:
    """A parameter across the regimes of one series: per-regime bootstraps and the slope of the trend,
    d log(value) / d log(flops) (d value / d log(flops) when ``scale`` is 'linear'), with its ci% interval."""

    space: str
    param: str
    scale: str  # 'log' or 'linear' (a parameter that can be <= 0)
    ci: float
    regimes: list
    slope: float
    slope_low: float
    slope_high: float
    slopes: np.ndarray = field(repr=False)

    @property
    def trend(self) -> str:
        """'stable' when the interval holds 0, else 'grows' or 'shrinks'."""
        return "grows" if self.slope_low > 0 else "shrinks" if self.slope_high < 0 else "stable"

    def to_json(self) -> dict:
        return {"space": self.space, "param": self.param, "scale": self.scale,
                "regimes": [r.to_json() for r in self.regimes], "slope": self.slope, "slope_low": self.slope_low,
                "slope_high": self.slope_high, "trend": self.trend}


@dataclass
class ComplexityTrend:
    """``metric`` (acts or params) of the good models against their flops: metric ~ flops^exponent, an OLS fit
    in log-log space with a ci% t interval on the exponent, over ``n`` models of every regime."""

    space: str
    metric: str
    exponent: float
    low: float
    high: float
    n: int
    intercept: float
    ci: float
    flops: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)

    def to_json(self) -> dict:
        return {"space": self.space, "metric": self.metric, "exponent": self.exponent, "low": self.low,
                "high": self.high, "n": self.n}


@dataclass
class TrendsResult(Drawable):
    """Trends of the best models' parameters across regimes, and the complexity trends of the good models."""

    metric: str
    ci: float
    n_boot: int
    series: list      # [TrendSeries]
    complexity: list  # [ComplexityTrend]
    skipped: list = field(default_factory=list)  # why a sweep or space was left out
    ranked_by: str = "error"  # what picked the good models: error, or a task's measure (PSNR: the highest)
    _size = (4.2, 3.4)

    def to_json(self) -> dict:
        return {"series": [s.to_json() for s in self.series], "complexity": [c.to_json() for c in self.complexity]}

    def to_frame(self):
        """One row per series and regime, with the series' slope and verdict."""
        import pandas as pd

        return pd.DataFrame([{"space": s.space, "param": s.param, "regime": regime_label(r.flops), **r.to_json(),
                              "scale": s.scale, "slope": s.slope, "slope_low": s.slope_low,
                              "slope_high": s.slope_high, "trend": s.trend} for s in self.series for r in s.regimes])

    @property
    def params(self) -> list[str]:
        return list(dict.fromkeys(s.param for s in self.series))

    def _panels(self) -> int:
        return len(self.params) + len({c.metric for c in self.complexity})

    def _cols(self) -> int:
        return min(self._panels(), 4)

    def _draw(self, axes):
        from dse.report.plots import draw_complexity_trend, draw_trend

        ps = self.params
        for ax, p in zip(axes, ps):
            draw_trend(ax, p, [s for s in self.series if s.param == p], self.ci)
        metrics = list(dict.fromkeys(c.metric for c in self.complexity))
        for ax, m in zip(axes[len(ps):], metrics):
            draw_complexity_trend(ax, m, [c for c in self.complexity if c.metric == m])



def replicate_slopes(flops, kept, scale: str = "log") -> np.ndarray:
    """The OLS slope of y against log(flops) in every bootstrap replicate: ``kept`` is [regimes, replicates]
    and y = log(kept) (scale 'log') or kept (scale 'linear'); slope_b = sum_r xc_r y_rb / sum_r xc_r^2."""
    lx = np.log(np.asarray(flops, dtype=np.float64))
    xc = lx - lx.mean()
    sxx = float(xc @ xc)
    if sxx == 0:
        raise DseError("a trend needs at least two different regimes (flops)")
    y = np.asarray(kept, dtype=np.float64)
    y = np.log(y) if scale == "log" else y
    # rounded to 12 decimals: a replicate whose values are equal at every regime has slope exactly 0, not
    # +-1e-17 (which would turn a 'stable' verdict into 'grows' by rounding noise)
    return np.round(xc @ (y - y.mean(axis=0)) / sxx, 12)


def trend_series(space: str, param: str, regimes, n_boot: int = 10_000, frac: float = 0.25, ci: float = 95.0,
                 seed: int = 0) -> TrendSeries:
    """The trend of ``param`` over ``regimes``: a list of (sweep, flops, values, errors), one per regime.

    Each regime is bootstrapped as ``dse bootstrap`` does (models where the value is NaN left out), from its
    own independent random stream; replicate b of every regime together give one slope, and the slopes' median
    and ci% percentile interval are the trend. The scale is 'log' when every value is > 0, else 'linear'."""
    check_seed(seed)
    regimes = sorted(regimes, key=lambda r: r[1])
    if len({float(r[1]) for r in regimes}) < 2:
        raise DseError("a trend needs at least two different regimes (flops)")
    streams = np.random.SeedSequence(seed).spawn(len(regimes))
    pts, vals = [], []
    for (name, flops, x, e), ss in zip(regimes, streams):
        x, e = np.asarray(x, dtype=np.float64), np.asarray(e, dtype=np.float64)
        ok = ~np.isnan(x)
        if ok.sum() < 2:
            raise DseError(f"sweep {name!r}: {int(ok.sum())} trained model(s) have the parameter {param!r}; a trend "
                           f"needs at least 2 at every regime")
        b = bootstrap(x[ok], e[ok], n_boot, frac=frac, ci=ci, seed=np.random.default_rng(ss))
        pts.append(RegimePoint(name, float(flops), b["n"], median=b["median"], low=b["low"], high=b["high"],
                               min=float(x[ok].min()),
                               max=float(x[ok].max()), kept=b["kept"]))
        vals.append(x[ok])
    scale = "log" if all((v > 0).all() for v in vals) else "linear"
    slopes = replicate_slopes([p.flops for p in pts], np.stack([p.kept for p in pts]), scale)
    lo, hi = np.percentile(slopes, [(100 - ci) / 2, 100 - (100 - ci) / 2])
    return TrendSeries(space, param, scale, ci=ci, regimes=pts, slope=float(np.median(slopes)), slope_low=float(lo),
                       slope_high=float(hi), slopes=slopes)


def good_models(errors, frac: float = GOOD_FRAC, at_least: int = GOOD_MIN) -> np.ndarray:
    """Indices of a regime's good models: the best ceil(frac * n) by error, at least ``at_least`` (all if fewer)."""
    e = np.asarray(errors, dtype=np.float64)
    k = min(len(e), max(at_least, math.ceil(frac * len(e))))
    return np.argsort(e, kind="stable")[:k]


def complexity_trend(space: str, metric: str, regimes, ci: float = 95.0) -> ComplexityTrend:
    """``metric`` ~ flops^exponent over the good models of every regime: ``regimes`` is a list of
    (flops of each model, metric of each model, errors). OLS of log(metric) on log(flops), as
    scipy.stats.linregress, with exponent +- t_{(1+ci)/2, n-2} * stderr."""
    from scipy import stats

    fx, fy = [], []
    for flops, y, e in regimes:
        g = good_models(e)
        fx.append(np.asarray(flops, dtype=np.float64)[g])
        fy.append(np.asarray(y, dtype=np.float64)[g])
    x, y = np.concatenate(fx), np.concatenate(fy)
    if len(x) < 3 or np.ptp(np.log(x)) == 0:
        raise DseError(f"the {metric} trend needs at least 3 good models of different flops, got {len(x)}")
    r = stats.linregress(np.log(x), np.log(y))
    t = stats.t.ppf(0.5 + ci / 200, len(x) - 2)
    return ComplexityTrend(space, metric, float(r.slope), low=float(r.slope - t * r.stderr),
                           high=float(r.slope + t * r.stderr), n=len(x), intercept=float(r.intercept), ci=ci, flops=x,
                           values=y)
