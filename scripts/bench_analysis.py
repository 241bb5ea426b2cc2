#!/usr/bin/env python3
"""Timings of the analyses on 500 and 100,000 models: EDF statistics, normalisation weights, KS, the
bootstrap (10^4 resamples, frac 0.25) against a straightforward resampling loop, random-search efficiency.
Then trends across regimes (5 regimes x 500 models x 6 parameters, 10^4 replicates): the arrays alone against
naive resampling with a per-replicate polyfit, and `Study.trends` end to end on a store (sampled RegNetX).

    python scripts/bench_analysis.py
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dse.analysis import bootstrap, edf, edf_stats, ks_test, normalization_weights, search_efficiency  # noqa: E402


def timed(f, *a, **k):
    t = time.perf_counter()
    f(*a, **k)
    return time.perf_counter() - t


def naive_bootstrap(x, e, n_boot=10_000, frac=0.25, rng=np.random.default_rng(0), chunk=200):
    """The straightforward vectorised reference: materialise the resamples (in chunks), argmin each."""
    m = max(1, int(round(frac * len(e))))
    kept = []
    for s in range(0, n_boot, chunk):
        idx = rng.integers(0, len(e), (min(chunk, n_boot - s), m))
        kept.append(x[idx[np.arange(len(idx)), np.argmin(e[idx], axis=1)]])
    return np.concatenate(kept)


def main():
    rng = np.random.default_rng(0)
    print(f"{'models':>8} {'edf+stats':>10} {'weights':>9} {'KS':>9} {'KS w.':>9} {'bootstrap':>10} "
          f"{'naive boot':>11} {'ratio':>7} {'search':>8}   (seconds)")
    for n in (500, 100_000):
        a, b = rng.normal(30, 5, n), rng.normal(31, 5, n)
        ca, cb = rng.uniform(360, 400, n), rng.uniform(360, 400, n)
        x = rng.uniform(0, 10, n)
        t_edf = timed(lambda: (edf(a), edf_stats(a, thresholds=(25, 30))))
        t_w = timed(normalization_weights, {"a": ca, "b": cb}, 10)
        w, _ = normalization_weights({"a": ca, "b": cb}, 10)
        t_ks = timed(ks_test, a, b)
        t_ksw = timed(ks_test, a, b, w["a"], w["b"])
        t_b = timed(bootstrap, x, a, 10_000, 0.25)
        t_nb = timed(naive_bootstrap, x, a)
        t_s = timed(search_efficiency, a)
        print(f"{n:8d} {t_edf:10.4f} {t_w:9.4f} {t_ks:9.4f} {t_ksw:9.4f} {t_b:10.4f} {t_nb:11.3f} "
              f"{t_nb / t_b:6.0f}x {t_s:8.3f}")


def naive_trend(regs, n_boot=10_000):
    """The reference a user would write: naive resampling per regime, np.polyfit per replicate."""
    kept = np.stack([naive_bootstrap(x, e, n_boot, rng=np.random.default_rng(i)) for i, (_, _, x,
                                                                                         e) in enumerate(regs)])
    lx = np.log([f for _, f, _, _ in regs])
    slopes = np.array([np.polyfit(lx, np.log(kept[:, b]), 1)[0] for b in range(n_boot)])
    return np.percentile(slopes, [2.5, 50, 97.5])


def trends_bench():
    import sqlite3
    import tempfile

    import dse
    from dse.analysis.trends import complexity_trend, trend_series

    rng = np.random.default_rng(0)
    flops = [2e8, 4e8, 8e8, 1.6e9, 3.2e9]
    params = {p: [rng.uniform(1, 100, 500) for _ in flops] for p in ("depth", "w0", "wa", "wm", "b", "g")}
    errs = [rng.normal(30, 2, 500) for _ in flops]
    cx = [(rng.uniform(0.9 * f, f, 500), rng.uniform(1e6, 1e7, 500), e) for f, e in zip(flops, errs)]
    complexity_trend("s", "acts", cx)  # scipy's import is not the analysis
    t = time.perf_counter()
    for p, xs in params.items():
        trend_series("s", p, [(f"s@{f:g}", f, x, e) for f, x, e in zip(flops, xs, errs)])
    for m in ("acts", "params"):
        complexity_trend("s", m, cx)
    t_arr = time.perf_counter() - t
    regs = [(f"s@{f:g}", f, x, e) for f, x, e in zip(flops, params["depth"], errs)]
    t_naive = timed(naive_trend, regs) * len(params)
    print(f"\ntrends, 5 regimes x 500 models x 6 parameters, 10^4 replicates: {t_arr:.3f} s "
          f"(naive resampling + polyfit per replicate: {t_naive:.1f} s, {t_naive / t_arr:.0f}x)")
    with tempfile.TemporaryDirectory() as d:
        st = dse.Study(Path(d) / "s.sqlite")
        t = time.perf_counter()
        st.sample_regimes("regnetx", "200MF,400MF,800MF,1.6GF,3.2GF", n=500)
        t_sample = time.perf_counter() - t
        con = sqlite3.connect(Path(d) / "s.sqlite")
        con.execute("UPDATE models SET error = 30 + (depth - 16) * (depth - 16) * 0.05 + (idx % 7) * 0.1, "
                    "status = 'done'")
        con.commit()
        con.close()
        t = time.perf_counter()
        r = st.trends(["depth", "w0", "wa", "wm", "b", "g"])
        t_study = time.perf_counter() - t
    print(f"Study.trends on a store of 5 x 500 sampled RegNetX models (reading the store included): {t_study:.3f} s "
          f"[{len(r.series)} series]; sampling them: {t_sample:.1f} s")


if __name__ == "__main__":
    main()
    trends_bench()
