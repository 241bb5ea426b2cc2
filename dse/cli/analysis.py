"""Analysis commands: edf, bootstrap, fit, search-efficiency, plot complexity|curves."""

from __future__ import annotations

import click
import numpy as np

from dse.cli.main import cli, db_option, json_option
from dse.errors import DseError
from dse.report.console import print_json, say, table

METRIC = click.option("--metric", type=click.Choice(["final", "best"]), default="final", show_default=True,
                      help="Which error: of the final epoch, or the best epoch.")
PLOT = click.option("--plot", "plot", default=None, metavar="FILE.png|FILE.svg", help="Also draw a picture.")
NORM = [
    click.option("--normalize", type=click.Choice(["flops", "params", "acts"]), default=None,
                 help="Complexity-normalise (NDS): weight models so the complexity distributions agree."),
    click.option("--bins", type=int, default=10, show_default=True, help="Equal-width complexity bins."),
    click.option("--range", "range_", default=None, metavar="LO:HI",
                 help="Complexity range of the bins (default: largest per-sweep min to smallest max)."),
]


def _norm_options(f):
    for o in reversed(NORM):
        f = o(f)
    return f


def _pops(store, names, metric, need=2):
    from dse.analysis.population import population, require

    pops = {}
    for n in names:
        p = population(store, n, metric)
        require(p, need)
        pops[n] = p
    return pops


def _weights(pops, normalize, bins, range_):
    """{name: weights or None} and the normalisation description for JSON."""
    if not normalize:
        return {n: None for n in pops}, None
    from dse.analysis import normalization_weights
    from dse.units import parse_window

    lo_hi = parse_window(range_, "--range") if range_ else None
    cx = {n: np.array([m[normalize] for m in p["models"]], dtype=np.float64) for n, p in pops.items()}
    w, (lo, hi) = normalization_weights(cx, bins, lo_hi)
    return w, {"by": normalize, "bins": bins, "range": [lo, hi]}


def _compared(names, plot, db, metric, normalize, bins, range_):
    """Populations of the compared sweeps with their (optional) normalisation weights."""
    from dse.report.plots import check_path
    from dse.store import Store

    if plot:
        check_path(plot)
    with Store(db, create=False) as store:
        pops = _pops(store, names, metric)
    w, norm = _weights(pops, normalize, bins, range_)
    return pops, w, norm


def _compare_names(sweeps, cmd):
    names = list(dict.fromkeys(sweeps))
    if len(names) < 2:
        raise DseError(f"name at least two sweeps to compare, e.g. dse {cmd} --compare anynet_a anynet_e")
    return names


@cli.command()
@click.option("--compare", is_flag=True, help="Compare the sweeps named after it (the default reading).")
@click.argument("sweeps", nargs=-1, required=True)
@_norm_options
@click.option("--thresholds", default=None, metavar="E1,E2,...",
              help="Report the fraction of models below these errors (default: pooled 10/25/50th percentiles).")
@METRIC
@PLOT
@db_option
@json_option
def edf(compare, sweeps, normalize, bins, range_, thresholds, metric, plot, db, as_json):
    """Error EDFs of sweeps, their statistics, and two-sample KS tests of every pair.

    Example: dse edf --compare anynet_a anynet_e --normalize flops --plot edf.png
    """
    from dse.analysis import edf as edf_fn, edf_stats, ks_test

    names = _compare_names(sweeps, "edf")
    pops, w, norm = _compared(names, plot, db, metric, normalize, bins, range_)
    if thresholds:
        try:
            th = [float(t) for t in thresholds.split(",") if t.strip()]
        except ValueError:
            raise DseError(f"--thresholds: expected numbers such as 30,40,50, got {thresholds!r}") from None
    else:
        pooled = np.concatenate([p["errors"] for p in pops.values()])
        th = sorted({round(float(v), 1) for v in np.percentile(pooled, [10, 25, 50])})
    out = {"metric": metric, "normalize": norm, "sweeps": {}, "ks": []}
    curves = {}
    for n, p in pops.items():
        e, wn = p["errors"], w[n]
        st = edf_stats(e, wn, th)
        keep = np.ones(len(e), bool) if wn is None else wn > 0
        ww = np.full(keep.sum(), 1.0 / keep.sum()) if wn is None else wn[keep] / wn[keep].sum()
        o = np.argsort(e[keep], kind="stable")
        out["sweeps"][n] = {**{k: st[k] for k in ("n", "min", "mean", "median", "p10", "p25", "p75")},
                            "below": st["below"], "errors": e[keep][o].tolist(), "weights": ww[o].tolist()}
        se, sf = edf_fn(e[keep], ww)
        curves[n] = (se, sf, f"{n}  {st['n']} | {st['min']:.2f} | {st['mean']:.2f}")
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d, pv = ks_test(pops[a]["errors"], pops[b]["errors"], w[a], w[b])
            out["ks"].append({"a": a, "b": b, "statistic": d, "pvalue": pv})
    if plot:
        from dse.report.plots import edf_figure, save

        save(edf_figure(curves, f"error (%) | {normalize}" if normalize else "error (%)"), plot)
    if as_json:
        print_json(out)
        return
    hdr = ["sweep", "n", "min", "mean", "median", "p10", "p25", "p75"] + [f"< {t:g}" for t in th]
    rows = [[n, s["n"], *[f"{s[k]:.2f}" for k in ("min", "mean", "median", "p10", "p25", "p75")],
             *[f"{s['below'][str(t)]:.3f}" for t in th]] for n, s in out["sweeps"].items()]
    how = f", normalised by {normalize} ({bins} bins over {norm['range'][0]:.4g}..{norm['range'][1]:.4g})" if norm else ""
    table(f"{metric} error (%){how}", hdr, rows)
    table("two-sample Kolmogorov-Smirnov" + (" (weighted)" if norm else ""), ["a", "b", "D", "p-value"],
          [[k["a"], k["b"], f"{k['statistic']:.4f}", f"{k['pvalue']:.3g}"] for k in out["ks"]])
    if plot:
        say(f"wrote {plot}")


@cli.command()
@click.option("--param", "params", multiple=True, required=True,
              help="Parameter (repeatable): d1..dS w1..wS b1..bS g1..gS depth flops params acts w0 wa wm e_fit, b/g if shared.")
@click.option("--sweep", "sweeps", multiple=True, help="Sweep (repeatable; default: every sweep that has the parameter).")
@click.option("--n-boot", type=int, default=10_000, show_default=True, help="Bootstrap repetitions.")
@click.option("--frac", type=float, default=0.25, show_default=True, help="Fraction of the models in each resample.")
@click.option("--ci", type=float, default=95.0, show_default=True, help="Confidence interval, percent.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the resampling.")
@METRIC
@PLOT
@db_option
@json_option
def bootstrap(params, sweeps, n_boot, frac, ci, seed, metric, plot, db, as_json):
    """Where the good models lie: the empirical bootstrap of the best model's parameter value.

    Resample frac*n (parameter, error) pairs with replacement, keep the parameter of the lowest error,
    repeat n-boot times; the median and the ci% interval of the kept values are reported.
    """
    from dse.analysis import bootstrap as boot
    from dse.analysis.population import param_names, population, values
    from dse.report.plots import check_path
    from dse.store import Store

    if plot:
        check_path(plot)
    results, panels = [], []
    with Store(db, create=False) as store:
        names = list(sweeps) or store.sweep_names()
        for n in names:
            store.sweep(n)
        pops = {n: population(store, n, metric) for n in names}
        for param in params:
            have = [n for n in names if len(pops[n]["errors"]) >= 2 and param in param_names(pops[n])]
            for n in names if sweeps else ():  # sweeps named explicitly must all qualify
                if len(pops[n]["errors"]) < 2:
                    raise DseError(f"sweep {n!r} has {len(pops[n]['errors'])} model(s) with errors; the "
                                   f"bootstrap needs at least 2")
                if param not in param_names(pops[n]):
                    raise DseError(f"unknown parameter {param!r} for sweep {n!r}; valid: "
                                   + ", ".join(param_names(pops[n])))
            if not have:
                valid = sorted({q for n in names for q in param_names(pops[n])})
                raise DseError(f"no sweep with at least 2 trained models has parameter {param!r}; valid: "
                               + ", ".join(valid))
            for n in have:
                x = values(store, pops[n], param)
                ok = ~np.isnan(x)
                r = boot(x[ok], pops[n]["errors"][ok], n_boot, frac, ci, seed)
                results.append({"sweep": n, "param": param, **{k: r[k] for k in ("median", "low", "high", "ci", "n",
                                                                                 "n_boot", "frac")}})
                panels.append({"sweep": n, "param": param, "x": x[ok], "errors": pops[n]["errors"][ok], **r})
    if plot:
        from dse.report.plots import bootstrap_figure, save

        save(bootstrap_figure(panels), plot)
    if as_json:
        print_json(results)
        return
    table(f"bootstrap of the best model's value ({n_boot} resamples of {frac:g} n, {ci:g}% interval, {metric} error)",
          ["sweep", "param", "n", "median", "low", "high"],
          [[r["sweep"], r["param"], r["n"], f"{r['median']:.4g}", f"{r['low']:.4g}", f"{r['high']:.4g}"]
           for r in results])
    if plot:
        say(f"wrote {plot}")


@cli.command()
@click.option("--sweep", "sweeps", multiple=True, help="Sweep (repeatable; default: every sweep).")
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
    from dse.analysis.population import METRICS, ensure_fits
    from dse.report.plots import check_path
    from dse.store import Store

    if plot:
        check_path(plot)
    col = METRICS[metric]
    rows = []
    with Store(db, create=False) as store:
        names = list(sweeps) or store.sweep_names()
        for n in names:
            store.sweep(n)
            pop = {"sweep": n, "models": store.models(n)}
            ensure_fits(store, pop)
            for m in pop["models"]:
                f = m["extra"]["fit"]
                rows.append({"sweep": n, "id": m["idx"], "error": m[col], **f, "_arch": m["arch"]})
    if not rows:
        raise DseError("no models to fit")
    ranked = sorted([r for r in rows if r["error"] is not None], key=lambda r: r["error"])
    best = ranked[:top]
    med = lambda k, rs: float(np.median([r[k] for r in rs])) if rs else None  # noqa: E731
    out = {"models": [{k: v for k, v in r.items() if k != "_arch"} for r in rows],
           "top": {"k": len(best), "e_fit_median": med("e_fit", best), "w0_median": med("w0", best),
                   "wa_median": med("wa", best), "wm_median": med("wm", best)}}
    if plot:
        from dse.report.plots import fit_figure, save
        from dse.report.views import fit_model

        save(fit_figure([fit_model(f"{r['sweep']}/{r['id']} e_fit {r['e_fit']:.3f}", r["_arch"], r)
                         for r in best or rows[:top]]), plot)
    if as_json:
        print_json(out)
        return
    allf = [r["e_fit"] for r in rows]
    table(f"RegNet fit of {len(rows)} model(s) in {', '.join(names)}", ["models", "n", "e_fit median", "e_fit mean",
                                                                        "w0", "wa", "wm"],
          [["all", len(rows), f"{np.median(allf):.4f}", f"{np.mean(allf):.4f}", f"{med('w0', rows):.0f}",
            f"{med('wa', rows):.2f}", f"{med('wm', rows):.3f}"]] +
          ([[f"top {len(best)} by {metric} error", len(best), f"{out['top']['e_fit_median']:.4f}",
             f"{np.mean([r['e_fit'] for r in best]):.4f}", f"{out['top']['w0_median']:.0f}",
             f"{out['top']['wa_median']:.2f}", f"{out['top']['wm_median']:.3f}"]] if best else []))
    if plot:
        say(f"wrote {plot}")


@cli.command("search-efficiency")
@click.option("--compare", is_flag=True, help="Compare the sweeps named after it.")
@click.argument("sweeps", nargs=-1, required=True)
@_norm_options
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the draws.")
@METRIC
@PLOT
@db_option
@json_option
def search_efficiency_cmd(compare, sweeps, normalize, bins, range_, seed, metric, plot, db, as_json):
    """Random-search efficiency: expected best error of m random models, m = 1, 2, 4, ... n."""
    from dse.analysis import search_efficiency

    names = _compare_names(sweeps, "search-efficiency")
    pops, w, norm = _compared(names, plot, db, metric, normalize, bins, range_)
    curves = {n: search_efficiency(p["errors"], w[n], seed) for n, p in pops.items()}
    if plot:
        from dse.report.plots import save, search_figure

        save(search_figure(curves), plot)
    if as_json:
        print_json({"metric": metric, "normalize": norm, "sweeps": curves})
        return
    ms = sorted({r["m"] for c in curves.values() for r in c})
    table(f"best {metric} error of m random models: mean +/- 2 std", ["m", *names],
          [[m, *[next((f"{r['mean']:.2f} +/- {2 * r['std']:.2f}" for r in curves[n] if r["m"] == m), "")
                 for n in names]] for m in ms])
    if plot:
        say(f"wrote {plot}")


@cli.group()
def plot():
    """Pictures users of the paper expect: complexity views, training curves."""


@plot.command("complexity")
@click.option("--sweep", "sweeps", multiple=True, help="Sweep (repeatable; default: every sweep).")
@METRIC
@click.option("--plot", "out", default="complexity.png", show_default=True, metavar="FILE.png|FILE.svg",
              help="The picture to write.")
@db_option
def plot_complexity(sweeps, metric, out, db):
    """Error against flops, params and acts per sweep, and acts against flops."""
    from dse.report.plots import check_path, complexity_figure, save
    from dse.report.views import complexity_data
    from dse.store import Store

    check_path(out)
    with Store(db, create=False) as store:
        pops = _pops(store, list(sweeps) or store.sweep_names(), metric, need=1)
    save(complexity_figure(complexity_data(pops)), out)
    say(f"wrote {out}")


@plot.command("curves")
@click.option("--sweep", required=True, help="The sweep.")
@click.option("--best", type=click.IntRange(min=0), default=5, show_default=True, help="The K best models.")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True, help="The K worst models.")
@METRIC
@click.option("--plot", "out", default="curves.png", show_default=True, metavar="FILE.png|FILE.svg",
              help="The picture to write.")
@db_option
def plot_curves(sweep, best, worst, metric, out, db):
    """Train and test error per epoch of the best and worst models of a sweep."""
    from dse.report.plots import check_path, curves_figure, save
    from dse.report.views import curve_models
    from dse.store import Store

    check_path(out)
    with Store(db, create=False) as store:
        models = curve_models(store, _pops(store, [sweep], metric, need=1)[sweep], best, worst)
    save(curves_figure(models), out)
    say(f"wrote {out}")


@cli.command()
@click.option("--sweep", required=True, help="The trained sweep whose evidence is used.")
@click.option("--space", "base", default=None, metavar="NAME|PATH",
              help="Base space (needed when the sweep was imported rather than sampled).")
@click.option("--out", default=None, metavar="FILE.toml", help="Write the refined space file here.")
@click.option("--min-support", type=click.IntRange(min=1), default=20, show_default=True,
              help="Never propose anything with fewer models behind it.")
@click.option("--n-boot", type=int, default=10_000, show_default=True, help="Bootstrap repetitions per parameter.")
@click.option("--ci", type=float, default=95.0, show_default=True, help="Bootstrap interval giving the ranges, percent.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the bootstrap.")
@METRIC
@db_option
@json_option
def refine(sweep, base, out, min_support, n_boot, ci, seed, metric, db, as_json):
    """Propose a better space: narrower ranges (bootstrap intervals of the best models) and structural
    constraints (shared b/g, non-decreasing w/d, depth band, w0 = wa) that the trained models support.

    A constraint is proposed when at least --min-support models satisfy it, they are not significantly
    worse than the others (KS at 5%), and it shrinks the space. --out writes a space file that
    `dse sample --space FILE` takes directly.
    """
    from datetime import datetime, timezone
    from pathlib import Path

    from dse.analysis.population import population, require
    from dse.analysis.refine import notes_for, refine as refine_fn, to_toml
    from dse.report.views import proposal_text
    from dse.spaces import load_space, parse_space, resolve_space
    from dse.store import Store

    if out and Path(out).suffix != ".toml":
        raise DseError(f"--out {out}: the refined space is a .toml file")
    with Store(db, create=False) as store:
        row = store.sweep(sweep)
        pop = population(store, sweep, metric)
    require(pop, 2, "refine")
    if base:
        space = resolve_space(base)
    elif row["space"]:
        space = parse_space(row["space"], f"sweep {sweep}")
    else:
        raise DseError(f"sweep {sweep!r} was imported: name its base space with --space NAME|PATH")
    res = refine_fn(space, pop["models"], pop["errors"], min_support, n_boot, ci, seed=seed)
    if out:
        acc = [q for q in res["proposals"] if q["accepted"]]
        header = [f"Refined by dse refine from sweep {sweep!r} ({len(pop['errors'])} trained models, {metric} error) "
                  f"of space {space.name!r}, {datetime.now(timezone.utc):%Y-%m-%d}.",
                  f"Accepted {len(acc)} of {len(res['proposals'])} proposals; log10 size "
                  f"{res['log10_size_before']:.2f} -> {res['log10_size_after']:.2f}.",
                  f"Next: dse sample --space {out} -n 100 --sweep {Path(out).stem}; dse train; "
                  f"dse edf --compare {sweep} {Path(out).stem}"]
        text = to_toml(res["spec"], header, notes_for(res, space))
        Path(out).write_text(text)
        load_space(out)  # the file must load as written
    outj = {"base_space": space.name, "out": out, "log10_size_before": res["log10_size_before"],
            "log10_size_after": res["log10_size_after"],
            "proposals": [{k: v for k, v in q.items()} for q in res["proposals"]]}
    if as_json:
        print_json(outj)
        return

    def f(v, fmt):
        return "" if v is None else format(v, fmt)

    rows = []
    for q in res["proposals"]:
        ev = q["evidence"]
        rows.append([q["kind"], q["param"], q["rule"], proposal_text(q), f"{ev['n_satisfy']}/{ev['n_other']}",
                     f(ev["mean_error_satisfy"], ".2f"), f(ev["mean_error_other"], ".2f"), f(ev["ks_statistic"], ".3f"),
                     f(ev["pvalue"], ".3g"), "yes" if q["accepted"] else "no", q["why"]])
    table(f"refinement of {space.name} from sweep {sweep} ({len(pop['errors'])} models, {metric} error)",
          ["kind", "param", "rule", "proposal", "n sat/other", "err sat", "err other", "KS D", "p", "accept", "why"],
          rows)
    say(f"log10 size of the space: {res['log10_size_before']:.2f} -> {res['log10_size_after']:.2f}")
    if out:
        say(f"wrote {out}; next: dse sample --space {out} -n 100 --sweep {Path(out).stem}, dse train, "
            f"dse edf --compare {sweep} {Path(out).stem}")


@cli.command()
@click.option("--sweep", "sweeps", multiple=True, help="Sweep (repeatable; default: every sweep).")
@click.option("-o", "--output", default="report.html", show_default=True, help="The HTML file to write.")
@METRIC
@db_option
def report(sweeps, output, metric, db):
    """One self-contained HTML file of the study: summary, EDFs (raw and normalised), error against every
    space parameter with bootstrap bands, complexity, training curves, width fits, refinement proposals."""
    from pathlib import Path

    from dse.report.html import build_report
    from dse.store import Store

    out = Path(output)
    if out.suffix.lower() not in (".html", ".htm"):
        raise DseError(f"-o {output}: the report is an .html file")
    if not out.parent.exists():
        raise DseError(f"-o {output}: folder {out.parent} does not exist")
    with Store(db, create=False) as store:
        names = list(sweeps) or store.sweep_names()
        for n in names:
            store.sweep(n)
        text = build_report(store, names, metric)
    out.write_text(text)
    say(f"wrote {output} ({len(text) / 1e6:.1f} MB)")
