#!/usr/bin/env python3
"""How steady and how right `dse findings --plan`'s estimate is on the machine at hand.

1. Five `dse findings --plan` runs in a row (the cpu preset: 432 models at 2-8 MF, 2 epochs on 5,000 images), each
   in a fresh store (so each times its own probes), while another training job runs (`dse train` with one worker
   and every thread, on a synthetic sweep of its own); prints the five estimates and the largest over the smallest.
2. A small plan (--plan, then --run of the same plan), on a quiet machine and again beside the other training job:
   whether the plan's range holds the time the run took to train (its `dse train` part) and its whole wall time.

    python scripts/bench_plan.py [--runs 5] [--small-n 6]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dse(folder, *args, check=True, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DSE_DB", None)
    return subprocess.run([sys.executable, "-m", "dse", *map(str, args)], cwd=folder, env=env, check=check, text=True,
                          capture_output=True, **kw)


def start_load(folder: Path) -> subprocess.Popen:
    """Another training job: a long synthetic sweep trained by one worker with every thread."""
    dse(folder, "sample", "--space", "regnetx", "-n", "300", "--flops", "4M:8M", "--resolution", "28", "--stem",
        "cifar", "--in-channels", "1", "--num-classes", "10")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DSE_DB", None)
    p = subprocess.Popen([sys.executable, "-m", "dse", "train", "--dataset", "synthetic", "--resolution", "28",
                          "--train-size", "5000", "--test-size", "1000", "--budget", "2ep", "--workers-per-gpu", "1",
                          "--device", "cpu", "--plain"], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(8)  # it is training by now
    return p


def plan(folder: Path, *args) -> dict:
    out = dse(folder, "findings", "--plan", "--json", *args)
    return json.loads(out.stdout)


def small(folder: Path, n: int, label: str) -> None:
    args = ["--regimes", "4MF", "-n", n, "--spaces", "regnetx", "--dataset", "synthetic", "--train-size", "2000",
            "--test-size", "500", "--budget", "2ep", "--device", "cpu"]
    p = plan(folder, *args)
    t0 = time.perf_counter()
    out = dse(folder, "findings", "--run", "--no-probe", "--plain", *args).stdout
    wall = time.perf_counter() - t0
    m = re.search(r"training took ([0-9.]+) (s|min|h)", out)
    took = float(m.group(1)) * {"s": 1, "min": 60, "h": 3600}[m.group(2)]
    lo, hi = p["seconds_low"], p["seconds_high"]
    print(f"  {label}: plan {p['seconds']:.1f} s (range {lo:.1f} to {hi:.1f}, {p['source']}); --run's training took "
          f"{took:.1f} s ({'inside' if lo <= took <= hi else 'OUTSIDE'} the range), the whole --run {wall:.1f} s "
          f"(its start, sampling and the verdicts added)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--small-n", type=int, default=6)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "quiet").mkdir()
        print("a small plan, then its --run:")
        small(d / "quiet", a.small_n, "quiet machine")
        (d / "load").mkdir()
        load = start_load(d / "load")
        try:
            est = []
            print(f"{a.runs} plans of the cpu preset while another training job runs:")
            for i in range(a.runs):
                (d / f"p{i}").mkdir()
                t0 = time.perf_counter()
                p = plan(d / f"p{i}")
                est.append(p["seconds"])
                print(f"  plan {i + 1}: {p['models']} models, {p['seconds'] / 60:.1f} min (range "
                      f"{p['seconds_low'] / 60:.1f} to {p['seconds_high'] / 60:.1f}), from {p['source']}; the plan "
                      f"itself took {time.perf_counter() - t0:.1f} s", flush=True)
            print(f"  largest / smallest: {max(est) / min(est):.2f}x")
            (d / "busy").mkdir()
            small(d / "busy", a.small_n, "beside the other job")
        finally:
            load.terminate()
            load.wait()


if __name__ == "__main__":
    main()
