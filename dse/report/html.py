"""A self-contained HTML report of a study: tables and figures (inline SVG), no external links. It lays
out results that ``dse.Study.report`` computed; it computes nothing of its own."""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone

from dataclasses import dataclass, field

from dse import __version__

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:1.2em 1.6em;color:#1d2330;background:#fff;line-height:1.45}
h1{font-size:1.7em;margin:.2em 0} h2{font-size:1.3em;margin-top:1.8em;border-bottom:2px solid #e3e7ef;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.2em 0 .4em} table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{padding:.3em .7em;border-bottom:1px solid #e3e7ef;text-align:right} th{background:#f4f6fa}
td:first-child,th:first-child,.t{text-align:left} .fig svg{max-width:100%;height:auto} .muted{color:#667}
nav a{margin-right:1em} .yes{color:#17803d;font-weight:600} .no{color:#a33}
"""


def _svg(result) -> str:
    """A result's figure as inline SVG."""
    buf = io.StringIO()
    result.figure().savefig(buf, format="svg")  # figure() has laid itself out tightly: no second draw pass
    s = buf.getvalue()
    return s[s.index("<svg"):]


def _isnum(c) -> bool:
    try:
        float(str(c).replace(",", "").split("/")[0])
        return True
    except ValueError:
        return str(c) == ""


def _table(cols, rows, raw_cols=()) -> str:
    """An HTML table; numeric columns right-aligned, text left."""
    num = [all(_isnum(r[i]) for r in rows) for i in range(len(cols))]
    al = lambda i: "" if num[i] else " class=t"  # noqa: E731
    head = "".join(f"<th{al(i)}>{html.escape(str(c))}</th>" for i, c in enumerate(cols))
    body = "".join("<tr>" + "".join(f"<td{al(i)}>{c if i in raw_cols else html.escape(str(c))}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _f(v, fmt=".2f"):
    return "" if v is None else format(v, fmt)


def _regimes(t) -> list[str]:
    """The regime labels of a TrendsResult, in order of flops."""
    from dse.units import regime_label

    return [regime_label(f) for f in sorted({r.flops for s in t.series for r in s.regimes})]


def _cells(s, labels) -> list[str]:
    """A series' 'median [low, high]' under each regime label ('' where it has none)."""
    from dse.units import regime_label

    by = {regime_label(r.flops): r for r in s.regimes}
    return [f"{by[k].median:.4g} [{by[k].low:.4g}, {by[k].high:.4g}]" if k in by else "" for k in labels]


def _verdict(v: str) -> str:
    cls = {"grows": "yes", "shrinks": "no", "yes": "yes", "no": "no", "ok": "yes", "flagged": "no"}.get(v, "muted")
    return f'<span class="{cls}">{html.escape(v)}</span>'


@dataclass
class ReportData:
    """Everything the report shows, computed by ``dse.Study.report``: the report only lays it out."""

    path: object
    metric: str
    sweeps: list
    status: list          # [SweepStatus]
    with_error: dict = field(default_factory=dict)  # {name: models with an error}
    trained: list = field(default_factory=list)  # sweeps with >= 2 errors
    edf: object = None    # EdfComparison of the trained sweeps
    edf_flops: object = None  # the same, flops-normalised (None when the ranges do not overlap)
    bootstraps: dict = field(default_factory=dict)  # {name: BootstrapResult}
    complexity: object = None  # ComplexityView
    curves: dict = field(default_factory=dict)  # {name: Curves}
    fits: dict = field(default_factory=dict)    # {name: FitResult of the 8 best}
    refines: dict = field(default_factory=dict)  # {name: RefineResult}
    trends: object = None  # TrendsResult, when a space was trained at two or more regimes
    regime_refines: dict = field(default_factory=dict)  # {space: RefineResult voted by its regimes}
    ranks: dict = field(default_factory=dict)  # {name: [RankResult]} of sweeps that sample optimiser settings
    undertraining: dict = field(default_factory=dict)  # {name: Undertraining}
    budget_check: object = None  # BudgetCheck from the copies dse budget-check stored, when any
    power: object = None  # PowerResult of the first two trained sweeps (both with a pilot's worth of models)


def render(d: ReportData) -> str:
    """The HTML text of the report."""
    sec = []

    # 1. summary
    srows = []
    for st in d.status:
        prot = st.protocol or {}
        ptxt = ", ".join(f"{k}={prot[k]}" for k in ("dataset", "budget", "train_size", "batch_size", "lr")
                         if prot.get(k) is not None) if prot else "not trained here"
        srows.append([st.sweep, st.space, ptxt, st.models, d.with_error.get(st.sweep, 0), _f(st.best_error),
                      _f(st.median_error), _f(st.train_hours, ".3f"), st.counts["failed"] + st.counts["diverged"]])
    sec.append(("summary", "Summary", _table(["sweep", "space", "protocol", "models", "with error", "best err %",
                                              "median err %", "train hours", "failed/diverged"], srows)))

    # 2. EDFs
    body = ""
    if d.edf:
        body += "<h3>Error EDFs</h3>" + _table(["sweep", "n", "min", "mean", "median", "p25", "p75"],
                                               [[n, s.n, _f(s.min), _f(s.mean), _f(s.median), _f(s.p25), _f(s.p75)]
                                                for n, s in d.edf.sweeps.items()])
        body += f'<div class="fig">{_svg(d.edf)}</div>'
        if d.edf.ks:
            body += "<h3>Kolmogorov-Smirnov</h3>" + _table(
                ["a", "b", "D", "p-value"], [[k.a, k.b, _f(k.statistic, ".3g"), _f(k.pvalue, ".3g")] for k in d.edf.ks])
            if d.edf_flops:
                nz = d.edf_flops.normalization
                body += (f"<h3>Flops-normalised EDFs</h3><p class=muted>{nz.bins} bins over {nz.range[0]:.4g}.."
                         f"{nz.range[1]:.4g} flops (NDS weights 1/(k m_j)).</p>")
                body += f'<div class="fig">{_svg(d.edf_flops)}</div>'
            else:
                body += "<p class=muted>The sweeps' flops ranges do not overlap enough for a normalised EDF.</p>"
    else:
        body = "<p class=muted>No sweep has two or more models with errors yet.</p>"
    sec.append(("edf", "Error distributions", body))

    # 3. parameters with bootstrap bands
    body = ""
    for n, b in d.bootstraps.items():
        body += f"<h3>{html.escape(n)}</h3>" + _table(
            ["param", "median", "95% low", "95% high"],
            [[p.param, f"{p.median:.4g}", f"{p.low:.4g}", f"{p.high:.4g}"] for p in b.panels])
        body += f'<div class="fig">{_svg(b)}</div>'
    sec.append(("params", "Error against the space parameters (bootstrap bands)", body or
                "<p class=muted>Nothing trained yet.</p>"))

    # 3b. relative-rank scatter of sweeps that sample optimiser settings (RegNet Fig. 21)
    if d.ranks:
        body = ("<p class=muted>Each model coloured by its relative error rank (rank/n, dark = good). RegNet App. C: "
                "good models lie along a line of constant lr&middot;wd (slope -1 in log-log).</p>")
        for n, rs in d.ranks.items():
            rows = []
            for r in rs:
                f = r.fit
                rows.append([f"{r.y or 'rank'} vs {r.x}", r.n, r.good_x["n"],
                             f"{f['slope']:.3f}" if f else "", f"{f['r']:.3f}" if f else "",
                             f"{r.good_x['median']:.4g} ({r.good_x['low']:.4g}..{r.good_x['high']:.4g})"])
            body += f"<h3>{html.escape(n)}</h3>" + _table(
                ["plot", "models", "good", "slope of the good", "r", "good models' x: median (95% range)"], rows)
            body += "".join(f'<div class="fig">{_svg(r)}</div>' for r in rs)
        sec.append(("rank", "Optimiser settings: relative rank", body))

    # 4. complexity
    body = f'<div class="fig">{_svg(d.complexity)}</div>' if d.complexity else "<p class=muted>Nothing trained yet.</p>"
    sec.append(("complexity", "Complexity", body))

    # 4b. trends across regimes (only when a space has two or more)
    if d.trends:
        t = d.trends
        body = (f"<p class=muted>Per regime: the bootstrap of the best model's value ({t.n_boot} resamples, {t.ci:g}% "
                f"interval) and the min..max of the regime's models. Trend: slope of log(value) against log(flops) "
                f"(of the value on a linear scale), interval from the bootstrap replicates; 'stable' when it holds 0. "
                f"The paper (RegNetX): depth, b and wm stable; w0, wa, g grow; acts ~ flops^0.5, params ~ flops^1."
                f"</p>")
        body += _table(["space", "param", "scale", *[f"{label}" for label in _regimes(t)], "slope",
                        f"{t.ci:g}% interval", "trend"],
                       [[s.space, s.param, s.scale, *_cells(s, _regimes(t)), f"{s.slope:+.3f}",
                         f"{s.slope_low:+.3f}..{s.slope_high:+.3f}", _verdict(s.trend)] for s in t.series],
                       raw_cols=(len(_regimes(t)) + 5,))
        body += _table(["space", "metric", "exponent", f"{t.ci:g}% interval", "good models"],
                       [[c.space, c.metric, f"{c.exponent:.3f}", f"{c.low:.3f}..{c.high:.3f}", c.n]
                        for c in t.complexity])
        body += f'<div class="fig">{_svg(t)}</div>'
        for sp, res in d.regime_refines.items():
            body += (f"<h3>{html.escape(sp)} refined by all its regimes: log10 size {res.log10_size_before:.2f} -> "
                     f"{res.log10_size_after:.2f}</h3>" + _table(
                         ["kind", "proposal", "accept", "votes", "why"],
                         [[q.kind, q.label, _verdict("yes" if q.accepted else "no"), q.vote_summary, q.why]
                          for q in res.proposals], raw_cols=(2,)))
        sec.append(("trends", "Trends across regimes", body))

    # 4c. is the budget long enough?
    if d.undertraining or d.budget_check:
        body = ("<p class=muted>Signals of a too-short budget from the stored epochs (flagged: loss still falling by "
                "&ge; 10% in the last epoch for most models; error rising with depth, Spearman &ge; 0.5; more than a "
                "quarter of models near chance), and the rank agreement of models retrained at a longer budget "
                "(dse budget-check).</p>")
        rows = []
        for n, u in d.undertraining.items():
            m = u.measured
            lf, dp, nc = m.get("loss_falling"), m.get("depth"), m.get("near_chance")
            rows.append([n, u.n, f"{lf['share']:.0%}" if lf else "", f"{dp['spearman']:.2f}" if dp else "",
                         f"{nc['share']:.0%}" if nc else "",
                         _verdict("flagged" if u.flagged else "ok") + " " + html.escape(
                             ", ".join(x.name for x in u.signals))])
        body += _table(["sweep", "models", "loss still falling", "Spearman(depth, error)", "near chance", "signals"],
                       rows, raw_cols=(5,))
        b = d.budget_check
        if b:
            body += _table(["sweep", "factor", "budget", "n", "Spearman", "95% interval", "Kendall", "top-25% overlap",
                            "median change"],
                           [[f.sweep, f"x{f.factor:g}", f.budget, f.n, f"{f.spearman:.3f}",
                             f"{f.spearman_low:.2f}..{f.spearman_high:.2f}", f"{f.kendall:.3f}", f"{f.top_overlap:.0%}",
                             f"{f.median_change:+.2f}"] for f in b.factors])
            if b.comparisons:
                body += _table(["factor", "base order", "longer order", "flipped"],
                               [[f"x{c.factor:g}", c.base_order, c.long_order, "yes" if c.flipped else "no"]
                                for c in b.comparisons])
            body += f"<p>verdict: <b>{html.escape(b.verdict)}</b> ({html.escape(b.why)})</p>"
            body += f'<div class="fig">{_svg(b)}</div>'
        else:
            body += "<p class=muted>No budget check stored: dse budget-check --sweep NAME retrains a few models longer.</p>"
        sec.append(("budget", "Is the budget long enough?", body))

    # 4b. how many models does the comparison need?
    p = d.power
    if p is not None:
        body = (f"<p>The power of the KS test at {p.alpha:g} between {html.escape(p.sweeps[0])} and "
                f"{html.escape(p.sweeps[1])} for n models per space, by resampling the trained pilots "
                f"({p.pilot_n[0]} and {p.pilot_n[1]} models; {p.reps} simulated studies per n). Each EDF's 95% band "
                f"is shaded in the first section.</p>")
        body += _table(["n per space", "power", "95% (Monte-Carlo)", "EDF band +/-"],
                       [[r.n, f"{r.power:.3f}", f"{r.low:.3f}..{r.high:.3f}", f"{r.band_half_width:.3f}"]
                        for r in p.rows])
        body += ("<p>" + (f"n = {p.n_needed} per space reaches power {p.target:g} ({p.more_models} more per space"
                          + (f", about {p.hours:.1f} h of training" if p.hours is not None else "") + ")."
                          if p.n_needed else f"No n in the table reaches power {p.target:g}.")
                 + (f" The small pilots make this uncertain: resampled, the power at that n ranges "
                    f"{p.pilot_interval[0]:.2f}..{p.pilot_interval[1]:.2f}." if p.pilot_interval else "") + "</p>")
        body += f'<div class="fig">{_svg(p)}</div>'
        sec.append(("power", "How many models?", body))

    # 5. training curves
    body = ""
    for n, c in d.curves.items():
        if c.models:
            body += f"<h3>{html.escape(n)}: 3 best and 3 worst</h3><div class='fig'>{_svg(c)}</div>"
    sec.append(("curves", "Training curves", body or "<p class=muted>No per-epoch records (imported sweeps have none).</p>"))

    # 6. widths of the best models with their RegNet fits
    body = ""
    for n, f in d.fits.items():
        body += f"<h3>{html.escape(n)}: the 8 best models</h3><div class='fig'>{_svg(f)}</div>"
    sec.append(("widths", "Per-block widths of the best models and their RegNet fits", body or
                "<p class=muted>Nothing trained yet.</p>"))

    # 7. refinement
    body = ""
    for n in d.trained:
        res = d.refines.get(n)
        if res is None:
            body += f"<p class=muted>{html.escape(n)}: imported without a space; run dse refine --space BASE.</p>"
            continue
        rows = []
        for q in res.proposals:
            ev = q.evidence
            acc = '<span class="yes">yes</span>' if q.accepted else '<span class="no">no</span>'
            rows.append([q.kind, q.param, q.rule, q.bounds, f"{ev.n_satisfy}/{ev.n_other}",
                         _f(ev.mean_error_satisfy), _f(ev.mean_error_other), _f(ev.pvalue, ".3g"), acc, q.why])
        body += (f"<h3>{html.escape(n)} ({html.escape(res.base_space)}): log10 size {res.log10_size_before:.2f} -> "
                 f"{res.log10_size_after:.2f}</h3>" +
                 _table(["kind", "param", "rule", "proposal", "n sat/other", "err sat", "err other", "p", "accept",
                         "why"], rows, raw_cols=(8,)))
    sec.append(("refine", "Refinement proposals", body or "<p class=muted>Nothing trained yet.</p>"))

    nav = "".join(f'<a href="#{i}">{html.escape(t)}</a>' for i, t, _ in sec)
    parts = "".join(f'<section id="{i}"><h2>{html.escape(t)}</h2>{b}</section>' for i, t, b in sec)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>dse report</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
            f"<h1>dse report</h1><p class=muted>{html.escape(', '.join(d.sweeps))} &middot; {html.escape(str(d.path))} "
            f"&middot; {d.metric} error &middot; {when} &middot; dse {__version__}</p><nav>{nav}</nav>{parts}</body></html>")
