#!/usr/bin/env python3
"""Training speed of dse's engine against the usual loop, measured in this process.

(a) always: images/s of the engine against a plain PyTorch loop on the same model and data (a Dataset
    that augments each image on the CPU, DataLoader, fp32, torch.optim.SGD, loss.item() every step).
(b) with a GPU: RegNetX-400MF at 32 px (cifar stem), the engine in one process (CUDA graph, bf16,
    channels_last) and a 16-model sweep through `dse train` (several workers per GPU, aggregate images/s
    and models/hour), each against the pycls-style loop (DataLoader + fp32 + per-step .item()).

    python scripts/bench_train.py [--steps 40] [--gpu-sweep-models 16]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dse.models import regnet_arch  # noqa: E402
from dse.train.data import synthetic  # noqa: E402
from dse.train.engine import DeviceData, Protocol, train_model  # noqa: E402


class _AugmentingSet(torch.utils.data.Dataset):
    """What a plain loop does: per-image pad-and-crop + flip in numpy, normalise, to a float tensor."""

    def __init__(self, x, y, mean, std):
        self.x, self.y = x, y
        self.mean, self.std = np.array(mean)[:, None, None], np.array(std)[:, None, None]
        self.rng = np.random.default_rng(0)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        img = np.pad(self.x[i], ((0, 0), (4, 4), (4, 4)))
        dy, dx = self.rng.integers(0, 9, 2)
        h, w = self.x.shape[2:]
        img = img[:, dy:dy + h, dx:dx + w]
        if self.rng.random() < 0.5:
            img = img[:, :, ::-1]
        img = (img / 255.0 - self.mean) / self.std
        return torch.from_numpy(img.astype(np.float32)), int(self.y[i])


def plain_loop(arch, data, device, steps, batch=128, workers=0):
    """Images/s of the pycls-style loop (the first few steps are warm-up, not timed)."""
    from dse.train.engine import build_model

    model = build_model(arch, data, 0).to(device)
    mean, std = data.mean_std()
    ds = _AugmentingSet(data.x_train, data.y_train, mean, std)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                                     pin_memory=device != "cpu", persistent_workers=workers > 0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-5)
    done, t0, warm = 0, None, 3
    while done < steps + warm:
        for x, y in dl:
            if done == warm:
                if device != "cpu":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            done += 1
            if done == steps + warm:
                break
    return steps * batch / (time.perf_counter() - t0)


def engine_rate(arch, data, device, steps, batch=128):
    """Images/s of dse's engine: train `steps` optimizer steps plus 3 of warm-up, time the difference."""
    dd = DeviceData(data, device)
    times = {}
    for n in (3, steps + 3):
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        train_model(arch, dd, Protocol(dataset="synthetic", budget=f"{n}it", batch_size=batch), seed=0, log=print)  # noqa: E501
        times[n] = time.perf_counter() - t0
    return steps * batch / (times[steps + 3] - times[3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--gpu-sweep-models", type=int, default=16)
    ap.add_argument("--gpu-sweep-epochs", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    small = regnet_arch(8, 16, 12, 2.5, 1, 8)  # ~3.7 MF at 28 px: a CPU-sized model
    data = synthetic((1, 28, 28), 4096, 128)
    print(f"(a) CPU, {torch.get_num_threads()} threads, 3.7 MF RegNet at 28 px, batch 128")
    e, p = engine_rate(small, data, "cpu", a.steps), plain_loop(small, data, "cpu", a.steps)
    print(f"    dse engine {e:8.0f} img/s   plain DataLoader loop {p:8.0f} img/s   ratio {e / p:.2f}x")
    if not torch.cuda.is_available():
        print("(b) no GPU visible: the GPU benchmark was not run")
        return
    x400 = regnet_arch(22, 24, 24.48, 2.54, 1, 16)
    gdata = synthetic((3, 32, 32), 50_000, 10_000)
    print(f"(b) {torch.cuda.get_device_name()}: RegNetX-400MF, 32 px, cifar stem, batch 128")
    base = plain_loop(x400, gdata, "cuda", a.steps * 5, workers=8)
    one = engine_rate(x400, gdata, "cuda", a.steps * 5)
    print(f"    pycls-style loop {base:9.0f} img/s   dse engine, one process {one:9.0f} img/s ({one / base:.1f}x)")
    with tempfile.TemporaryDirectory() as d:
        rows = ["d1,d2,d3,d4,w1,w2,w3,w4,b1,b2,b3,b4,g1,g2,g3,g4,error"]
        rows += [",".join(map(str, [*x400.depths, *x400.widths, 1, 1, 1, 1, 16, 16, 16, 16, ""]))] * a.gpu_sweep_models
        Path(d, "p.csv").write_text("\n".join(rows) + "\n")
        env = {**os.environ, "DSE_DB": str(Path(d, "b.db"))}
        run = lambda *c: subprocess.run([sys.executable, "-m", "dse", *c], env=env, check=True,  # noqa: E731
                                        capture_output=True, text=True)
        run("import", str(Path(d, "p.csv")), "--sweep", "b", "--resolution", "32", "--stem", "cifar", "--num-classes",
            "10")
        t0 = time.perf_counter()
        run("train", "--dataset", "synthetic", "--resolution", "32", "--train-size", "50000", "--test-size", "10000",
            "--budget", f"{a.gpu_sweep_epochs}ep", "--plain")
        wall = time.perf_counter() - t0
    imgs = a.gpu_sweep_models * a.gpu_sweep_epochs * (50_000 // 128) * 128
    agg = imgs / wall
    print(f"    dse train, {a.gpu_sweep_models} models x {a.gpu_sweep_epochs} epoch(s) of 50k images: {wall:.1f} s "
          f"wall, "
          f"{agg:,.0f} img/s aggregate ({agg / base:.1f}x the pycls-style loop), "
          f"{a.gpu_sweep_models / wall * 3600 * a.gpu_sweep_epochs / 10:.1f} models/hour at 10 epochs")


if __name__ == "__main__":
    main()
