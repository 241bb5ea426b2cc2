"""Figures (matplotlib): EDFs, bootstrap panels, RegNet fits, search efficiency, complexity views,
training curves, refinement evidence. Each ``draw_*`` draws on axes it is given; nothing here picks a
backend: ``new_figure`` makes a standalone Figure (no pyplot, for files and the report) or, with
``pyplot=True``, a figure of the user's own backend (a notebook's inline one)."""

from __future__ import annotations

import math
from pathlib import Path

from dse.errors import DseError, ParamError, write_error
from dse.validate import COUNTS, check_output, shown

EXTS = (".png", ".svg")


def check_path(path, flag: str = "--plot") -> Path:
    """Refuse a picture path with an unknown extension, or one we cannot write, before any work is done."""
    p = Path(path)
    if p.suffix.lower() not in EXTS:
        raise DseError(f"{flag} {path}: unknown picture type {p.suffix or '(none)'!r}; use a .png or .svg file name")
    try:
        return check_output(path, "out")
    except ParamError as e:
        raise DseError(e.render({"out": flag})) from None


def new_figure(panels: int = 1, cols: int | None = None, size=(6.0, 4.2), pyplot: bool = False):
    """(figure, flat list of ``panels`` axes) on a grid of ``cols`` columns; ``size`` is one panel's."""
    cols = cols or panels
    rows = math.ceil(panels / cols)
    figsize = (size[0] * cols, size[1] * rows)
    if pyplot:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        axes = fig.subplots(rows, cols, squeeze=False)
    flat = list(axes.flat)
    for ax in flat[panels:]:
        ax.axis("off")
    return fig, flat[:panels]


def axes_for(ax, panels: int, cols: int | None = None, size=(6.0, 4.2)) -> list:
    """The axes to draw ``panels`` panels on: the caller's (one Axes, or a sequence/array of them), or new
    ones in a pyplot figure (so a notebook shows it)."""
    if ax is None:
        return new_figure(panels, cols, size, pyplot=True)[1]
    from matplotlib.axes import Axes

    if isinstance(ax, Axes):
        flat = [ax]
    else:
        try:
            flat = list(getattr(ax, "flat", ax))
        except TypeError:
            flat = None
        if flat is None or isinstance(ax, (str, bytes)) or not all(isinstance(a, Axes) for a in flat):
            raise ParamError(f"{{ax}} must be a matplotlib Axes, a sequence of {panels} of them, or None, got "
                             f"{shown(ax)}", "ax")
    if len(flat) < panels:
        raise ParamError(f"{{ax}}: this result draws {panels} panels; pass that many axes (or none)", "ax")
    return flat[:panels]


def save(fig, path) -> Path:
    p = check_path(path)
    try:
        fig.savefig(p, dpi=110, bbox_inches="tight")
    except OSError as e:
        raise write_error(p, e) from None
    return p


def _log_x(param: str) -> bool:
    return param in ("flops", "params", "acts", "wa", "w0") or (param[0] == "w" and param[1:].isdigit())


def draw_edf(ax, curves: dict, xlabel: str = "error", bands: dict | None = None, marks: dict | None = None,
             reverse: bool = False, ylabel: str | None = None):
    """curves: {name: (sorted errors, cumulative fraction, legend label)}; bands: {name: (low, high)} at the same
    errors, shaded in the curve's colour; marks: {reference network: its error}, dashed vertical lines.
    ``reverse``: the values are higher-is-better (PSNR, given best first): the axis runs from high to low, so the
    better models are on the left as an error's are."""
    for name, e in (marks or {}).items():
        ax.axvline(e, color="black", ls="--", lw=1)
        ax.annotate(name, (e, 0.98), xycoords=("data", "axes fraction"), rotation=90, fontsize=7, ha="right",
                    va="top")
    for name, (e, f, label) in curves.items():
        (line,) = ax.step([e[0]] + list(e), [0.0] + list(f), where="post", label=label, lw=1.8)
        if bands and name in bands:
            lo, hi = bands[name]
            ax.fill_between([e[0]] + list(e), [0.0] + list(lo), [hi[0]] + list(hi), step="post",
                            color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or "cumulative fraction of models")
    if reverse:
        ax.invert_xaxis()
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def draw_bootstrap(axes, panels: list):
    """panels: objects with sweep, param, x, errors (oriented lower-is-better), measure, median, low, high, ci."""
    for ax, p in zip(axes, panels):
        m = getattr(p, "measure", None)
        ax.scatter(p.x, m.shown(p.errors) if m else p.errors, s=6, alpha=0.5, color="tab:blue", lw=0)
        ax.axvspan(p.low, p.high, color="tab:orange", alpha=0.25, lw=0, label=f"{p.ci:g}% interval")
        ax.axvline(p.median, color="tab:red", lw=1.5, label=f"median {p.median:.4g}")
        ax.set_xlabel(p.param)
        ax.set_ylabel("error" if m is None or not m.higher_is_better else f"{m.label} ({m.unit})")
        ax.set_title(p.sweep, fontsize=9)
        if _log_x(p.param):
            ax.set_xscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return axes


def draw_fit(ax, models: list):
    """models: dicts with label, widths (per block) and fitted (per block)."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for i, m in enumerate(models):
        c = cmap(i / max(1, len(models) - 1))
        ax.plot(range(len(m["widths"])), m["widths"], "o", ms=3, color=c)
        ax.plot(range(len(m["fitted"])), m["fitted"], "-", lw=1, color=c, label=m["label"], drawstyle="steps-mid")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("block index j")
    ax.set_ylabel("width (log2): dots = model, lines = RegNet fit")
    ax.grid(alpha=0.3)
    if len(models) <= 10:
        ax.legend(fontsize=7)
    return ax


def draw_search(ax, curves: dict, noun: str = "error"):
    """curves: {name: [points with m, mean, std]} -> mean +/- 2 std of the best error (``noun``) against log2 m."""
    for name, rows in curves.items():
        m = [r.m for r in rows]
        mu = [r.mean for r in rows]
        sd = [r.std for r in rows]
        ax.plot(m, mu, "-o", ms=3, label=name)
        ax.fill_between(m, [a - 2 * s for a, s in zip(mu, sd)], [a + 2 * s for a, s in zip(mu, sd)], alpha=0.2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("experiment size m (models)")
    ax.set_ylabel(f"best {noun} of m random models")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def draw_complexity(axes, data: dict, what: str = "error"):
    """data: {name: {'flops', 'params', 'acts', 'errors'}} -> error (``what``: 'PSNR (dB)') vs each (3 axes), and
    acts vs flops."""
    for name, p in data.items():
        for ax, k in zip(axes[:3], COUNTS):
            ax.scatter(p[k], p["errors"], s=6, alpha=0.5, lw=0, label=name)
            ax.set_xlabel(k)
            ax.set_ylabel(what)
            ax.set_xscale("log")
        axes[3].scatter(p["flops"], p["acts"], s=6, alpha=0.5, lw=0, label=name)
    axes[3].set_xlabel("flops")
    axes[3].set_ylabel("acts")
    axes[3].set_xscale("log")
    axes[3].set_yscale("log")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return axes


def draw_curves(ax, models: list, what: str = "error (%)"):
    """models: dicts with label and rows (records with epoch, train_error, test_error: of ``what``)."""
    for m in models:
        ep = [r.epoch for r in m["rows"]]
        line, = ax.plot(ep, [r.test_error for r in m["rows"]], "-o", ms=3, label=f"{m['label']} test")
        ax.plot(ep, [r.train_error for r in m["rows"]], "--", color=line.get_color(), lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{what}: solid test, dashed train")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def draw_refine(ax, rows: list, what: str = "error"):
    """rows: (label, mean error (or ``what``: 'PSNR (dB)') of the models that satisfy, of the others, accepted) per
    proposal."""
    for i, (label, sat, other, acc) in enumerate(rows):
        c = "tab:green" if acc else "tab:gray"
        if sat is not None and other is not None:
            ax.plot([other, sat], [i, i], "-", color=c, lw=1)
        if other is not None:
            ax.plot(other, i, "o", mfc="white", color=c, ms=5)
        if sat is not None:
            ax.plot(sat, i, "o", color=c, ms=5)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean {what}: filled = models that satisfy, open = the others (green: accepted)")
    ax.grid(alpha=0.3, axis="x")
    return ax


def draw_trend(ax, param: str, series: list, ci: float):
    """Fig. 11: one parameter against flops (log x) per series: a band for the ci% interval of the best model's
    value at each regime, a line with markers through the medians, thin marks for the regime's min..max."""
    for k, s in enumerate(series):
        c = f"C{k}"
        x = [r.flops for r in s.regimes]
        ax.fill_between(x, [r.low for r in s.regimes], [r.high for r in s.regimes], color=c, alpha=0.2, lw=0)
        ax.plot(x, [r.median for r in s.regimes], "-o", ms=4, color=c,
                label=f"{s.space}: {s.trend} ({s.slope:+.2f} [{s.slope_low:+.2f}, {s.slope_high:+.2f}])")
        ax.vlines(x, [r.min for r in s.regimes], [r.max for r in s.regimes], color=c, lw=0.8, alpha=0.6)
    _flops_axis(ax, sorted({r.flops for s in series for r in s.regimes}))
    if series and all(s.scale == "log" for s in series) and _log_x(param):
        ax.set_yscale("log")
    ax.set_xlabel("flops (regime)")
    ax.set_ylabel(f"{param} of the best models")
    ax.set_title(f"{param}: median, {ci:g}% band, min..max; slope per log flops", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def _flops_axis(ax, ticks=None, unit: str = "F"):
    """A log count axis labelled like the regimes (200MF, 1.6GF; 300K without a unit): at ``ticks`` if given,
    else at the powers of ten and at 2x and 5x them."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from dse.units import human

    def label(v, _=None, only=None):
        if v <= 0:
            return ""
        m = round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6)
        return human(v, unit, sep="") if only is None or m in only else ""

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(label))
    if ticks:
        ax.set_xticks(ticks)
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: label(v, only=(2.0, 5.0))))


def draw_complexity_trend(ax, metric: str, trends: list):
    """Fig. 12 bottom: ``metric`` of the good models against flops (log-log), with the fitted power law."""
    import numpy as np

    for k, t in enumerate(trends):
        c = f"C{k}"
        ax.scatter(t.flops, t.values, s=6, alpha=0.5, lw=0, color=c)
        x = np.geomspace(t.flops.min(), t.flops.max(), 20)
        ax.plot(x, np.exp(t.intercept) * x ** t.exponent, "-", color=c,
                label=f"{t.space}: {metric} ~ flops^{t.exponent:.2f} [{t.low:.2f}, {t.high:.2f}]")
    _flops_axis(ax)
    ax.set_yscale("log")
    ax.set_xlabel("flops")
    ax.set_ylabel(f"{metric} of the good models")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def draw_speed(axes, cx: dict, ms, pearson: dict, lines: dict, title: str, marks: list | None = None):
    """Fig. 12 top: ms against flops, params and acts (log-log), each with Pearson's r and the line of the
    least-squares fit ms ~ a*x + c (``lines``, from the analysis); ``marks``: reference networks ({name, ms,
    flops, params, acts}) drawn as labelled stars."""
    import numpy as np

    for ax, k in zip(axes, COUNTS):
        x = cx[k]
        ax.scatter(x, ms, s=8, alpha=0.6, lw=0)
        for m in marks or []:
            ax.scatter([m[k]], [m["ms"]], marker="*", s=90, color="black", zorder=5)
            ax.annotate(m["name"], (m[k], m["ms"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
        if k in lines:
            xs = np.geomspace(x.min(), x.max(), 30)
            ys = lines[k].predict({k: xs})
            ok = ys > 0
            ax.plot(xs[ok], ys[ok], "-", color="tab:red", lw=1.2, label=f"r = {pearson[k]:.3f}")
            ax.legend(fontsize=8, loc="upper left")
        _flops_axis(ax, unit="F" if k == "flops" else "")
        ax.set_yscale("log")
        ax.set_xlabel(k)
        ax.set_ylabel("ms")
        ax.grid(alpha=0.3)
    axes[1].set_title(title, fontsize=8)
    return axes


def draw_rank(ax, r):
    """NDS Fig. 12 / RegNet Fig. 21: models at (x, y) coloured by relative error rank (rank/n, dark = good), the
    good models' least-squares line on top; without y, relative rank against x with the good models' median x."""
    import numpy as np

    y = r.ys if r.y else r.ranks
    order = np.argsort(-r.ranks)  # the good models drawn last, on top
    sc = ax.scatter(r.xs[order], y[order], c=r.ranks[order], cmap="viridis", vmin=0, vmax=1, s=14, lw=0, alpha=0.9)
    ax.figure.colorbar(sc, ax=ax, label="relative rank (rank/n)")
    if r.log_x:
        ax.set_xscale("log")
    if r.y and r.log_y:
        ax.set_yscale("log")
    if r.fit:
        f = r.fit
        gx = r.xs[r.is_good]  # the line spans the good models it was fitted to
        lo, hi = (np.log10(gx.min()), np.log10(gx.max())) if r.log_x else (gx.min(), gx.max())
        t = np.linspace(lo, hi, 30)
        v = f["slope"] * t + f["intercept"]
        ax.plot(10 ** t if r.log_x else t, 10 ** v if r.log_y else v, "-", color="tab:red", lw=1.5,
                label=f"good models (top {r.good:.0%}): slope {f['slope']:.2f}")
        ax.legend(fontsize=8, loc="best")
    elif not r.y and r.good_x["n"]:
        ax.axvline(r.good_x["median"], color="tab:red", lw=1.2,
                   label=f"good models' median {r.x} = {r.good_x['median']:.3g}")
        ax.axvspan(r.good_x["low"], r.good_x["high"], color="tab:red", alpha=0.1)
        ax.legend(fontsize=8, loc="best")
    ax.set_xlabel(r.x)
    ax.set_ylabel(r.y or "relative rank (rank/n)")
    ax.set_title(f"{', '.join(r.sweeps)}: {r.n} models", fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def draw_budget(ax, f, measure=None):
    """Budget check of one sweep at one factor: each model's error (or the task's measure: ``measure``, its values
    as it reads them) at the base budget (x) against the longer budget (y), the diagonal, and Spearman's rho with
    its interval."""
    import numpy as np

    from dse.tasks import ERROR

    m = measure or ERROR
    base, long = m.shown(np.asarray(f.base)), m.shown(np.asarray(f.long))
    ax.scatter(base, long, s=16, alpha=0.8, lw=0)
    lo = float(min(np.min(base), np.min(long)))
    hi = float(max(np.max(base), np.max(long)))
    ax.plot([lo, hi], [lo, hi], "--", color="gray", lw=1, label=f"same {m.noun}")
    ax.set_xlabel(f"{m.noun} at the base budget ({m.unit})")
    ax.set_ylabel(f"{m.noun} at {f.budget} ({m.unit})")
    ax.set_title(f"{f.sweep} x{f.factor:g}: Spearman {f.spearman:.2f} [{f.spearman_low:.2f}, {f.spearman_high:.2f}], "
                 f"top-25% overlap {f.top_overlap:.0%}", fontsize=8)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return ax


def draw_finding(ax, row, ylabel: str, zero: bool = False):
    """One finding's evidence: per regime the statistic with its interval against flops (log x), its verdict in
    the title; ``ylabel`` and ``zero`` (a line at 0) are its registry entry's (dse.analysis.findings.FINDINGS)."""
    import numpy as np

    x, m, lo, hi = (np.array(v, dtype=np.float64) for v in zip(*row.points))
    ax.errorbar(x, m, yerr=[m - lo, hi - m], fmt="o", capsize=3, lw=1.2)
    if row.band is not None:  # the paper's value
        if row.band[0] == row.band[1]:
            ax.axhline(row.band[0], color="tab:green", lw=1, ls="--", label="paper")
        else:
            ax.axhspan(*row.band, color="tab:green", alpha=0.12, lw=0, label="paper")
        ax.legend(fontsize=7, loc="best")
    ax.set_xscale("log")
    bitops = getattr(row, "axis", "flops") == "BitOps"
    _flops_axis(ax, ticks=sorted(set(x)) if bitops else None, unit="" if bitops else "F")
    if zero:
        ax.axhline(0, color="gray", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(getattr(row, "axis", "flops"))
    ax.set_title(f"{row.id}: {row.verdict}", fontsize=9)
    ax.grid(alpha=0.3)
    return ax
