"""Which complexity measure predicts runtime (RegNet paper, Fig. 12 top): correlations of the measured
milliseconds with flops, params and acts, and least-squares fits ms ~ a*flops + c, ms ~ b*acts + c and
ms ~ a*flops + b*acts + c with their R^2. Pure: arrays in, a SpeedResult out.

    >>> import numpy as np
    >>> f = np.array([1e8, 2e8, 3e8, 4e8]); a = np.array([1e6, 3e6, 2e6, 5e6])
    >>> fit_speed(f * 1e-8 + a * 1e-6 + 0.5, {"flops": f, "acts": a}, ("flops", "acts")).r2
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dse.analysis.results import Drawable
from dse.errors import DseError
from dse.models.runtime import SpeedFit
from dse.validate import COUNTS
from dse.validate import NOISY_TIMING as NOISY

MEASURES = COUNTS  # (the name the speed analysis uses)
FITS = (("flops",), ("acts",), ("flops", "acts"))


def fit_speed(ms, cx: dict, terms) -> SpeedFit:
    """Least squares of ms on the ``terms`` of ``cx`` plus an intercept (numpy's lstsq); R^2 = 1 - SS_res/SS_tot."""
    y = np.asarray(ms, dtype=np.float64)
    X = np.column_stack([np.asarray(cx[t], dtype=np.float64) for t in terms] + [np.ones(len(y))])
    scale = np.abs(X).max(axis=0)  # flops ~1e8 next to 1: scale the columns for a well-conditioned solve
    scale[scale == 0] = 1
    beta = np.linalg.lstsq(X / scale, y, rcond=None)[0] / scale
    ss_res = float(((y - X @ beta) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return SpeedFit(tuple(terms), [float(b) for b in beta[:-1]], float(beta[-1]), round(r2, 12))


@dataclass
class SpeedResult(Drawable):
    """Timings of one device, mode and batch: per model ms with its complexity, correlations and fits;
    ``predicted`` (when a sweep was sampled with --max-ms) the median absolute error of its prediction in %."""

    device: str
    mode: str
    batch: int
    models: list  # [{"sweep", "id", "ms", "flops", "params", "acts"}]
    pearson: dict
    spearman: dict
    fits: list    # [SpeedFit]
    predicted: dict = field(default_factory=dict)  # {sweep: median |predicted - measured| / measured, %}
    source: str = "measured"  # or 'training' (from the images/s of the training epochs)
    lines: dict = field(default_factory=dict)  # {measure: SpeedFit ms ~ a*measure + c}: the figure's lines
    baselines: list = field(default_factory=list)  # compare_baselines: reference networks beside the models
    _size = (4.4, 3.6)

    @property
    def n(self) -> int:
        return len(self.models)

    @property
    def median_ms(self) -> float:
        return float(np.median([m["ms"] for m in self.models]))

    @property
    def spread_median(self) -> float | None:
        """The median over models of the spread of their timed repeats (IQR / median), when known."""
        s = [m["spread"] for m in self.models if m.get("spread") is not None]
        return float(np.median(s)) if s else None

    @property
    def noisy(self) -> list:
        """The models whose repeats spread by more than NOISY (their timing is more noise than time)."""
        return [m for m in self.models if m.get("spread") is not None and m["spread"] > NOISY]

    @property
    def best(self) -> str:
        """The complexity measure whose Pearson correlation with ms is highest."""
        return max(MEASURES, key=lambda k: self.pearson[k])

    def to_json(self) -> dict:
        return {"device": self.device, "mode": self.mode, "batch": self.batch, "n": self.n, "source": self.source,
                "median_ms": self.median_ms, "models": self.models, "pearson": self.pearson,
                "spearman": self.spearman, "fits": [f.to_json() for f in self.fits],
                "spread_median": self.spread_median, "noisy": len(self.noisy),
                **({"predicted": self.predicted} if self.predicted else {}),
                **({"baselines": self.baselines} if self.baselines else {})}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.models)

    def _panels(self) -> int:
        return 3

    def _draw(self, axes):
        from dse.report.plots import draw_speed

        ms = np.array([m["ms"] for m in self.models])
        draw_speed(axes, {k: np.array([m[k] for m in self.models], dtype=np.float64) for k in MEASURES}, ms,
                   pearson=self.pearson, lines=self.lines,
                   title=f"{self.mode} ms per batch of {self.batch}, {self.device}", marks=self.baselines)


PEER_BAND = 0.25  # a baseline's peers: the models within 25% of its flops (else the 5 nearest in log flops)


def compare_baselines(baselines: list, models: list, band: float = PEER_BAND) -> list:
    """Each reference network ({name, ms, flops, params, acts}) against the models of about its flops: their
    median ms and acts, and the ratio of its ms to theirs (> 1: the reference is slower than the population's
    models of its flops)."""
    out = []
    f = np.array([m["flops"] for m in models], dtype=np.float64)
    for b in baselines:
        d = np.abs(np.log(f / b["flops"]))
        near = np.flatnonzero(d <= np.log1p(band))
        how = f"within {band:.0%} of its flops"
        if not len(near):
            near = np.argsort(d)[:5]
            how = f"the {len(near)} nearest in flops"
        ms = float(np.median([models[i]["ms"] for i in near]))
        out.append({**b, "peers": int(len(near)), "peers_are": how, "peers_ms": ms,
                    "peers_flops": float(np.median(f[near])),
                    "peers_acts": float(np.median([models[i]["acts"] for i in near])), "ratio": b["ms"] / ms})
    return out


def speed_report(device: str, mode: str, batch: int, models: list, predicted: dict | None = None,
                 source: str = "measured") -> SpeedResult:
    """Correlations (scipy's pearsonr and spearmanr) and the three fits over ``models`` (dicts with sweep, id,
    ms, flops, params, acts)."""
    from scipy import stats

    if len(models) < 3:
        raise DseError(f"{len(models)} model(s) timed on {device} ({mode}, batch {batch}); correlations and fits "
                       f"need at least 3")
    ms = np.array([m["ms"] for m in models], dtype=np.float64)
    cx = {k: np.array([m[k] for m in models], dtype=np.float64) for k in MEASURES}
    pearson, spearman = {}, {}
    for k in MEASURES:
        const = np.ptp(cx[k]) == 0 or np.ptp(ms) == 0
        pearson[k] = float("nan") if const else float(stats.pearsonr(cx[k], ms)[0])
        spearman[k] = float("nan") if const else float(stats.spearmanr(cx[k], ms)[0])
    lines = {k: fit_speed(ms, cx, (k,)) for k in MEASURES if np.ptp(cx[k]) > 0}
    return SpeedResult(device, mode, batch, models=models, pearson=pearson, spearman=spearman,
                       fits=[fit_speed(ms, cx, t) for t in FITS],
                       predicted=predicted or {}, source=source, lines=lines)
