"""How many worker processes per device, and how many threads each: chosen from the models' size and the machine.

Pure functions (no torch, no store): ``train_protocol`` passes in what it knows (cores, the pending models' training
flops and activations, free memory) and prints the ``Allocation``'s reason as ``dse train``'s first line.

The rule, on a CPU with C usable cores (measured by ``scripts/bench_train.py --only peak,bins``; docs/performance.md):
small CNNs at batch 128 use one core better than two, because their layers are too small to split across threads
without waiting (and much of a step is memory-bound BatchNorm and ReLU). C single-threaded workers train C models at
once, each at about the speed it reaches alone; one worker with C threads trains one model faster than one thread
would, but by less than C. ``WORKERS`` holds the measured ratio of the two (the gain) by per-image training flops:
1.65x at 1-2 MF, 1.5x at 5-12 MF, 1.15x at 50-100 MF, 1.03x at ~300 MF. The choice minimises the time to train the
pending models: ceil(n / W) rounds of W models at an aggregate speed of gain(W), so one model (or a last odd one) is
not left to a single thread while cores idle, and more workers only when they save at least 5%; W is capped by the
memory a worker needs (its copy of the data set and the activations of a batch).

On a GPU several processes share the device because eager PyTorch on small networks is bound by kernel dispatch,
not by the GPU: 4 graph-captured processes per GPU gave ~2.5x one process's images/s for RegNetX-400MF at 32 px
(H200, docs/performance.md). auto keeps 4 per GPU, fewer when fewer models are pending. (Not re-measured by the
project on a GPU yet.)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

# Measured on 2 cores (AMD EPYC VM, torch 2.13 CPU build; 28 px, batch 128; AnyNetX_A and RegNetX models, 4 per bin;
# the workers running at once) by `python scripts/bench_train.py --only peak,bins --per-space 2` (docs/performance.md):
# per-image training flops (the bin's middle), the bin's median aggregate images/s of C single-threaded workers over
# one C-threaded worker ("gain"), and what a worker keeps of its own speed while the others run ("efficiency"; the
# median of two runs' models, at most 1: single measurements scatter 0.8-1.25 on this shared machine). 200-400 MF:
# one RegNetX model (285 MF). Between the points interpolated in log flops; outside them the nearest point holds.
WORKERS = ((1.5e6, 1.65, 1.0), (9e6, 1.49, 0.87), (6.5e7, 1.15, 0.95), (2.9e8, 1.03, 0.97))
MIN_SAVING = 0.05        # more workers only when they save at least this share of the time (memory is not free)
GPU_WORKERS = 4          # processes per GPU for auto (performance.md: 4 graph-captured processes per H200)
BYTES_PER_ACT = 4 * 4    # a training step keeps about 4 float32 tensors per activation (output, BN, ReLU, gradient)
WORKER_BASE = 400 << 20  # torch's own resident memory in a worker process
MEMORY_SHARE = 0.7       # workers may take this share of the free memory


@dataclass(frozen=True)
class Allocation:
    """Worker processes per device and torch threads per worker, with the reason ``dse train`` prints."""

    workers: int
    threads: int
    reason: str


def _interp(flops: float, col: int) -> float:
    """Column ``col`` of ``WORKERS`` at ``flops``, interpolated in log flops (the nearest point outside)."""
    xs = [math.log(r[0]) for r in WORKERS]
    ys = [r[col] for r in WORKERS]
    x = math.log(max(float(flops), 1.0))
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = max(j for j in range(len(xs)) if xs[j] <= x)
    t = (x - xs[i]) / (xs[i + 1] - xs[i])
    return round(ys[i] + t * (ys[i + 1] - ys[i]), 6)


def worker_gain(flops: float, cores: int = 2) -> float:
    """The measured speed of ``cores`` single-threaded workers over one ``cores``-threaded one, at ``flops`` per
    image (``WORKERS``); 1 on one core.

    >>> worker_gain(WORKERS[0][0]) == WORKERS[0][1], worker_gain(1e13) == WORKERS[-1][1], worker_gain(5e6, cores=1)
    (True, True, 1.0)
    """
    return 1.0 if cores <= 1 else _interp(flops, 1)


def worker_efficiency(flops: float, workers: int) -> float:
    """The share of its own speed a single-threaded worker keeps while ``workers`` run at once (``WORKERS``); 1 alone.

    >>> worker_efficiency(5e6, 1)
    1.0
    """
    return 1.0 if workers <= 1 else _interp(flops, 2)


def worker_memory(acts: float, batch: int, data_bytes: int) -> int:
    """Bytes one CPU worker needs: torch itself, its copy of the data set, a batch's activations kept for backward."""
    return int(WORKER_BASE + data_bytes + BYTES_PER_ACT * acts * batch)


def free_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _makespan(n: int, w: int, gain: float) -> float:
    """Model-times (of one model on one C-threaded worker) to train n models with w workers at aggregate ``gain``."""
    return math.ceil(n / w) * w / gain


def choose(device: str, cores: int, pending: int, flops: float | None = None, acts: float | None = None,
           batch: int = 128, data_bytes: int = 0, memory: int | None = None,
           workers: int | str | None = "auto") -> Allocation:
    """Workers per device and threads per worker for ``pending`` models of median ``flops`` and ``acts`` per image.

    ``workers``: a number given by the user wins (threads: the cores shared out); "auto" or None choose.

    >>> choose("cpu", 2, pending=24, flops=5e6, acts=1e5).workers
    2
    >>> choose("cpu", 2, pending=1, flops=5e6, acts=1e5).workers
    1
    >>> choose("cpu", 2, pending=8, workers=1).threads
    2
    """
    gpu = device.startswith("cuda")
    if workers not in (None, "auto"):
        k = int(workers)
        return Allocation(k, 1 if gpu else max(1, cores // k), f"{k} per device as given (--workers-per-gpu {k})")
    if gpu:
        k = max(1, min(GPU_WORKERS, pending))
        why = (f"{GPU_WORKERS} per GPU keep it busy (small networks are bound by kernel launches)" if k == GPU_WORKERS
               else f"{pending} model(s) pending")
        return Allocation(k, 1, f"{k} worker(s) per GPU: {why}")
    if cores <= 1 or pending <= 1:
        why = "one core" if cores <= 1 else "one model pending: all cores on it"
        return Allocation(1, cores, f"1 worker with {cores} thread(s): {why}")
    f = flops or WORKERS[0][0]
    top = min(cores, pending)
    fit = None
    if memory is not None and acts is not None:
        fit = max(1, int(MEMORY_SHARE * memory // worker_memory(acts, batch, data_bytes)))
        top = min(top, fit)
    full = worker_gain(f, cores)
    best, best_t = 1, _makespan(pending, 1, 1.0)
    for w in range(2, top + 1):
        gain = 1 + (full - 1) * (w - 1) / (cores - 1)  # measured at w = cores; in between, linear (assumed)
        t = _makespan(pending, w, gain)
        if t < best_t * (1 - MIN_SAVING):
            best, best_t = w, t
    threads = max(1, cores // best)
    size = f"{f / 1e6:.3g} MF per image"
    if best == 1:
        why = ("memory for one worker only" if fit == 1 else
               f"one {cores}-threaded worker trains {pending} model(s) of {size} as fast (measured)")
    else:
        why = (f"small models ({size}) train {worker_gain(f, cores):.2f}x faster as {cores} single-threaded "
               f"workers than as one {cores}-threaded one (measured)")
        if fit is not None and fit < min(cores, pending):
            why += f"; memory for {fit}"
    return Allocation(best, threads, f"{best} worker(s) x {threads} thread(s) on {cores} cores: {why}")
