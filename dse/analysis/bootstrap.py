"""The empirical bootstrap of where good models lie (RegNet paper, section 3)."""

from __future__ import annotations

import numpy as np

from dse.errors import DseError, ParamError
from dse.validate import check_seed


def bootstrap(x, errors, n_boot: int = 10_000, frac: float = 0.25, ci: float = 95.0, seed: int = 0) -> dict:
    """Resample round(frac*n) (x, error) pairs with replacement, keep the x of the lowest-error pair;
    repeat n_boot times. Returns the median and the ci% interval of the kept x (and the kept values).

    Drawn without materialising the resamples: the winner of m uniform draws from n models sorted by
    error (ties broken at random) is the model of rank k = min of m uniform ranks, whose law is
    P(k <= r) = 1 - ((n - 1 - r)/n)^m; k is drawn from it by inverse CDF. Same distribution as the
    naive resampling, in O(n log n + n_boot) time and memory.
    """
    x, e = np.asarray(x, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    n = len(e)
    if n < 2:
        raise DseError(f"the bootstrap needs at least 2 models with errors, got {n}")
    if not 0 < frac <= 1:
        raise ParamError(f"{{frac}} must be in (0, 1], got {frac}", "frac")
    if not 0 < ci < 100:
        raise ParamError(f"{{ci}} must be in (0, 100), got {ci}", "ci")
    if not 1 <= n_boot <= 10**8:
        raise ParamError(f"{{n_boot}} must be in 1..10^8, got {n_boot}", "n_boot")
    check_seed(seed)
    rng = np.random.default_rng(seed)
    m = max(1, int(round(frac * n)))
    order = np.lexsort((rng.random(n), e))  # by error, ties in random order
    u = rng.random(n_boot)
    k = np.ceil(n - 1 - n * np.exp(np.log1p(-u) / m)).astype(np.int64)
    kept = x[order[np.clip(k, 0, n - 1)]]
    lo, hi = np.percentile(kept, [(100 - ci) / 2, 100 - (100 - ci) / 2])
    return {"median": float(np.median(kept)), "low": float(lo), "high": float(hi), "ci": ci, "n": n,
            "n_boot": n_boot, "frac": frac, "m": m, "kept": kept}
