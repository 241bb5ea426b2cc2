"""Random-search efficiency (NDS): the expected best error of an experiment of m random models."""

from __future__ import annotations

import numpy as np

from dse.validate import check_seed


def search_efficiency(errors, weights=None, seed: int = 0) -> list[dict]:
    """For m = 1, 2, 4, ... <= n: draw m models with replacement (with the normalisation weights),
    keep the minimum error; repeat floor(n/m) times; mean and std of the minima."""
    check_seed(seed)
    e = np.asarray(errors, dtype=np.float64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if w is not None:
        keep = w > 0
        e, w = e[keep], w[keep] / w[keep].sum()
    n = len(e)
    rng = np.random.default_rng(seed)
    out, m = [], 1
    while m <= n:
        reps = n // m
        idx = rng.choice(n, size=(reps, m), replace=True, p=w)
        best = e[idx].min(axis=1)
        out.append({"m": m, "reps": reps, "mean": float(best.mean()), "std": float(best.std())})
        m *= 2
    return out
