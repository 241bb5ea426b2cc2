"""Analysis commands: edf, bootstrap, trends, fit, search-efficiency, plot complexity|curves, refine, report.

Each parses its options, calls one ``dse.Study`` method, and prints the result (a table, or the result's
own ``to_json()`` with --json) or saves its figure. The computation lives in the library."""

from __future__ import annotations

import shlex
from datetime import datetime, timezone
from pathlib import Path

import click

from dse.cli.main import aliases, cli, db_option, json_option, study
from dse.cli.options import PLOT, check_plot, option, save_plot
from dse.errors import DseError
from dse.validate import BANDS, NORMALIZE_BY, as_name, check_output
from dse.report.console import print_json, say, table

METRIC = option("metric")
NORM = [
    click.option("--normalize", type=click.Choice(NORMALIZE_BY), default=None,
                 help="Complexity-normalise (NDS): weight models so the complexity distributions agree "
                      "(infer_ms/train_ms: the timings of dse speed, at equal speed)."),
    click.option("--bins", type=int, default=10, show_default=True, help="Equal-width complexity bins."),
    click.option("--range", "range_", default=None, metavar="LO:HI",
                 help="Complexity range of the bins (default: largest per-sweep min to smallest max)."),
]


def _norm_options(f):
    for o in reversed(NORM):
        f = o(f)
    return f


def _boot_options(n_boot_more: str):
    """--n-boot --frac --ci --seed: the empirical bootstrap's options (bootstrap, trends)."""
    opts = [
        option("n_boot", more=n_boot_more), option("frac"), option("ci"),
        option("seed", help="Random seed of the resampling."),
    ]

    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


def budget_warnings(db, sweeps, payload=None, metric: str = "final"):
    """The undertraining signals of ``sweeps`` (default: all): one warning line each on stderr for a flagged
    sweep, or, with a JSON ``payload``, its signals under "undertraining" instead (a dict: the list of flagged
    sweeps; a list of per-sweep rows: each row its sweep's, or null). Returns the payload."""
    from dse.store import StoreDamaged

    try:
        us = study(db).undertraining(list(sweeps) or None, metric=metric)
    except StoreDamaged:
        raise
    except DseError:  # the command itself reports what is wrong with the sweeps
        return payload
    flagged = [u for u in us.values() if u.flagged]
    if isinstance(payload, dict):
        payload["undertraining"] = [u.to_json() for u in flagged]
    elif isinstance(payload, list):  # rows of sweeps (bootstrap panels): each carries its sweep's signals
        by = {u.sweep: u.to_json() for u in flagged}
        for row in payload:
            row["undertraining"] = by.get(row.get("sweep"))
    elif payload is None:
        for u in flagged:
            click.echo(u.warning(), err=True)
    return payload


def _fmt(v, fmt) -> str:
    return "" if v is None else format(v, fmt)


def _thresholds(text):
    if not text:
        return None
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise DseError(f"--thresholds: expected numbers such as 30,40,50, got {text!r}") from None


@cli.command()
@click.option("--compare", is_flag=True, help="Compare the sweeps named after it (the default reading).")
@click.argument("sweeps", nargs=-1, required=True)
@_norm_options
@click.option("--band", type=click.Choice(BANDS), default="dkw", show_default=True,
              help="A simultaneous confidence band around each EDF: DKW (with the effective sample size when "
                   "normalised), bootstrap, or none. Shaded in --plot, 'band' in --json.")
@option("level")
@click.option("--thresholds", default=None, metavar="E1,E2,...",
              help="Report the fraction of models below these errors (default: pooled 10/25/50th percentiles).")
@click.option("--reference", "references", multiple=True, metavar="SWEEP",
              help="A trained reference network's sweep (dse sample --reference NAME; repeatable): a dashed line at "
                   "its error, and the share of each sweep's models at or below it.")
@METRIC
@PLOT
@db_option
@json_option
def edf(compare, sweeps, normalize, bins, range_, band, level, thresholds, references, metric, plot, db, as_json):
    """Error EDFs of sweeps, their statistics, and two-sample KS tests of every pair.

    Example: dse edf --compare anynet_a anynet_e --normalize flops --plot edf.png
    """
    check_plot(plot)
    if len(set(sweeps)) < 2:  # the command compares; Study.edf also reads one sweep
        raise DseError("SWEEPS: name at least two sweeps to compare, e.g. dse edf --compare anynet_a anynet_e")
    r = study(db).edf(sweeps, normalize=normalize, bins=bins, range=range_, thresholds=_thresholds(thresholds),
                      metric=metric, band=band, level=level, reference=list(references) or None)
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(budget_warnings(db, sweeps, r.to_json(), metric))
        return
    budget_warnings(db, sweeps, metric=metric)
    th = r.thresholds
    nz = r.normalization
    banded = any(s.band for s in r.sweeps.values())
    m = r.measure
    better = ">" if m.higher_is_better else "<"
    hdr = ["sweep", "n", m.best_word, "mean", "median", "p10", "p25", "p75"] + [f"{better} {t:g}" for t in th] + \
        ([f"band ({band}, {100 * level:g}%)"] if banded else [])
    rows = [[n, s.n, *[f"{getattr(s, k):.2f}" for k in ("min", "mean", "median", "p10", "p25", "p75")],
             *[f"{s.below[t]:.3f}" for t in th]] + ([f"+/- {s.band['half_width']:.3f}"] if banded else [])
            for n, s in r.sweeps.items()]
    how = f", normalised by {nz.by} ({nz.bins} bins over {nz.range[0]:.4g}..{nz.range[1]:.4g})" if nz else ""
    table((f"{metric} error (%)" if not m.higher_is_better else
           f"{metric} {m.label} ({m.unit}, higher is better; p10: what the best 10% reach)") + how, hdr, rows)
    table("two-sample Kolmogorov-Smirnov" + (" (weighted)" if nz else ""), ["a", "b", "D", "p-value"],
          [[k.a, k.b, f"{k.statistic:.4f}", f"{k.pvalue:.3g}"] for k in r.ks])
    if r.references:
        table("reference networks: the share of each sweep's models as good as theirs or better",
              ["reference", m.name] + list(r.sweeps),
              [[n, f"{x['error']:.2f}"] + [f"{x['at_or_below'][s]:.3f}" for s in r.sweeps]
               for n, x in r.references.items()])
    save_plot(r, plot)


@cli.command()
@click.option("--param", "params", multiple=True, required=True,
              help="Parameter (repeatable): d1..dS w1..wS b1..bS g1..gS (k1..kS e1..eS of blocks that use them) depth "
                   "flops params acts w0 wa wm e_fit, b/g/k/e if shared, and the design choices a space samples: "
                   "activation resolution lr wd lr_wd momentum batch_size.")
@option("sweeps", help="Sweep (repeatable; default: every sweep that has the parameter).")
@_boot_options("")
@METRIC
@PLOT
@db_option
@json_option
@aliases(param="--param")
def bootstrap(params, sweeps, n_boot, frac, ci, seed, metric, plot, db, as_json):
    """Where the good models lie: the empirical bootstrap of the best model's parameter value.

    Resample frac*n (parameter, error) pairs with replacement, keep the parameter of the lowest error,
    repeat n-boot times; the median and the ci% interval of the kept values are reported.
    """
    check_plot(plot)
    r = study(db).bootstrap(params, sweeps, n_boot=n_boot, frac=frac, ci=ci, seed=seed, metric=metric)
    named = list(dict.fromkeys(p.sweep for p in r.panels))
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(budget_warnings(db, named, r.to_json(), metric))
        return
    budget_warnings(db, named, metric=metric)
    measures = sorted({p.measure.label or p.measure.name for p in r.panels})  # error, or PSNR (the best: highest)
    table(f"bootstrap of the best model's value ({n_boot} resamples of {frac:g} n, {ci:g}% interval, {metric} "
          f"{' / '.join(measures)})",
          ["sweep", "param", "n", "median", "low", "high"],
          [[p.sweep, p.param, p.n, f"{p.median:.4g}", f"{p.low:.4g}", f"{p.high:.4g}"] for p in r.panels])
    save_plot(r, plot)


@cli.command()
@click.option("--param", "params", multiple=True, required=True,
              help="Parameter (repeatable), as for bootstrap: d1.. w1.. depth w0 wa wm b g e_fit flops params acts, "
                   "and sampled design choices (resolution lr wd lr_wd ...).")
@option("sweeps", help="Sweep (repeatable): the sweeps named form one series. Default: every trained sweep, grouped "
                      "by space.")
@_boot_options(" Per regime.")
@METRIC
@PLOT
@db_option
@json_option
@aliases(param="--param")
def trends(params, sweeps, n_boot, frac, ci, seed, metric, plot, db, as_json):
    """How the good models change across complexity regimes (RegNet Fig. 11 and 12 bottom).

    Per regime, the bootstrap of the best model's value (as dse bootstrap); across regimes the slope of
    log(value) against log(flops) with a ci% interval from the bootstrap replicates: 'stable' when it
    holds 0, else 'grows' or 'shrinks'. Also acts ~ flops^a and params ~ flops^b over each regime's good
    models (best quarter, at least 5). Sample regimes with: dse sample --space S --regimes 200MF,400MF,...
    """
    from dse.units import regime_label

    check_plot(plot)
    r = study(db).trends(params, sweeps, n_boot=n_boot, frac=frac, ci=ci, seed=seed, metric=metric)
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(r.to_json())
        return
    g = lambda v: f"{v:.4g}"  # noqa: E731
    table(f"best model's value per regime ({n_boot} resamples of {frac:g} n, {ci:g}% interval, {metric} "
          f"{r.ranked_by})",
          ["space", "param", "regime", "sweep", "n", "median", f"{ci:g}% interval", "min..max"],
          [[s.space, s.param, regime_label(p.flops), p.sweep, p.n, g(p.median), f"{g(p.low)}..{g(p.high)}",
            f"{g(p.min)}..{g(p.max)}"] for s in r.series for p in s.regimes])
    table("trend with complexity: slope of log(value) on log(flops) (linear: of value)",
          ["space", "param", "scale", "slope", f"{ci:g}% interval", "trend"],
          [[s.space, s.param, s.scale, f"{s.slope:+.3f}", f"{s.slope_low:+.3f}..{s.slope_high:+.3f}", s.trend]
           for s in r.series])
    table("complexity of the good models: metric ~ flops^exponent (paper, RegNetX: acts ~0.5, params ~1)",
          ["space", "metric", "exponent", f"{ci:g}% interval", "models"],
          [[c.space, c.metric, f"{c.exponent:.3f}", f"{c.low:.3f}..{c.high:.3f}", c.n] for c in r.complexity])
    for why in r.skipped:
        say(f"left out: {why}")
    save_plot(r, plot)


@cli.command()
@option("sweeps")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, help="Summarise the K best models.")
@METRIC
@PLOT
@db_option
@json_option
def fit(sweeps, top, metric, plot, db, as_json):
    """Fit the quantized linear (RegNet) form to every model's per-block widths; store w0, wa, wm, e_fit.

    e_fit = mean over blocks of |ln(w_hat/w)|, w_hat the generator's widths quantized to 8. A grid
    search over w0 (multiples of 8), wa and wm with local refinement; about 0.05 s per model.
    """
    check_plot(plot)
    r = study(db).fit(sweeps, top=top, metric=metric)
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(r.to_json())
        return
    names = list(dict.fromkeys(x.sweep for x in r.rows))
    table(f"RegNet fit of {len(r.rows)} model(s) in {', '.join(names)}",
          ["models", "n", "e_fit median", "e_fit mean", "w0", "wa", "wm"],
          [["all" if s["models"] == "all" else f"top {s['n']} by {metric} {r.measure.noun}", s["n"],
            f"{s['e_fit_median']:.4f}",
            f"{s['e_fit_mean']:.4f}", f"{s['w0_median']:.0f}", f"{s['wa_median']:.2f}", f"{s['wm_median']:.3f}"]
           for s in r.summary()])
    save_plot(r, plot)


@cli.command("search-efficiency")
@click.option("--compare", is_flag=True, help="Compare the sweeps named after it.")
@click.argument("sweeps", nargs=-1, required=True)
@_norm_options
@option("seed", help="Random seed of the draws.")
@METRIC
@PLOT
@db_option
@json_option
def search_efficiency_cmd(compare, sweeps, normalize, bins, range_, seed, metric, plot, db, as_json):
    """Random-search efficiency: expected best error of m random models, m = 1, 2, 4, ... n."""
    check_plot(plot)
    r = study(db).search_efficiency(sweeps, normalize=normalize, bins=bins, range=range_, seed=seed, metric=metric)
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(r.to_json())
        return
    names = list(r.sweeps)
    ms = sorted({p.m for ps in r.sweeps.values() for p in ps})
    table(f"best {metric} {r.measure.column} of m random models: mean +/- 2 std", ["m", *names],
          [[m, *[next((f"{p.mean:.2f} +/- {2 * p.std:.2f}" for p in r.sweeps[n] if p.m == m), "")
                 for n in names]] for m in ms])
    save_plot(r, plot)


@cli.group()
def plot():
    """Pictures users of the paper expect: complexity views, training curves, relative-rank scatter."""


@plot.command("complexity")
@option("sweeps")
@METRIC
@click.option("--plot", "out", default="complexity.png", show_default=True, metavar="FILE.png|FILE.svg",
              help="The picture to write.")
@db_option
def plot_complexity(sweeps, metric, out, db):
    """Error against flops, params and acts per sweep, and acts against flops."""
    check_plot(out)
    save_plot(study(db).complexity(sweeps, metric=metric), out)


@plot.command("rank")
@click.option("--x", "x", default="lr", show_default=True, help="Parameter on the x axis (lr, wd, lr_wd, resolution, "
              "depth, w0, ...; log axis when all values are positive).")
@click.option("--y", "y", default=None, help="Parameter on the y axis (e.g. wd). Without it: relative rank against x.")
@option("sweeps", help="Sweep (repeatable; default: every trained sweep that has x and y). Ranks are taken within "
                      "each sweep.")
@click.option("--good", type=click.FloatRange(0, 1, min_open=True), default=0.25, show_default=True,
              help="Relative rank of the good models whose line is drawn (0.25: the top quarter).")
@METRIC
@click.option("--plot", "out", default="rank.png", show_default=True, metavar="FILE.png|FILE.svg",
              help="The picture to write.")
@db_option
@json_option
def plot_rank(x, y, sweeps, good, metric, out, db, as_json):
    """Relative-rank scatter (NDS Fig. 12, RegNet Fig. 21): each model at (x, y), coloured by its error rank / n.

    Example: dse plot rank --x lr --y wd   (good models lie along a line of constant lr*wd: slope -1)
    """
    check_plot(out)
    r = study(db).rank(x, y, sweeps=list(sweeps) or None, good=good, metric=metric)
    if as_json:
        save_plot(r, out, quiet=True)
        print_json(r.to_json())
        return
    say(f"{r.n} models of {', '.join(r.sweeps)}; good: relative rank <= {r.good:g} ({r.good_x['n']} models)")
    if r.fit:
        f = r.fit
        form = f"log10 {r.y} = {f['slope']:.3f} log10 {r.x} {f['intercept']:+.3f}" if f["log"] else \
            f"{r.y} = {f['slope']:.3g} {r.x} {f['intercept']:+.3g}"
        say(f"line of the good models: {form} (r = {f['r']:.3f}, {f['n']} models)")
    g = r.good_x
    say(f"good models' {r.x}: median {g['median']:.4g}, 95% range {g['low']:.4g} .. {g['high']:.4g}")
    save_plot(r, out)


@plot.command("curves")
@option("sweep", required=True)
@click.option("--best", type=click.IntRange(min=0), default=5, show_default=True, help="The K best models.")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True, help="The K worst models.")
@METRIC
@click.option("--plot", "out", default="curves.png", show_default=True, metavar="FILE.png|FILE.svg",
              help="The picture to write.")
@db_option
def plot_curves(sweep, best, worst, metric, out, db):
    """Train and test error per epoch of the best and worst models of a sweep."""
    check_plot(out)
    save_plot(study(db).curves(sweep, best=best, worst=worst, metric=metric), out)


@cli.command()
@option("sweeps", required=True,
        help="The trained sweep whose evidence is used; repeat it for the regimes of one space (each votes).")
@click.option("--space", "base", default=None, metavar="NAME|PATH",
              help="Base space (needed when the sweep was imported rather than sampled).")
@click.option("--out", default=None, metavar="FILE.toml", help="Write the refined space file here.")
@click.option("--min-support", type=click.IntRange(min=1), default=20, show_default=True,
              help="Never propose anything with fewer models behind it.")
@option("n_boot", more=" Per parameter.")
@option("ci", help="Bootstrap interval giving the ranges, percent.")
@option("seed", help="Random seed of the bootstrap.")
@METRIC
@db_option
@json_option
@aliases(base="--space", sweep="--sweep")
def refine(sweeps, base, out, min_support, n_boot, ci, seed, metric, db, as_json):
    """Propose a better space: narrower ranges (bootstrap intervals of the best models) and structural
    constraints (shared b/g, non-decreasing w/d, depth band, w0 = wa) that the trained models support.

    A constraint is proposed when at least --min-support models satisfy it, they are not significantly
    worse than the others (KS at 5%), and it shrinks the space. --out writes a space file that
    `dse sample --space FILE` takes directly.

    Several --sweep of one space (its regimes, from dse sample --regimes): a range covers every regime's good
    interval, and a proposal is accepted only if each regime accepts it on its own models (votes column).
    """
    if out:
        check_output(out, "out", (".toml",), "space file")
    r = study(db).refine(list(sweeps), base=base, min_support=min_support, n_boot=n_boot, ci=ci, seed=seed,
                         metric=metric)
    n = r.n
    src = f"sweep {sweeps[0]!r}" if len(set(sweeps)) == 1 else f"sweeps {', '.join(dict.fromkeys(sweeps))}"
    # the next step, written in the file's header and printed, runs as shown: the path quoted, the sweep named as
    # names must be
    name = as_name(Path(out).stem, "refined") if out else ""
    nxt = (f"dse sample --space {shlex.quote(str(out))} -n 100 --sweep {name}; dse train; "
           f"dse edf --compare {' '.join(map(shlex.quote, dict.fromkeys(sweeps)))} {name}") if out else ""
    if out:
        r.write(out, [f"Refined by dse refine from {src} ({n} trained models, {metric} {r.measure.noun}) "
                      f"of space {r.base_space!r}, {datetime.now(timezone.utc):%Y-%m-%d}.",
                      f"Accepted {len(r.accepted)} of {len(r.proposals)} proposals; log10 size "
                      f"{r.log10_size_before:.2f} -> {r.log10_size_after:.2f}.", f"Next: {nxt}"])
    if as_json:
        print_json(budget_warnings(db, sweeps, r.to_json(out), metric))
        return
    budget_warnings(db, sweeps, metric=metric)
    m = r.measure  # the mean results in its own values (an error, or a PSNR in dB)
    v = lambda x: None if x is None else m.shown(x)  # noqa: E731
    ev = lambda q: [q.bounds, f"{q.evidence.n_satisfy}/{q.evidence.n_other}",  # noqa: E731
                    _fmt(v(q.evidence.mean_error_satisfy), ".2f"), _fmt(v(q.evidence.mean_error_other), ".2f")]
    title = f"refinement of {r.base_space} from {src} ({n} models, {metric} {m.noun}"
    word = "err" if m.noun == "error" else m.noun
    if r.regimes:  # several regimes: each votes on its own models; the pooled evidence is shown
        table(title + "; evidence pooled over the regimes, each regime votes)",
              ["kind", "param", "proposal", "n sat/other", f"{word} sat", f"{word} other", "accept", "votes", "why"],
              [[q.kind, q.label if q.kind == "constraint" else q.param, *ev(q), "yes" if q.accepted else "no",
                q.vote_summary, q.why] for q in r.proposals])
    else:
        table(title + ")", ["kind", "param", "rule", "proposal", "n sat/other", f"{word} sat", f"{word} other",
                            "KS D", "p", "accept", "why"],
              [[q.kind, q.param, q.rule, *ev(q), _fmt(q.evidence.ks_statistic, ".3f"), _fmt(q.evidence.pvalue, ".3g"),
                "yes" if q.accepted else "no", q.why] for q in r.proposals])
    say(f"log10 size of the space: {r.log10_size_before:.2f} -> {r.log10_size_after:.2f}")
    if out:
        say(f"wrote {out}; next: {nxt}")


@cli.command()
@option("sweeps")
@click.option("-o", "--output", default="report.html", show_default=True, help="The HTML file to write.")
@METRIC
@db_option
@aliases(path="-o")
def report(sweeps, output, metric, db):
    """One self-contained HTML file of the study: summary, EDFs (raw and normalised), error against every
    space parameter with bootstrap bands, complexity, training curves, width fits, refinement proposals."""
    p = study(db).report(output, sweeps, metric=metric)
    say(f"wrote {output} ({p.stat().st_size / 1e6:.1f} MB)")
