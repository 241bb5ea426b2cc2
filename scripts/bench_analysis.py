#!/usr/bin/env python3
"""Timings of the analyses on 500 and 100,000 models: EDF statistics, normalisation weights, KS, the
bootstrap (10^4 resamples, frac 0.25) against a straightforward resampling loop, random-search efficiency.

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


if __name__ == "__main__":
    main()
