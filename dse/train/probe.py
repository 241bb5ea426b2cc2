"""Short timings of real models on this machine, for estimates (``dse.analysis.cost``): each model trains a few
epochs of a few steps on synthetic images of the plan's size (a step's time does not depend on the pixels), at
the threads a worker of the plan will have; the steady epochs give seconds per training and per test image, the
first epoch and the build give the per-model overhead."""

from __future__ import annotations

import time

import numpy as np
import torch

from dse.train.data import synthetic
from dse.train.engine import DeviceData, train_model
from dse.train.protocol import Protocol

STEPS = 4           # steps per probe epoch
EPOCHS = 3          # probe epochs: the first warms up, the others are the steady ones
STEP_MACS = 1.5e9   # a probe batch is sized so that a step is about this many multiply-adds (3 x flops x batch)


def probe_batch(flops: float, batch: int = 128) -> int:
    """The batch a probe of a model of ``flops`` per image uses: the plan's, smaller for large models (from 8).

    >>> probe_batch(4e6), probe_batch(4e9)
    (125, 8)
    """
    return int(max(8, min(batch, STEP_MACS // (3 * max(flops, 1.0)))))


def time_model(arch, flops: float, shape: tuple, threads: int, batch: int = 128, seed: int = 0) -> tuple:
    """Train ``arch`` (``flops`` per image on ``shape`` = (c, h, w) images) for EPOCHS epochs of STEPS steps with
    ``threads`` torch threads: (flops, seconds per training image, per test image, outside the epochs), the fields
    of a ``dse.analysis.cost.Timing``."""
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        b = probe_batch(flops, batch)
        data = synthetic(tuple(shape), STEPS * b, 2 * b, seed=seed)
        dd = DeviceData(data, "cpu")
        t0 = time.perf_counter()
        out = train_model(arch, dd, Protocol(dataset="synthetic", budget=f"{EPOCHS}ep", batch_size=b), seed=seed,
                          log=lambda m: None)
        wall = time.perf_counter() - t0
    finally:
        torch.set_num_threads(old)
    steady = out.rows[1:] or out.rows
    train_s = float(np.median([1.0 / r.images_per_s for r in steady]))
    eval_s = float(np.median([max(0.0, r.seconds - STEPS * b / r.images_per_s) / (2 * b) for r in steady]))
    overhead = max(0.0, wall - EPOCHS * (STEPS * b * train_s + 2 * b * eval_s))
    return float(flops), train_s, eval_s, overhead


_START: list = []


def worker_start_seconds() -> float:
    """Seconds a new worker process takes to start here (Python, torch, dse's engine), timed once per process."""
    if not _START:
        import subprocess
        import sys

        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, dse.train.engine"], check=False, capture_output=True)
        _START.append(time.perf_counter() - t0)
    return _START[0]


class RunnableMeter:
    """The mean number of runnable threads on the machine while a ``with`` block runs (Linux's procs_running,
    sampled every 50 ms in a thread, which counts itself: 1 on an idle machine); None where /proc/stat cannot be
    read."""

    def __init__(self, every: float = 0.05):
        self.every, self.samples = every, []

    @staticmethod
    def now() -> int | None:
        try:
            with open("/proc/stat") as f:
                for line in f:
                    if line.startswith("procs_running"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    def __enter__(self):
        import threading

        self._stop = threading.Event()

        def loop():
            while not self._stop.wait(self.every):
                n = self.now()
                if n is not None:
                    self.samples.append(n)

        self._t = threading.Thread(target=loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None
