"""A self-contained HTML report of a study: tables and figures (inline SVG), no external links."""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone

import numpy as np

from dse import __version__
from dse.errors import DseError

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:1.2em 1.6em;color:#1d2330;background:#fff;line-height:1.45}
h1{font-size:1.7em;margin:.2em 0} h2{font-size:1.3em;margin-top:1.8em;border-bottom:2px solid #e3e7ef;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.2em 0 .4em} table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{padding:.3em .7em;border-bottom:1px solid #e3e7ef;text-align:right} th{background:#f4f6fa}
td:first-child,th:first-child,.t{text-align:left} .fig svg{max-width:100%;height:auto} .muted{color:#667}
nav a{margin-right:1em} .yes{color:#17803d;font-weight:600} .no{color:#a33}
"""


def _svg(fig) -> str:
    from dse.report.plots import _plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _plt().close(fig)
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


def build_report(store, sweeps, metric: str = "final") -> str:
    """The HTML text of the report for ``sweeps``."""
    from dse.analysis import bootstrap, edf, edf_stats, ks_test, normalization_weights
    from dse.analysis.population import ensure_fits, param_names, population, values
    from dse.analysis.refine import refine
    from dse.report import plots
    from dse.report.views import complexity_data, curve_models, fit_model, proposal_text
    from dse.spaces import parse_space

    if not sweeps:
        raise DseError(f"{store.path} holds no sweeps; nothing to report")
    pops = {n: population(store, n, metric) for n in sweeps}
    rows_meta = {n: store.sweep(n) for n in sweeps}
    trained = [n for n in sweeps if len(pops[n]["errors"]) >= 2]
    sec = []

    # 1. summary
    srows = []
    for n in sweeps:
        r, p = rows_meta[n], pops[n]
        c = store.status_counts(n)[n]
        er = store.errors(n)
        prot = r["protocol"] or {}
        ptxt = ", ".join(f"{k}={prot[k]}" for k in ("dataset", "budget", "train_size", "batch_size", "lr")
                         if prot.get(k) is not None) if prot else "not trained here"
        srows.append([n, r["space_name"], ptxt, sum(c.values()), len(p["errors"]), _f(er["best_error"]),
                      _f(er["median_error"]), _f(er["train_hours"], ".3f"), c["failed"] + c["diverged"]])
    sec.append(("summary", "Summary", _table(["sweep", "space", "protocol", "models", "with error", "best err %",
                                              "median err %", "train hours", "failed/diverged"], srows)))

    # 2. EDFs
    body = ""
    if trained:
        curves, stats_rows = {}, []
        for n in trained:
            e = pops[n]["errors"]
            x, f = edf(e)
            s = edf_stats(e)
            curves[n] = (x, f, f"{n}  {s['n']} | {s['min']:.2f} | {s['mean']:.2f}")
            stats_rows.append([n, s["n"], _f(s["min"]), _f(s["mean"]), _f(s["median"]), _f(s["p25"]), _f(s["p75"])])
        body += "<h3>Error EDFs</h3>" + _table(["sweep", "n", "min", "mean", "median", "p25", "p75"], stats_rows)
        body += f'<div class="fig">{_svg(plots.edf_figure(curves, f"{metric} error (%)"))}</div>'
        if len(trained) > 1:
            ks = [[a, b, *(_f(v, ".3g") for v in ks_test(pops[a]["errors"], pops[b]["errors"]))]
                  for i, a in enumerate(trained) for b in trained[i + 1:]]
            body += "<h3>Kolmogorov-Smirnov</h3>" + _table(["a", "b", "D", "p-value"], ks)
            cx = {n: np.array([m["flops"] for m in pops[n]["models"]], float) for n in trained}
            norm = None
            for k in (10, 5, 3, 2):
                try:
                    norm = (normalization_weights(cx, k), k)
                    break
                except DseError:
                    continue
            if norm:
                (w, (lo, hi)), k = norm
                ncur = {}
                for n in trained:
                    keep = w[n] > 0
                    x, f = edf(pops[n]["errors"][keep], w[n][keep])
                    ncur[n] = (x, f, f"{n}  {int(keep.sum())} (normalised)")
                body += (f"<h3>Flops-normalised EDFs</h3><p class=muted>{k} bins over {lo:.4g}..{hi:.4g} flops "
                         f"(NDS weights 1/(k m_j)).</p>")
                body += f'<div class="fig">{_svg(plots.edf_figure(ncur, f"{metric} error (%) | flops"))}</div>'
            else:
                body += "<p class=muted>The sweeps' flops ranges do not overlap enough for a normalised EDF.</p>"
    else:
        body = "<p class=muted>No sweep has two or more models with errors yet.</p>"
    sec.append(("edf", "Error distributions", body))

    # 3. parameters with bootstrap bands
    body = ""
    for n in trained:
        names = param_names(pops[n])
        fam = (rows_meta[n]["space"] or {}).get("family")
        want = [q for q in names if q in ("depth", "w0", "wa", "wm", "b", "g")] if fam == "regnet" else \
            [q for q in names if q in ("depth", "b", "g") or (q[0] in "dwbg" and q[1:].isdigit() and int(q[1:]) >= 1)]
        panels = []
        for q in want:
            x = values(store, pops[n], q)
            ok = ~np.isnan(x)
            if ok.sum() < 2:
                continue
            r = bootstrap(x[ok], pops[n]["errors"][ok])
            panels.append({"sweep": n, "param": q, "x": x[ok], "errors": pops[n]["errors"][ok], **r})
        if panels:
            body += f"<h3>{html.escape(n)}</h3>" + _table(
                ["param", "median", "95% low", "95% high"],
                [[p["param"], f"{p['median']:.4g}", f"{p['low']:.4g}", f"{p['high']:.4g}"] for p in panels])
            body += f'<div class="fig">{_svg(plots.bootstrap_figure(panels))}</div>'
    sec.append(("params", "Error against the space parameters (bootstrap bands)", body or
                "<p class=muted>Nothing trained yet.</p>"))

    # 4. complexity
    if trained:
        body = f'<div class="fig">{_svg(plots.complexity_figure(complexity_data({n: pops[n] for n in trained})))}</div>'
    else:
        body = "<p class=muted>Nothing trained yet.</p>"
    sec.append(("complexity", "Complexity", body))

    # 5. training curves
    body = ""
    for n in trained:
        ms = curve_models(store, pops[n], 3, 3)
        if ms:
            body += f"<h3>{html.escape(n)}: 3 best and 3 worst</h3><div class='fig'>{_svg(plots.curves_figure(ms))}</div>"
    sec.append(("curves", "Training curves", body or "<p class=muted>No per-epoch records (imported sweeps have none).</p>"))

    # 6. widths of the best models with their RegNet fits
    body = ""
    for n in trained:
        ensure_fits(store, pops[n])
        order = np.argsort(pops[n]["errors"], kind="stable")[:8]
        ms = [fit_model(f"{n}/{m['idx']} {pops[n]['errors'][i]:.1f}% e_fit {m['extra']['fit']['e_fit']:.3f}",
                        m["arch"], m["extra"]["fit"]) for i in order for m in [pops[n]["models"][i]]]
        body += f"<h3>{html.escape(n)}: the 8 best models</h3><div class='fig'>{_svg(plots.fit_figure(ms))}</div>"
    sec.append(("widths", "Per-block widths of the best models and their RegNet fits", body or
                "<p class=muted>Nothing trained yet.</p>"))

    # 7. refinement
    body = ""
    for n in trained:
        spec = rows_meta[n]["space"]
        if not spec:
            body += f"<p class=muted>{html.escape(n)}: imported without a space; run dse refine --space BASE.</p>"
            continue
        space = parse_space(spec, n)
        res = refine(space, pops[n]["models"], pops[n]["errors"], min_support=min(20, max(2, len(pops[n]["errors"]) // 5)))
        rows = []
        for q in res["proposals"]:
            ev = q["evidence"]
            what = proposal_text(q)
            acc = '<span class="yes">yes</span>' if q["accepted"] else '<span class="no">no</span>'
            rows.append([q["kind"], q["param"], q["rule"], what, f"{ev['n_satisfy']}/{ev['n_other']}",
                         _f(ev["mean_error_satisfy"]), _f(ev["mean_error_other"]), _f(ev["pvalue"], ".3g"), acc,
                         q["why"]])
        body += (f"<h3>{html.escape(n)} ({html.escape(space.name)}): log10 size {res['log10_size_before']:.2f} -> "
                 f"{res['log10_size_after']:.2f}</h3>" +
                 _table(["kind", "param", "rule", "proposal", "n sat/other", "err sat", "err other", "p", "accept",
                         "why"], rows, raw_cols=(8,)))
    sec.append(("refine", "Refinement proposals", body or "<p class=muted>Nothing trained yet.</p>"))

    nav = "".join(f'<a href="#{i}">{html.escape(t)}</a>' for i, t, _ in sec)
    parts = "".join(f'<section id="{i}"><h2>{html.escape(t)}</h2>{b}</section>' for i, t, b in sec)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>dse report</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
            f"<h1>dse report</h1><p class=muted>{html.escape(', '.join(sweeps))} &middot; {html.escape(str(store.path))} "
            f"&middot; {metric} error &middot; {when} &middot; dse {__version__}</p><nav>{nav}</nav>{parts}</body></html>")
