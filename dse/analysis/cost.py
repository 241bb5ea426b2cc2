"""What training costs here: a fit of seconds per image against flops, from timed models, and the time a plan takes.

Pure (numpy only): timings in, a ``CostModel`` out; ``dse findings --plan``, ``dse power`` and ``dse compare
--until-decided`` quote the same estimate from it (``dse.api.costs`` gathers the timings: the store's trained models,
or short probes).

One model's seconds = overhead + epochs x (train images x s(F) + test images x r x s(F)), with s(F) = exp(a) F^b the
seconds of one training image at F flops per image (a least-squares line through log s against log F; b = 1 when
the timings have one size), r the cost of a test image relative to a training one (no backward, no update), and the
overhead what a model costs outside its epochs (building it, the store). A plan of many models on W workers takes
their sum / W. The range: the fit's smallest and largest ratio of a measured to a fitted time (at least 1.3x either way,
since a model's time also depends on its shape, not only its flops).

    >>> c = fit_cost([Timing(2e6, 1e-4), Timing(8e6, 4e-4)])
    >>> round(c.b, 6), round(c.image_seconds(4e6) * 1e4, 6)
    (1.0, 2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dse.units import duration

MIN_SPREAD = 1.3  # the range is at least this factor either side of the estimate (a model's time depends on
# its shape, not only its flops: models of one size scatter ~+-25% on a CPU, scripts/bench_train.py)
EVAL_RATIO = 0.25  # a test image's cost relative to a training image's when nothing measured it (bench_train: 0.2-0.3)


@dataclass(frozen=True)
class Timing:
    """One timed model: flops per image, seconds per training image, per test image, and outside its epochs."""

    flops: float
    train_s: float
    eval_s: float | None = None
    overhead_s: float | None = None


@dataclass(frozen=True)
class CostModel:
    """s(F) = exp(a) F^b seconds per training image; ``eval_ratio``: a test image's cost over a training image's;
    ``overhead``: seconds per model outside its epochs; ``low``, ``high``: the range as factors of an estimate;
    ``n``: timings behind it; ``source``: where they came from."""

    a: float
    b: float
    eval_ratio: float
    overhead: float
    low: float
    high: float
    n: int
    source: str = ""
    others: float = 0.0  # threads of other work that were runnable while the timings were taken (a busy machine)

    def image_seconds(self, flops: float) -> float:
        """Seconds of one training image at ``flops`` per image."""
        return float(math.exp(self.a) * max(float(flops), 1.0) ** self.b)

    def model_seconds(self, flops: float, epochs: float, n_train: int, n_test: int) -> float:
        """Seconds one model takes: overhead + epochs x (n_train + eval_ratio x n_test) x s(flops)."""
        return self.overhead + epochs * (n_train + self.eval_ratio * n_test) * self.image_seconds(flops)

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "eval_ratio": self.eval_ratio, "overhead": self.overhead, "low": self.low,
                "high": self.high, "n": self.n, "source": self.source, "others": self.others}


@dataclass(frozen=True)
class Estimate:
    """A duration with its range (seconds), and the words that say where it came from."""

    seconds: float
    low: float
    high: float
    source: str = ""

    def __str__(self) -> str:
        return f"{duration(self.seconds)} (range {duration(self.low)} to {duration(self.high)})"

    def to_json(self) -> dict:
        return {"seconds": self.seconds, "low": self.low, "high": self.high, "source": self.source}


def fit_cost(timings, source: str = "") -> CostModel:
    """The cost model through ``timings`` (at least one, each with seconds > 0): a least-squares line in log-log
    (slope 1 when every timing has the same flops), the median eval ratio and overhead, and the range."""
    t = [x for x in timings if x.train_s > 0 and x.flops > 0 and math.isfinite(x.train_s)]
    if not t:
        raise ValueError("fit_cost needs at least one timing with seconds > 0")
    lf = np.log([x.flops for x in t])
    ls = np.log([x.train_s for x in t])
    if np.ptp(lf) < 0.05:  # one size: proportional to flops
        b = 1.0
    else:
        b = float(np.clip(np.polyfit(lf, ls, 1)[0], 0.2, 1.5))  # (a wild slope from two noisy points is bounded)
    a = float(np.median(ls - b * lf))
    ratio = np.exp(ls - (a + b * lf))
    ev = [x.eval_s / x.train_s for x in t if x.eval_s is not None and x.eval_s >= 0]
    oh = [x.overhead_s for x in t if x.overhead_s is not None and x.overhead_s >= 0]
    return CostModel(a, b, float(np.median(ev)) if ev else EVAL_RATIO, float(np.median(oh)) if oh else 0.0,
                     low=float(min(1 / MIN_SPREAD, ratio.min())), high=float(max(MIN_SPREAD, ratio.max())), n=len(t),
                     source=source)


def load_factor(cores: int, others: float, timed_threads: int, run_threads: int) -> float:
    """How much slower a thread runs when ``run_threads`` of ours share ``cores`` with ``others`` runnable threads of
    other work than when ``timed_threads`` of ours did (each thread gets at most one core, the cores are shared
    evenly): the estimate's divisor for a busy machine; 1 on an idle one.

    >>> load_factor(2, 0, 1, 2), round(load_factor(2, 2, 1, 2), 4)
    (1.0, 0.75)
    """
    share = lambda ours: min(1.0, cores / max(ours + others, 1e-9))  # noqa: E731
    return share(run_threads) / share(timed_threads)


def plan_cost(cost: CostModel, models, workers: int = 1, efficiency: float = 1.0, start: float = 0.0) -> Estimate:
    """The time to train ``models`` [(flops, epochs, n_train, n_test), ...] on ``workers`` workers, each at
    ``efficiency`` of the speed it was timed at (workers running at once share memory bandwidth): ``start`` (the
    workers' start, in parallel) + the sum of their times over the workers, but never less than the longest model;
    with its range."""
    secs = [cost.model_seconds(*m) / efficiency for m in models]
    if not secs:
        return Estimate(0.0, 0.0, 0.0, cost.source)
    total = max(sum(secs) / max(1, workers), max(secs))
    return Estimate(start + total, start + total * cost.low, start + total * cost.high, cost.source)
