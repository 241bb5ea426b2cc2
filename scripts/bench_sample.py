#!/usr/bin/env python3
"""Sampling speed: accepted models/s per built-in space, bulk (numpy over chunks of candidates) against a
one-candidate-at-a-time loop over the same code, and the wall time of `dse sample -n 500` as a user runs it
(start-up included, one core). Prints ratios measured in this process; pycls's figure is quoted, not run.

    python scripts/bench_sample.py [--n 500] [--loop-seconds 3]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dse.spaces import Regime, Sampler, builtin_names, resolve_space  # noqa: E402

PYCLS_ACCEPTED_PER_S = 1.5  # docs/performance.md: pycls sweep_setup, RegNet space, 360-400MF, one core
# the regime each space is sampled at: the paper's 360-400MF at 224 px, the NDS spaces (CIFAR) under ResNet-56's
# flops at 32 px and 10 classes
NDS = (Regime((1_000_000, 126_000_000), 32, num_classes=10), ["--flops", "1M:126M", "--resolution", "32",
                                                               "--num-classes", "10"])


def regime_of(name):
    return NDS if name.startswith("nds_") else (Regime(), [])


def loop_rate(space, seconds):
    """Accepted/s when candidates go through the same code one at a time (chunk of 1)."""
    s = Sampler(space, regime_of(space.name)[0], seed=1, chunk=1)
    got, t0 = 0, time.perf_counter()
    rng_seed = 1
    while time.perf_counter() - t0 < seconds:
        s.seed = rng_seed
        s.sample(1)
        got += 1
        rng_seed += 1
    return got / (time.perf_counter() - t0), s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--loop-seconds", type=float, default=3.0)
    ap.add_argument("--spaces", default=None, help="comma-separated built-in spaces (default: all)")
    a = ap.parse_args()
    names = a.spaces.split(",") if a.spaces else builtin_names()
    if "regnetx" not in names:
        names = ["regnetx"] + names  # the reference every space's rate is compared with
    one_core = ["taskset", "-c", "0"] if _has("taskset") else []
    print(f"{'space':14} {'bulk acc/s':>11} {'loop acc/s':>11} {'bulk/loop':>10} {'vs pycls':>9} "
          f"{'cand/s':>11} {'accept %':>9} {'dse sample -n %d (wall s)' % a.n:>26} {'vs regnetx':>10}")
    ref = None
    for name in names:
        sp = resolve_space(name)
        regime, flags = regime_of(name)
        s = Sampler(sp, regime, seed=0)
        t0 = time.perf_counter()
        s.sample(a.n)
        dt = time.perf_counter() - t0
        bulk = a.n / dt
        loop, _ = loop_rate(sp, a.loop_seconds)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            subprocess.run([*one_core, sys.executable, "-m", "dse", "sample", "--space", name, "-n", str(a.n),
                            *flags, "--db", str(Path(d) / "b.sqlite")], check=True, capture_output=True)
            wall = time.perf_counter() - t0
        print(f"{name:14} {bulk:11.0f} {loop:11.2f} {bulk / loop:9.0f}x {bulk / PYCLS_ACCEPTED_PER_S:8.0f}x "
              f"{s.tried_ / dt:11.0f} {100 * s.accepted_ / s.tried_:9.3f} {wall:26.2f} "
              f"{bulk / (ref or bulk):9.2f}x")
        ref = ref or bulk


def _has(cmd):
    from shutil import which

    return which(cmd) is not None


if __name__ == "__main__":
    main()
