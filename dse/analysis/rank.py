"""Relative-rank scatter (NDS Fig. 12, RegNet App. C Fig. 21): where do the good models lie in (x, y)?

Each model's relative rank is rank(error)/n within its own sweep (1/n the best, 1 the worst; ties get the
average rank, scipy.stats.rankdata), so sweeps of different regimes or budgets can share one picture. The
"good" models are those of relative rank <= ``good`` (default: the top quarter). Pure: arrays in, a result out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dse.analysis.results import Drawable
from dse.errors import DseError, ParamError


def relative_rank(errors) -> np.ndarray:
    """rank(e_i)/n with average ranks for ties: 1/n for the best model, 1 for the worst."""
    from scipy import stats  # imported here: `import dse` stays light

    e = np.asarray(errors, dtype=np.float64)
    return stats.rankdata(e, method="average") / len(e)


@dataclass
class RankResult(Drawable):
    """Models at (x, y) coloured by relative rank; with ``y`` None, relative rank against x. ``fit`` is the
    least-squares line of the good models in log-log space, log10 y = slope * log10 x + intercept (None
    without y); ``good_x`` the median and 95% range of the good models' x (their log where log)."""

    sweeps: list
    x: str
    y: str | None
    xs: np.ndarray
    ys: np.ndarray | None
    ranks: np.ndarray
    errors: np.ndarray
    sweep_of: np.ndarray
    good: float
    fit: dict | None
    good_x: dict
    log_x: bool
    log_y: bool
    is_good: np.ndarray  # relative rank <= good (and each sweep's best model)

    @property
    def n(self) -> int:
        return len(self.ranks)

    def to_json(self) -> dict:
        return {"sweeps": self.sweeps, "x": self.x, "y": self.y or "relative_rank", "n": self.n, "good": self.good,
                "n_good": int(self.is_good.sum()), "fit": self.fit, "good_x": self.good_x,
                "log_x": self.log_x, "log_y": self.log_y}

    def to_frame(self):
        import pandas as pd

        cols = {"sweep": self.sweep_of, self.x: self.xs}
        if self.y:
            cols[self.y] = self.ys
        cols.update(error=self.errors, relative_rank=self.ranks, good=self.is_good)
        return pd.DataFrame(cols)

    def _draw(self, axes):
        from dse.report.plots import draw_rank

        draw_rank(axes[0], self)


def rank_scatter(x, errors, sweep_of=None, y=None, x_name: str = "x", y_name: str | None = None,
                 good: float = 0.25) -> RankResult:
    """The relative-rank picture of models with values ``x`` (and ``y``) and ``errors``; ranks are taken within
    each ``sweep_of`` group (default: one group). Non-positive values switch that axis to a linear scale.

    >>> r = rank_scatter([0.1, 0.2, 0.4, 0.8], [30.0, 20.0, 25.0, 40.0], x_name="lr")
    >>> r.ranks.tolist()
    [0.5, 0.25, 0.75, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    g = np.asarray(sweep_of if sweep_of is not None else ["all"] * len(e), dtype=object)
    ys = None if y is None else np.asarray(y, dtype=np.float64)
    if not 0 < good <= 1:
        raise ParamError(f"{{good}} must be in (0, 1], got {good}", "good")
    keep = np.isfinite(x) & np.isfinite(e) & (np.isfinite(ys) if ys is not None else True)
    x, e, g = x[keep], e[keep], g[keep]
    ys = ys[keep] if ys is not None else None
    if len(e) < 4:
        raise DseError(f"the rank scatter needs at least 4 trained models with {x_name}"
                       + (f" and {y_name}" if y_name else "") + f", got {len(e)}")
    ranks, best = np.empty(len(e)), np.zeros(len(e), dtype=bool)
    for s in dict.fromkeys(g):
        m = g == s
        ranks[m] = relative_rank(e[m])
        best[m] = ranks[m] <= max(good, 1.0 / m.sum())  # a small sweep still has its best model among the good
    log_x = bool(np.all(x > 0))
    log_y = bool(ys is not None and np.all(ys > 0))
    tx = np.log10(x) if log_x else x
    fit = None
    if ys is not None:
        ty = np.log10(ys) if log_y else ys
        if best.sum() >= 3 and np.ptp(tx[best]) > 0:
            from scipy import stats

            r = stats.linregress(tx[best], ty[best])
            fit = {"slope": float(r.slope), "intercept": float(r.intercept), "r": float(r.rvalue),
                   "n": int(best.sum()), "log": log_x and log_y}
    lo, med, hi = np.percentile(tx[best], [2.5, 50, 97.5])
    back = (lambda v: float(10 ** v)) if log_x else float
    good_x = {"median": back(med), "low": back(lo), "high": back(hi), "n": int(best.sum())}
    return RankResult(list(dict.fromkeys(g.tolist())), x_name, y_name, xs=x, ys=ys, ranks=ranks, errors=e, sweep_of=g,
                      good=good, fit=fit, good_x=good_x,
                      log_x=log_x, log_y=log_y, is_good=best)
