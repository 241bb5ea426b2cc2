#!/usr/bin/env python3
"""Quantisation-aware training against float: the same networks trained at 32 and at 8 bits (and 2 bits).

regnetx and regnetx_w8a8 (and regnetx_w2a2) draw the same networks from the same seed and flops window (the bit
widths come after the network in the sampling stream), and a model's index seeds its initialisation, so each
8-bit model is its float twin quantised. All are trained under one protocol (Fashion-MNIST at 28 px, a subset),
and the script reports each twin's errors, the mean 8-bit minus float difference with a 95% t interval, and what
the 2-bit models did (done or diverged, never a crash), with the training time of each sweep (a ratio: the
fake-quantisation's overhead on this machine).

    python scripts/bench_precision.py                      # 5 twins at 3-6 MF, 5 epochs of 10,000 images (~15 min)
    python scripts/bench_precision.py -n 8 --budget 5ep --db /tmp/prec.sqlite
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dse  # noqa: E402

REGIME = dict(resolution=28, stem="cifar", in_channels=1, num_classes=10)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5, help="twins (float and 8-bit) [5]")
    ap.add_argument("--low-n", type=int, default=2, help="of them also at 2 bits [2]")
    ap.add_argument("--flops", default="3M:6M", help="the float networks' window [3M:6M]")
    ap.add_argument("--budget", default="5ep")
    ap.add_argument("--train-size", type=int, default=10000)
    ap.add_argument("--test-size", type=int, default=2000)
    ap.add_argument("--db", default=None, help="keep the store here (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    db = a.db or str(Path(tempfile.mkdtemp(prefix="bench_precision_")) / "prec.sqlite")
    st = dse.Study(db)
    sweeps = {"regnetx": a.n, "regnetx_w8a8": a.n, "regnetx_w2a2": a.low_n}
    for sp, n in sweeps.items():
        if n:
            st.sample(sp, n, flops=a.flops, seed=0, **REGIME)
    times = {}
    for sp, n in sweeps.items():  # one sweep at a time: each one's wall time is its own
        if n:
            t0 = time.perf_counter()
            st.train([sp], budget=a.budget, dataset="fashion-mnist", train_size=a.train_size,
                     test_size=a.test_size, device="cpu")
            times[sp] = time.perf_counter() - t0
    df = st.models()
    err = {sp: dict(zip(d["id"], d["error"])) for sp, d in df.groupby("sweep")}
    status = {sp: dict(zip(d["id"], d["status"])) for sp, d in df.groupby("sweep")}
    flops = dict(zip(df[df.sweep == "regnetx"]["id"], df[df.sweep == "regnetx"]["flops"]))
    rows = [{"id": int(i), "flops": int(flops[i]), "float": err["regnetx"].get(i), "w8a8": err["regnetx_w8a8"].get(i),
             "w2a2": err.get("regnetx_w2a2", {}).get(i), "w2a2_status": status.get("regnetx_w2a2", {}).get(i)}
            for i in sorted(flops)]
    d = np.array([r["w8a8"] - r["float"] for r in rows if r["w8a8"] is not None and r["float"] is not None])
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    out = {"db": db, "protocol": {"budget": a.budget, "train_size": a.train_size, "test_size": a.test_size,
                                  "flops": a.flops}, "twins": rows, "mean_w8a8_minus_float": float(d.mean()),
           "ci95": [float(d.mean() - half), float(d.mean() + half)], "seconds": times,
           "w8a8_time_ratio": times["regnetx_w8a8"] / times["regnetx"]}
    if a.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"store {db}; {a.budget} on {a.train_size} Fashion-MNIST images, tested on {a.test_size}")
    print(f"{'id':>3} {'flops':>9} {'float %':>8} {'w8a8 %':>8} {'diff':>6} {'w2a2 %':>8} w2a2 status")
    for r in rows:
        f8 = "" if r["w8a8"] is None else f"{r['w8a8']:8.2f}"
        diff = "" if r["w8a8"] is None or r["float"] is None else f"{r['w8a8'] - r['float']:+6.2f}"
        f2 = "" if r["w2a2"] is None else f"{r['w2a2']:8.2f}"
        print(f"{r['id']:>3} {r['flops']:>9,} {r['float']:8.2f} {f8:>8} {diff:>6} {f2:>8} {r['w2a2_status'] or ''}")
    print(f"mean 8-bit minus float: {out['mean_w8a8_minus_float']:+.2f} points (95% t interval "
          f"[{out['ci95'][0]:+.2f}, {out['ci95'][1]:+.2f}]) over {len(d)} twins")
    print("training wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
          + f"; 8-bit / float {out['w8a8_time_ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
