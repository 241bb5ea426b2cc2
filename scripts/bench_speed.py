#!/usr/bin/env python3
"""`dse speed` on the CPU: 100 RegNetX models at 28 px (Fashion-MNIST's regime), inference at batch 64 with
10 timed runs each. Reports the wall time, the time inside the timed and warm-up runs, and the overhead per
model beyond them (building the network, the store, the process), whose goal is < 0.2 s; then which
complexity measure predicts the CPU time here.

    python scripts/bench_speed.py [--n 100] [--repeat 10] [--batch 64]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dse  # noqa: E402
import dse.train.speed as speed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    inside = [0.0]
    timed = speed._timed

    def counting(fn, dev, warmup, repeat):  # the time spent in warm-up and timed runs, to subtract
        t = time.perf_counter()
        out = timed(fn, dev, warmup, repeat)
        inside[0] += time.perf_counter() - t
        return out

    speed._timed = counting
    with tempfile.TemporaryDirectory() as d:
        st = dse.Study(Path(d) / "s.sqlite")
        st.sample("regnetx", a.n, flops="2M:8M", resolution=28, stem="cifar", in_channels=1, num_classes=10)
        t = time.perf_counter()
        r = st.speed(device="cpu", batch=a.batch, repeat=a.repeat)[0]
        wall = time.perf_counter() - t
    over = (wall - inside[0]) / a.n
    print(f"{a.n} RegNetX models at 28 px, infer batch {a.batch}, {a.repeat} timed runs + 3 warm-up each, "
          f"on {r.device}")
    print(f"wall {wall:.1f} s; in the warm-up and timed runs {inside[0]:.1f} s; overhead per model "
          f"{over:.3f} s (goal < 0.2 s)")
    print(f"median {r.median_ms:.1f} ms per batch; Pearson r with flops {r.pearson['flops']:.3f}, params "
          f"{r.pearson['params']:.3f}, acts {r.pearson['acts']:.3f}; R^2 flops {r.fits[0].r2:.3f}, acts "
          f"{r.fits[1].r2:.3f}, flops+acts {r.fits[2].r2:.3f}")


if __name__ == "__main__":
    main()
