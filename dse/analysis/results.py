"""Typed results of the analyses, and the pure functions that compute them from arrays.

Each result has ``to_json()`` (what ``--json`` prints), ``to_frame()`` (a pandas DataFrame) and
``plot(ax=None)`` (draws on the given axes, or on a new pyplot figure so a notebook shows it; returns
the axes); ``figure()`` draws it on a standalone Figure (files, the report). Nothing here reads or
writes the store.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field

import numpy as np

from dse.analysis.bootstrap import bootstrap
from dse.analysis.edf import (bootstrap_half_width, dkw_half_width, edf, edf_stats, effective_n, ks_test,  # noqa: F401
                              normalization_weights)
from dse.analysis.search import search_efficiency
from dse.errors import ParamError
from dse.store.records import Fit
from dse.tasks import ERROR, Metric

from dse.validate import BANDS, NORMALIZE_BY  # noqa: E402,F401 (one list each, re-exported)


class Drawable:
    """The base of every result that draws itself: ``plot(ax=None)`` and ``figure()`` from one ``_draw(axes)``
    (``_panels()`` axes of ``_size`` inches each). A new result subclasses it and writes ``_draw``.

    >>> class Line(Drawable):
    ...     def _draw(self, axes):
    ...         axes[0].plot([0, 1], [0, 1])
    >>> len(Line().figure().axes)
    1
    """

    _size = (6.0, 4.2)

    def _panels(self) -> int:
        return 1

    def _cols(self) -> int | None:
        return None

    def _draw(self, axes):  # pragma: no cover - every result defines it
        raise NotImplementedError

    def plot(self, ax=None):
        """Draw on ``ax`` (an Axes, or a sequence of Axes for several panels), or on a new pyplot figure.
        Returns the Axes (a list of them when there are several panels)."""
        from dse.report.plots import axes_for

        axes = axes_for(ax, self._panels(), self._cols(), self._size)
        self._draw(axes)
        return axes[0] if len(axes) == 1 else axes

    def figure(self):
        """A standalone matplotlib Figure of the result (no pyplot: nothing is shown, no backend chosen)."""
        from dse.report.plots import new_figure

        fig, axes = new_figure(self._panels(), self._cols(), self._size)
        self._draw(axes)
        fig.tight_layout()
        return fig


# ---- EDFs and KS ----

@dataclass
class Normalization:
    """NDS complexity normalisation: ``bins`` equal bins of ``by`` over ``range``; per-sweep model weights."""

    by: str
    bins: int
    range: tuple[float, float]
    weights: dict = field(repr=False)

    def to_json(self) -> dict:
        return {"by": self.by, "bins": self.bins, "range": [self.range[0], self.range[1]]}


def normalize(complexity: dict, by: str, bins: int = 10, range=None) -> Normalization:
    """Weights that make the complexity distributions of the sets agree (``complexity``: {name: array}).

    >>> w = normalize({"a": [1, 2, 3, 4], "b": [1, 1, 3, 4]}, "flops", bins=2)
    >>> [float(round(x, 3)) for x in w.weights["b"]]
    [0.25, 0.25, 0.25, 0.25]
    """
    if by not in NORMALIZE_BY:
        raise ParamError(f"{{normalize}} {by!r} unknown; allowed: {', '.join(NORMALIZE_BY)}", "normalize")
    w, (lo, hi) = normalization_weights(complexity, bins, range)
    return Normalization(by, bins, (lo, hi), w)


@dataclass
class EdfSummary:
    """One sweep's error distribution: n, min, mean, median, 10/25/75th percentiles, the fraction below
    each threshold, and the EDF's points (sorted errors and their weights; normalised weights sum to 1). For a
    higher-is-better measure (PSNR) the same read from the good end, in its own values: ``min`` is the best (the
    maximum), p10 the value the best 10% reach, ``below`` the fraction better than each threshold, the points in
    decreasing PSNR: the EDF is the share of models at least this good."""

    sweep: str
    n: int
    min: float
    mean: float
    median: float
    p10: float
    p25: float
    p75: float
    below: dict
    errors: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    band: dict | None = None  # {"method", "level", "half_width", "n_eff", "low": [...], "high": [...]} at the errors
    measure: Metric = ERROR

    @property
    def label(self) -> str:
        return f"{self.sweep}  {self.n} | {self.min:.2f} | {self.mean:.2f}"

    def to_json(self) -> dict:
        m = self.measure
        if not m.higher_is_better:  # the shape error EDFs always had
            return {"n": self.n, "min": self.min, "mean": self.mean, "median": self.median, "p10": self.p10,
                    "p25": self.p25, "p75": self.p75, "below": {str(t): v for t, v in self.below.items()},
                    "errors": self.errors.tolist(), "weights": self.weights.tolist(),
                    **({"band": self.band} if self.band is not None else {})}
        return {"n": self.n, "best": self.min, "mean": self.mean, "median": self.median, "p10": self.p10,
                "p25": self.p25, "p75": self.p75, "above": {str(t): v for t, v in self.below.items()},
                m.name: self.errors.tolist(), "weights": self.weights.tolist(),
                **({"band": self.band} if self.band is not None else {})}


@dataclass
class KsPair:
    """Two-sample Kolmogorov-Smirnov test of two sweeps' (weighted) error EDFs."""

    a: str
    b: str
    statistic: float
    pvalue: float


@dataclass
class EdfComparison(Drawable):
    """Error EDFs of several sweeps, their statistics and KS tests of every pair."""

    metric: str
    normalization: Normalization | None
    thresholds: list
    sweeps: dict  # {name: EdfSummary}
    ks: list      # [KsPair]
    references: dict = field(default_factory=dict)  # {reference sweep: {"error", "at_or_below": {sweep: F(error)}}}
    measure: Metric = ERROR  # what the values are (an error, or the task's: PSNR in dB, higher is better)

    def with_references(self, errors: dict) -> "EdfComparison":
        """This comparison with reference networks' errors ({sweep: error}, as the analyses decide: lower is
        better, ``Population.errors``) marked: each sweep's EDF at that error (the (weighted) fraction of its
        models at or below it: as good or better)."""
        m = self.measure
        refs = {}
        for name, e in errors.items():
            at = {}
            for n, s in self.sweeps.items():
                w = np.asarray(s.weights, dtype=np.float64)
                at[n] = float(w[m.loss(np.asarray(s.errors)) <= e].sum() / w.sum())
            refs[name] = {"error": float(m.shown(e)), "at_or_below": at}
        return dataclasses.replace(self, references=refs)

    def to_json(self) -> dict:
        return {"metric": self.metric, "normalize": self.normalization.to_json() if self.normalization else None,
                **({"measure": self.measure.name, "unit": self.measure.unit} if self.measure != ERROR else {}),
                "sweeps": {n: s.to_json() for n, s in self.sweeps.items()},
                "ks": [{"a": k.a, "b": k.b, "statistic": k.statistic, "pvalue": k.pvalue} for k in self.ks],
                **({"references": self.references} if self.references else {})}

    def to_frame(self):
        """One row per sweep: n, min, mean, median, p10, p25, p75, and 'below T' per threshold."""
        import pandas as pd

        return pd.DataFrame([{"sweep": n, **{k: getattr(s, k) for k in ("n", "min", "mean", "median", "p10", "p25",
                                                                      "p75")},
                              **{f"below {t:g}": v for t, v in s.below.items()}} for n, s in self.sweeps.items()])

    @property
    def xlabel(self) -> str:
        m = self.measure
        what = f"{self.metric} error (%)" if m == ERROR else f"{self.metric} {m.label} ({m.unit}; better to the left)"
        return what + (f" | {self.normalization.by}" if self.normalization else "")

    def _draw(self, axes):
        from dse.report.plots import draw_edf

        draw_edf(axes[0], {n: (s.errors, np.cumsum(s.weights), s.label) for n, s in self.sweeps.items()},
                 self.xlabel, {n: (s.band["low"], s.band["high"]) for n, s in self.sweeps.items() if s.band},
                 marks={n: r["error"] for n, r in self.references.items()},
                 reverse=self.measure.higher_is_better, ylabel=None if self.measure == ERROR else
                 "fraction of models at least this good")




def edf_band(errors, weights, method: str = "dkw", level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> dict:
    """A simultaneous ``level`` confidence band around one EDF (sorted ``errors``, their ``weights``): DKW with the
    effective sample size (n for a plain EDF, (sum w)^2 / sum w^2 for a complexity-normalised one), or the bootstrap
    quantile of sup |F* - F|. {method, level, half_width, n_eff, low, high} with low/high at each error."""
    f = np.cumsum(weights) / np.sum(weights)
    n_eff = effective_n(weights)
    eps = dkw_half_width(n_eff, level) if method == "dkw" else bootstrap_half_width(errors, weights, level, n_boot,
                                                                                    seed)
    return {"method": method, "level": level, "half_width": eps, "n_eff": n_eff,
            "low": np.clip(f - eps, 0, 1).tolist(), "high": np.clip(f + eps, 0, 1).tolist()}


def compare_edfs(errors: dict, metric: str = "final", normalization: Normalization | None = None,
                 thresholds=None, band: str = "none", level: float = 0.95, measure: Metric = ERROR) -> EdfComparison:
    """EDF statistics of each set of errors ({name: array}), and KS of every pair (weighted when normalised).

    thresholds: report the fraction of models below these errors (default: the pooled 10/25/50th
    percentiles, rounded to 0.1). band: a simultaneous confidence band at ``level`` around each EDF (dkw or
    bootstrap; see ``edf_band``). ``measure``: what the errors are, oriented lower-is-better as
    ``Population.errors`` are (a PSNR negated); thresholds are given and everything is shown in its own values.
    """
    if band not in BANDS:
        raise ParamError(f"{{band}} {band!r} unknown; allowed: {', '.join(BANDS)}", "band")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ParamError(f"{{level}} must be a number in (0, 1), got {level!r}", "level")
    names = list(errors)
    errs = {n: np.asarray(e, dtype=np.float64) for n, e in errors.items()}
    w = normalization.weights if normalization else {n: None for n in names}
    if thresholds is None:
        pooled = np.concatenate([errs[n] for n in names])
        thresholds = sorted({round(float(v), 1) for v in np.percentile(pooled, [10, 25, 50])})
    else:
        thresholds = [float(t) for t in thresholds]
        if not all(np.isfinite(thresholds)):
            raise ParamError(f"{{thresholds}} must be finite numbers, got {thresholds}", "thresholds")
        thresholds = [measure.loss(t) for t in thresholds]
    sweeps = {}
    for n in names:
        e, wn = errs[n], w[n]
        st = edf_stats(e, wn, thresholds)
        keep = np.ones(len(e), bool) if wn is None else wn > 0
        ww = np.full(keep.sum(), 1.0 / keep.sum()) if wn is None else wn[keep] / wn[keep].sum()
        o = np.argsort(e[keep], kind="stable")
        v = measure.shown  # the statistics of the oriented values, shown in the measure's own
        sweeps[n] = EdfSummary(n, st["n"], v(st["min"]), mean=v(st["mean"]), median=v(st["median"]), p10=v(st["p10"]),
                               p25=v(st["p25"]), p75=v(st["p75"]),
                               below={v(t): st["below"][str(t)] for t in thresholds}, errors=v(e[keep][o]),
                               weights=ww[o], band=edf_band(e[keep][o], ww[o], band, level) if band != "none" else None,
                               measure=measure)
    ks = [KsPair(a, b, *ks_test(errs[a], errs[b], w[a], w[b])) for i, a in enumerate(names) for b in names[i + 1:]]
    return EdfComparison(metric, normalization, [measure.shown(t) for t in thresholds], sweeps, ks, measure=measure)


# ---- bootstrap ----

@dataclass
class BootstrapPanel:
    """The bootstrap of one parameter of one sweep: median and ci% interval of the best model's value."""

    sweep: str
    param: str
    n: int
    median: float
    low: float
    high: float
    ci: float
    n_boot: int
    frac: float
    x: np.ndarray = field(repr=False)
    errors: np.ndarray = field(repr=False)  # oriented lower-is-better (Population.errors)
    kept: np.ndarray = field(repr=False)
    measure: Metric = ERROR  # what the errors are (the picture shows them in its values)

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "param": self.param, "median": self.median, "low": self.low, "high": self.high,
                "ci": self.ci, "n": self.n, "n_boot": self.n_boot, "frac": self.frac}


def bootstrap_panel(sweep: str, param: str, x, errors, n_boot: int = 10_000, frac: float = 0.25, ci: float = 95.0,
                    seed: int = 0, measure: Metric = ERROR) -> BootstrapPanel:
    """The empirical bootstrap of the best model's ``param`` (models where x is NaN left out); ``errors`` oriented
    lower-is-better (``Population.errors``: the best model is the lowest, a PSNR's highest)."""
    x, e = np.asarray(x, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    ok = ~np.isnan(x)
    r = bootstrap(x[ok], e[ok], n_boot, frac=frac, ci=ci, seed=seed)
    return BootstrapPanel(sweep, param, r["n"], median=r["median"], low=r["low"], high=r["high"], ci=ci, n_boot=n_boot,
                          frac=frac, x=x[ok], errors=e[ok],
                          kept=r["kept"], measure=measure)


@dataclass
class BootstrapResult(Drawable):
    """Bootstrap panels (sweep x parameter), one per panel of the picture."""

    metric: str
    panels: list
    _size = (3.6, 3.0)

    def to_json(self) -> list:
        return [p.to_json() for p in self.panels]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.to_json())

    def _panels(self) -> int:
        return len(self.panels)

    def _cols(self) -> int:
        return min(len(self.panels), 4)

    def _draw(self, axes):
        from dse.report.plots import draw_bootstrap

        draw_bootstrap(axes, self.panels)


# ---- RegNet fits ----

@dataclass
class FitRow:
    sweep: str
    id: int
    error: float | None  # the result as stored: an error, or the task's measure (a PSNR)
    fit: Fit
    arch: object = field(repr=False)

    def to_json(self, measure: Metric = ERROR) -> dict:
        return {"sweep": self.sweep, "id": self.id, measure.name: self.error, **self.fit.to_dict()}


@dataclass
class FitResult(Drawable):
    """RegNet fits of every model, with the medians of the ``top`` best (by error; by PSNR, highest first, for an
    SR sweep: ``measure``, one for every row)."""

    metric: str
    top: int
    rows: list  # [FitRow]
    measure: Metric = ERROR

    @property
    def best(self) -> list:
        ranked = sorted((r for r in self.rows if r.error is not None), key=lambda r: self.measure.loss(r.error))
        return ranked[:self.top]

    @staticmethod
    def _summary(rows) -> dict:
        f = lambda k: float(np.median([getattr(r.fit, k) for r in rows])) if rows else None  # noqa: E731
        return {"n": len(rows), "e_fit_median": f("e_fit"),
                "e_fit_mean": float(np.mean([r.fit.e_fit for r in rows])) if rows else None,
                "w0_median": f("w0"), "wa_median": f("wa"), "wm_median": f("wm")}

    def summary(self) -> list[dict]:
        """Medians of e_fit, w0, wa, wm over all models and over the top K ('models': 'all' | 'top')."""
        out = [{"models": "all", **self._summary(self.rows)}]
        if self.best:
            out.append({"models": "top", **self._summary(self.best)})
        return out

    def to_json(self) -> dict:
        s = self._summary(self.best)
        return {"models": [r.to_json(self.measure) for r in self.rows],
                "top": {"k": s["n"], **{k: s[k] for k in ("e_fit_median", "w0_median", "wa_median", "wm_median")}}}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([r.to_json(self.measure) for r in self.rows],
                            columns=["sweep", "id", self.measure.name, "w0", "wa", "wm", "e_fit"])

    def _draw(self, axes):
        from dse.models.regnet import regnet_widths
        from dse.report.plots import draw_fit

        shown = self.best or self.rows[:self.top]
        draw_fit(axes[0], [{"label": f"{r.sweep}/{r.id} e_fit {r.fit.e_fit:.3f}", "widths": r.arch.block_widths(),
                            "fitted": regnet_widths(r.arch.depth, r.fit.w0, r.fit.wa, r.fit.wm)[0][0].tolist()}
                           for r in shown])


# ---- random-search efficiency ----

@dataclass
class SearchPoint:
    m: int
    reps: int
    mean: float
    std: float


@dataclass
class SearchEfficiency(Drawable):
    """Expected best error of m random models, m = 1, 2, 4, ..., per sweep (mean and std over repeats)."""

    metric: str
    normalization: Normalization | None
    sweeps: dict  # {name: [SearchPoint]}: the means in the measure's own values (a PSNR's: the best is the highest)
    measure: Metric = ERROR

    def to_json(self) -> dict:
        return {"metric": self.metric, "normalize": self.normalization.to_json() if self.normalization else None,
                **({"measure": self.measure.name, "unit": self.measure.unit} if self.measure != ERROR else {}),
                "sweeps": {n: [vars(p) for p in ps] for n, ps in self.sweeps.items()}}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([{"sweep": n, **vars(p)} for n, ps in self.sweeps.items() for p in ps])

    def _draw(self, axes):
        from dse.report.plots import draw_search

        draw_search(axes[0], self.sweeps, self.measure.noun)


def compare_search(errors: dict, metric: str = "final", normalization: Normalization | None = None,
                   seed: int = 0, measure: Metric = ERROR) -> SearchEfficiency:
    """Random-search efficiency of each set of errors ({name: array}, oriented lower-is-better), with the
    normalisation weights; the expected best of m in ``measure``'s own values (a PSNR: the highest of m)."""
    w = normalization.weights if normalization else {}
    shown = lambda r: SearchPoint(**{**r, "mean": float(measure.shown(r["mean"]))})  # noqa: E731
    return SearchEfficiency(metric, normalization, {
        n: [shown(r) for r in search_efficiency(e, w.get(n), seed)] for n, e in errors.items()}, measure)


# ---- complexity views and training curves ----

@dataclass
class ComplexityView(Drawable):
    """Error against flops, params and acts per sweep, and acts against flops (4 panels)."""

    metric: str
    sweeps: dict  # {name: {'flops', 'params', 'acts', 'errors'}: arrays; errors in each one's measure's own values}
    measures: dict = field(default_factory=dict)  # {name: Metric} (absent: an error)
    _size = (3.75, 3.6)

    def to_frame(self):
        import pandas as pd

        return pd.concat([pd.DataFrame({"sweep": n, **d}) for n, d in self.sweeps.items()], ignore_index=True)

    def _panels(self) -> int:
        return 4

    def _draw(self, axes):
        from dse.report.plots import draw_complexity

        ms = {self.measures.get(n, ERROR).column for n in self.sweeps}
        draw_complexity(axes, self.sweeps, " or ".join(sorted(ms)))


@dataclass
class Curves(Drawable):
    """Per-epoch train and test error (or the task's measure, a PSNR) of chosen models: [{'label', 'rows'}]."""

    models: list
    measure: Metric = ERROR

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([{"sweep": r.sweep, "id": r.idx, "label": m["label"], "epoch": r.epoch,
                              "train_error": r.train_error, "test_error": r.test_error}
                             for m in self.models for r in m["rows"]])

    def _draw(self, axes):
        from dse.report.plots import draw_curves

        draw_curves(axes[0], self.models, self.measure.column)
