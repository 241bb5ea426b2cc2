"""The HTML report: a list of sections, each one function of a ReportContext that computes through the Study's
public methods and returns its HTML (``@section``); ``dse.report.html`` writes the page."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dse.analysis.population import stage_index
from dse.analysis.power import MIN_PILOT
from dse.api.analyses import _series
from dse.api.common import StudyBase
from dse.errors import DseError, ParamError, write_error
from dse.tasks import task, task_of
from dse.params import DEFAULTS as D
from dse.params import FilePath, checked
from dse.report import html as H
from dse.validate import check_output


def _trend_params(recs, pops) -> list[str]:
    """The parameters the report's trends follow: a RegNet family's (depth w0 wa wm b g), else depth and the
    stage widths (no fits needed); those every sweep of a series has."""
    common = set.intersection(*(set(p.param_names()) for p in pops.values()))
    if all(r.family == "regnet" for r in recs.values()):
        return [q for q in ("depth", "w0", "wa", "wm", "b", "g") if q in common]
    first = next(iter(pops.values()))
    return ["depth"] + [q for q in first.param_names() if q in common and q[0] == "w" and stage_index(q) is not None]


def _bootstrap_params(rec, pop) -> list[str]:
    """The parameters the report bootstraps for a sweep: its family's, then the design choices it samples;
    those with two or more values."""
    names = pop.param_names()
    if (rec.space or {}).get("family") == "regnet":
        want = [q for q in names if q in ("depth", "w0", "wa", "wm", "b", "g")]
    else:
        want = [q for q in names if q in ("depth", "b", "g") or stage_index(q) is not None]
    want += pop.setting_names()  # the design choices it samples (activation, resolution, lr, ...)
    return [q for q in want if (~np.isnan(pop.values(q))).sum() >= 2]


@dataclass
class ReportContext:
    """What every section reads, gathered once: the study, its sweeps, their records and populations (``trained``:
    those with two or more errors), the metric, and whether sweeps were named."""

    study: object
    names: list
    recs: dict
    pops: dict
    metric: str
    named: bool

    @property
    def trained(self) -> list:
        return [n for n in self.names if self.pops[n].n >= 2]


@dataclass(frozen=True)
class Section:
    """A section of the report: its id (the HTML anchor, ``/api/section/ID`` in dse serve), its title, the function
    of the ReportContext that renders it, and whether dse serve's page shows it: ``live`` (redrawn as the store
    changes: cheap), ``demand`` (a button: a bootstrap takes a while beside training) or None (the report only)."""

    id: str
    title: str
    render: object
    live: str | None = None


SECTIONS: list[Section] = []  # in the report's order


def section(id: str, title: str, live: str | None = None):
    """Register a report section: a function of the ReportContext that computes through the Study's public methods
    and returns its HTML (None: the section is left out). Adding a section is writing one such function; ``live``
    (live or demand) shows it on dse serve's page too."""
    if live not in (None, "live", "demand"):
        raise ValueError(f"live must be None, 'live' or 'demand', got {live!r}")

    def deco(f):
        SECTIONS.append(Section(id, title, f, live))
        return f
    return deco


NOTHING = H.muted("Nothing trained yet.")


@section("summary", "Summary")
def summary(c: ReportContext) -> str:
    rows = []
    status = c.study.status()
    low = any(st.task != "classify" for st in status if st.sweep in c.names)
    for st in status:
        if st.sweep not in c.names:
            continue
        prot = st.protocol or {}
        ptxt = ", ".join(f"{k}={prot[k]}" for k in ("dataset", "budget", "train_size", "batch_size", "lr")
                         if prot.get(k) is not None) if prot else "not trained here"
        m = task(st.task).metric
        res = (lambda v, m=m: "" if v is None else m.fmt(v)) if low else H.fmt
        rows.append([st.sweep, st.space, ptxt, st.models, c.pops[st.sweep].n, res(st.best_error),
                     res(st.median_error), H.fmt(st.train_hours, ".3f"), st.counts["failed"] + st.counts["diverged"]])
    heads = ["best", "median"] if low else ["best err %", "median err %"]  # a PSNR sweep's in dB, each with its unit
    return H.table(["sweep", "space", "protocol", "models", "with result" if low else "with error", *heads,
                    "train hours", "failed/diverged"], rows)


@section("edf", "Error distributions")
def edfs(c: ReportContext) -> str:
    if not c.trained:
        return H.muted("No sweep has two or more models with errors yet.")
    # trained reference networks (dse sample --reference) are marked at their error, not drawn as populations
    refs = [n for n in c.names if c.recs[n].source == "reference" and c.pops[n].n == 1]
    groups = {}  # the sweeps of one task (and one SR scale or noise) form one comparison each
    for n in c.trained:
        r = c.recs[n].regime or {}
        groups.setdefault((task_of(r).name, r.get("scale"), r.get("sigma")), []).append(n)
    body = ""
    for (t, scale, sigma), names in groups.items():
        if len(groups) > 1:
            body += f"<h3>{t}" + (f" x{scale}" if scale else "") + (f", sigma {sigma:g}" if sigma else "") + "</h3>"
        body += _edf_block(c, names, [n for n in refs if (c.recs[n].regime or {}).get("task", "classify") == t
                                      and (c.recs[n].regime or {}).get("scale") == scale])
    return body


def _edf_block(c: ReportContext, trained: list, refs: list) -> str:
    """The EDFs, reference marks, KS tests and flops-normalised EDFs of sweeps of one task."""
    e = c.study.edf(trained, metric=c.metric, reference=refs or None)
    m = e.measure
    title = "Error EDFs" if not m.higher_is_better else f"{m.label} EDFs ({m.unit}, higher is better)"
    body = f"<h3>{title}</h3>" + H.table(["sweep", "n", m.best_word, "mean", "median", "p25", "p75"],
                                         [[n, s.n, H.fmt(s.min), H.fmt(s.mean), H.fmt(s.median), H.fmt(s.p25),
                                           H.fmt(s.p75)] for n, s in e.sweeps.items()])
    body += H.figure(e)
    if e.references:
        body += "<h3>Reference networks</h3>" + H.table(
            ["reference", m.name] + [f"share of {n} as good or better" for n in e.sweeps],
            [[n, H.fmt(r["error"])] + [H.fmt(r["at_or_below"][s], ".3f") for s in e.sweeps]
             for n, r in e.references.items()])
    if e.ks:
        body += "<h3>Kolmogorov-Smirnov</h3>" + H.table(
            ["a", "b", "D", "p-value"], [[k.a, k.b, H.fmt(k.statistic, ".3g"), H.fmt(k.pvalue, ".3g")] for k in e.ks])
        flops = None
        for k in (10, 5, 3, 2):  # the finest binning every sweep fills
            try:
                flops = c.study.edf(trained, normalize="flops", bins=k, metric=c.metric)
                break
            except DseError:
                continue
        if flops:
            nz = flops.normalization
            body += (f"<h3>Flops-normalised EDFs</h3><p class=muted>{nz.bins} bins over {nz.range[0]:.4g}.."
                     f"{nz.range[1]:.4g} flops (NDS weights 1/(k m_j)).</p>") + H.figure(flops)
        else:
            body += H.muted("The sweeps' flops ranges do not overlap enough for a normalised EDF.")
    return body


@section("params", "Error against the space parameters (bootstrap bands)", live="demand")
def parameters(c: ReportContext) -> str:
    body = ""
    for n in c.trained:
        want = _bootstrap_params(c.recs[n], c.pops[n])
        if not want:
            continue
        b = c.study.bootstrap(want, [n], metric=c.metric)
        body += f"<h3>{html.escape(n)}</h3>" + H.table(
            ["param", "median", "95% low", "95% high"],
            [[q.param, f"{q.median:.4g}", f"{q.low:.4g}", f"{q.high:.4g}"] for q in b.panels]) + H.figure(b)
    return body or NOTHING


@section("rank", "Optimiser settings: relative rank")
def ranks(c: ReportContext) -> str | None:
    """Sweeps that sample optimiser settings: the relative-rank scatter (RegNet Fig. 21)."""
    body = ""
    for n in c.trained:
        opt = [q for q in ("lr", "wd", "momentum", "batch_size") if q in c.pops[n].setting_names()]
        if not opt or c.pops[n].n < 4:
            continue
        x, y = ("lr", "wd") if {"lr", "wd"} <= set(opt) else (opt[0], None)
        rs = [c.study.rank(x, y, sweeps=[n], metric=c.metric)]
        if y == "wd":
            rs.append(c.study.rank("lr_wd", None, sweeps=[n], metric=c.metric))
        rows = []
        for r in rs:
            f = r.fit
            rows.append([f"{r.y or 'rank'} vs {r.x}", r.n, r.good_x["n"], f"{f['slope']:.3f}" if f else "",
                         f"{f['r']:.3f}" if f else "",
                         f"{r.good_x['median']:.4g} ({r.good_x['low']:.4g}..{r.good_x['high']:.4g})"])
        body += f"<h3>{html.escape(n)}</h3>" + H.table(
            ["plot", "models", "good", "slope of the good", "r", "good models' x: median (95% range)"], rows)
        body += "".join(H.figure(r) for r in rs)
    if not body:
        return None
    return H.muted("Each model coloured by its relative rank by result (rank/n: the lowest error, or the highest PSNR, "
                   "first; dark = good). RegNet App. C: good models "
                   "lie along a line of constant lr&middot;wd (slope -1 in log-log).") + body


@section("complexity", "Complexity", live="live")
def complexity(c: ReportContext) -> str:
    return H.figure(c.study.complexity(c.trained, metric=c.metric)) if c.trained else NOTHING


@section("trends", "Trends across regimes")
def trends(c: ReportContext) -> str | None:
    """Only when a space was trained at two or more regimes."""
    trained = c.trained
    if not trained:
        return None
    try:
        groups, _ = _series({n: c.recs[n] for n in trained}, {n: c.pops[n] for n in trained}, named=False)
    except DseError:  # no space trained at two or more regimes
        return None
    if not groups:
        return None
    ns = [n for g in groups.values() for n in g]
    # the whole store groups itself by space; named sweeps would make one series, so name one space's
    series = None if not c.named or len(groups) > 1 else ns
    t = c.study.trends(_trend_params({n: c.recs[n] for n in ns}, {n: c.pops[n] for n in ns}), series,
                       metric=c.metric)
    labels = H.regimes(t)
    body = H.muted(f"Per regime: the bootstrap of the best model's value ({t.n_boot} resamples, {t.ci:g}% interval) "
                   f"and the min..max of the regime's models. Trend: slope of log(value) against log(flops) (of the "
                   f"value on a linear scale), interval from the bootstrap replicates; 'stable' when it holds 0. The "
                   f"paper (RegNetX): depth, b and wm stable; w0, wa, g grow; acts ~ flops^0.5, params ~ flops^1.")
    body += H.table(["space", "param", "scale", *labels, "slope", f"{t.ci:g}% interval", "trend"],
                    [[s.space, s.param, s.scale, *H.cells(s, labels), f"{s.slope:+.3f}",
                      f"{s.slope_low:+.3f}..{s.slope_high:+.3f}", H.verdict(s.trend)] for s in t.series],
                    raw_cols=(len(labels) + 5,))
    body += H.table(["space", "metric", "exponent", f"{t.ci:g}% interval", "good models"],
                    [[x.space, x.metric, f"{x.exponent:.3f}", f"{x.low:.3f}..{x.high:.3f}", x.n] for x in t.complexity])
    body += H.figure(t)
    for sp, group in groups.items():
        if len({json.dumps(c.recs[n].space, sort_keys=True) for n in group}) != 1 or not c.recs[group[0]].space:
            continue
        res = c.study.refine(group, metric=c.metric, min_support=min(20, max(2, min(c.pops[n].n for n in group) // 5)))
        body += (f"<h3>{html.escape(sp)} refined by all its regimes: log10 size {res.log10_size_before:.2f} -> "
                 f"{res.log10_size_after:.2f}</h3>" + H.table(
                     ["kind", "proposal", "accept", "votes", "why"],
                     [[q.kind, q.label, H.verdict("yes" if q.accepted else "no"), q.vote_summary, q.why]
                      for q in res.proposals], raw_cols=(2,)))
    return body


@section("findings", "The paper's findings")
def findings(c: ReportContext) -> str | None:
    """Each finding of the RegNet paper as a verdict on these sweeps (dse findings), with its evidence."""
    if not c.trained:
        return None
    groups = {}  # the tasks here: classification, and each SR scale or noise level, judged apart
    for n in c.trained:
        r = c.recs[n].regime or {}
        groups.setdefault((task_of(r).name, r.get("scale"), r.get("sigma")), []).append(n)
    body = ("<p class=muted>Criteria: docs/findings.md. A claim about every regime needs several regimes of "
            "enough models; an undertrained sweep gives can't tell. On SR and denoising each finding reads as "
            "docs/findings.md says (or is not applicable, with why).</p>")
    for (t, scale, sigma) in sorted(groups, key=lambda k: (k[0] != "classify", k[0], k[1] or 0, k[2] or 0)):
        r = c.study.findings(c.names if c.named else None, metric=c.metric, task=t, scale=scale, sigma=sigma)
        if len(groups) > 1 or t != "classify":
            body += f"<h3>{html.escape(t)}" + (f" x{scale}" if scale else "") + (
                f", sigma {sigma:g}" if sigma else "") + "</h3>"
        rows = [[x.claim, x.verdict, x.reason + (f" To settle: {x.settle}" if x.settle and x.verdict == "can't tell"
                                                 else ""), x.measured or "", "; ".join(x.notes)] for x in r.rows]
        body += H.table(["finding", "verdict", "why", "measured", "notes"], rows)
        body += H.figure(r) if any(x.points for x in r.rows) else ""
    return body


@section("budget", "Is the budget long enough?", live="live")
def budget(c: ReportContext) -> str | None:
    if not c.trained:
        return None
    under = c.study.undertraining(c.names, metric=c.metric)
    b = c.study.stored_budget_check(c.trained, metric=c.metric)
    if not under and not b:
        return None
    body = H.muted("Signals of a too-short budget from the stored epochs (flagged: loss still falling by &ge; 10% in "
                   "the last epoch for most models; error rising (a PSNR falling) with depth, Spearman &ge; 0.5; "
                   "more than a quarter of classifiers near chance), and the rank agreement of models retrained at "
                   "a longer budget (dse budget-check).")
    rows = []
    for n, u in under.items():
        m = u.measured
        lf, dp, nc = m.get("loss_falling"), m.get("depth"), m.get("near_chance")
        rows.append([n, u.n, f"{lf['share']:.0%}" if lf else "", f"{dp['spearman']:.2f}" if dp else "",
                     f"{nc['share']:.0%}" if nc else "",
                     H.verdict("flagged" if u.flagged else "ok") + " " + html.escape(
                         ", ".join(x.name for x in u.signals))])
    nouns = "/".join(sorted({c.pops[n].measure.noun for n in under}))  # error, or PSNR (then no chance level)
    body += H.table(["sweep", "models", "loss still falling", f"Spearman(depth, {nouns or 'error'})", "near chance",
                     "signals"], rows, raw_cols=(5,))
    if not b:
        return body + H.muted("No budget check stored: dse budget-check --sweep NAME retrains a few models longer.")
    body += H.table(["sweep", "factor", "budget", "n", "Spearman", "95% interval", "Kendall", "top-25% overlap",
                     f"median {b.measure.noun} change ({b.measure.points})"],
                    [[f.sweep, f"x{f.factor:g}", f.budget, f.n, f"{f.spearman:.3f}",
                      f"{f.spearman_low:.2f}..{f.spearman_high:.2f}", f"{f.kendall:.3f}", f"{f.top_overlap:.0%}",
                      f"{f.median_change:+.2f}"] for f in b.factors])
    if b.comparisons:
        body += H.table(["factor", "base order", "longer order", "flipped"],
                        [[f"x{x.factor:g}", x.base_order, x.long_order, "yes" if x.flipped else "no"]
                         for x in b.comparisons])
    return body + f"<p>verdict: <b>{html.escape(b.verdict)}</b> ({html.escape(b.why)})</p>" + H.figure(b)


@section("power", "How many models?")
def power(c: ReportContext) -> str | None:
    """The power of the first comparison (two sweeps with a pilot's worth of models): a light simulation."""
    pilots = [n for n in c.trained if c.pops[n].n >= MIN_PILOT]
    if len(pilots) < 2:
        return None
    try:
        p = c.study.power(pilots[:2], n="10,25,50,100,200", reps=500, metric=c.metric)
    except DseError:  # e.g. sweeps under different protocols: no power to report
        return None
    body = (f"<p>The power of the KS test at {p.alpha:g} between {html.escape(p.sweeps[0])} and "
            f"{html.escape(p.sweeps[1])} for n models per space, by resampling the trained pilots "
            f"({p.pilot_n[0]} and {p.pilot_n[1]} models; {p.reps} simulated studies per n). Each EDF's 95% band "
            f"is shaded in the first section.</p>")
    body += H.table(["n per space", "power", "95% (Monte-Carlo)", "EDF band +/-"],
                    [[r.n, f"{r.power:.3f}", f"{r.low:.3f}..{r.high:.3f}", f"{r.band_half_width:.3f}"]
                     for r in p.rows])
    if p.n_needed and not p.more_models:
        need = f"n = {p.n_needed} per space reaches power {p.target:g}: the pilots already do (no more models)."
    elif p.n_needed:
        need = (f"n = {p.n_needed} per space reaches power {p.target:g} ({p.more_models} more per space"
                + (f", about {p.hours:.1f} h of training" if p.hours is not None else "") + ").")
    else:
        need = f"No n in the table reaches power {p.target:g}."
    if p.pilot_interval:
        need += (f" The small pilots make this uncertain: resampled, the power at that n ranges "
                 f"{p.pilot_interval[0]:.2f}..{p.pilot_interval[1]:.2f}.")
    return body + f"<p>{need}</p>" + H.figure(p)


@section("curves", "Training curves")
def curves(c: ReportContext) -> str:
    body = ""
    for n in c.trained:
        cv = c.study.curves(n, best=3, worst=3, metric=c.metric)
        if cv.models:
            body += f"<h3>{html.escape(n)}: 3 best and 3 worst</h3>" + H.figure(cv)
    return body or H.muted("No per-epoch records (imported sweeps have none).")


@section("widths", "Per-block widths of the best models and their RegNet fits")
def widths(c: ReportContext) -> str:
    body = ""
    for n in c.trained:  # the report only reads: the fits are not saved
        f = c.study.fit([n], top=8, metric=c.metric, save=False, best=8)
        body += f"<h3>{html.escape(n)}: the 8 best models</h3>" + H.figure(f)
    return body or NOTHING


@section("refine", "Refinement proposals", live="demand")
def refinement(c: ReportContext) -> str:
    body = ""
    for n in c.trained:
        if not c.recs[n].space:
            body += H.muted(f"{html.escape(n)}: imported without a space; run dse refine --space BASE.")
            continue
        res = c.study.refine(n, min_support=min(20, max(2, c.pops[n].n // 5)), metric=c.metric)
        rows = []
        m = res.measure  # the means in its own values (an error, a PSNR)
        v = lambda x: None if x is None else m.shown(x)  # noqa: E731
        for q in res.proposals:
            ev = q.evidence
            acc = '<span class="yes">yes</span>' if q.accepted else '<span class="no">no</span>'
            rows.append([q.kind, q.param, q.rule, q.bounds, f"{ev.n_satisfy}/{ev.n_other}",
                         H.fmt(v(ev.mean_error_satisfy)), H.fmt(v(ev.mean_error_other)), H.fmt(ev.pvalue, ".3g"), acc,
                         q.why])
        word = "err" if m.noun == "error" else m.noun
        body += (f"<h3>{html.escape(n)} ({html.escape(res.base_space)}): log10 size {res.log10_size_before:.2f} -> "
                 f"{res.log10_size_after:.2f}</h3>" +
                 H.table(["kind", "param", "rule", "proposal", "n sat/other", f"{word} sat", f"{word} other", "p",
                          "accept", "why"], rows, raw_cols=(8,)))
    return body or NOTHING


class Reporting(StudyBase):
    """The HTML report: the sections registered above, in order."""

    @checked(path=FilePath())
    def report(self, path="report.html", sweeps=None, *, metric: str = D.metric) -> Path:
        """Write the study as one self-contained HTML file (figures inline as SVG); returns its path. Each section
        is a function of this module (``SECTIONS``) that computes through the public ``Study`` methods.

        >>> Study("s.sqlite").report("report.html")                                       # doctest: +SKIP
        PosixPath('report.html')
        """
        if Path(path).suffix.lower() not in (".html", ".htm"):
            raise ParamError(f"{{path}} {path!r}: the report is an .html file", "path")
        out = check_output(path, "path")
        with self.store() as s:
            names = self._names(s, sweeps)
            recs = {n: s.sweep(n) for n in names}
        c = ReportContext(self, names, recs, pops={n: self.population(n, metric=metric) for n in names},
                          metric=metric, named=sweeps is not None)
        parts = [(x.id, x.title, x.render(c)) for x in SECTIONS]
        nouns = " / ".join(sorted({p.measure.noun for p in c.pops.values()})) or "error"
        subtitle = (f"{html.escape(', '.join(names))} &middot; {html.escape(str(self.path))} &middot; "
                    f"{metric} {html.escape(nouns)}")
        text = H.page(subtitle, [x for x in parts if x[2] is not None])
        try:
            out.write_text(text)
        except OSError as e:
            raise write_error(out, e) from None
        return out
