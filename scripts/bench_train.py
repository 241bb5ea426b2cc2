#!/usr/bin/env python3
"""Training throughput of dse's engine on the machine at hand, as a fraction of the machine's peak.

In one run (each figure a ratio against a baseline measured in the same run):
  peak      multiply-adds/s of a large 3x3 convolution (64 channels, 56 px, batch 32, channels_last), forward
            and backward: one process with every core's threads, and one single-threaded process per core at once;
  bins      the engine's training multiply-adds/s (3 x flops x images/s: forward, and backward's two) for RegNetX
            models in size bins at 28 px (batch 128, one channel, 10 classes): one worker with every thread, one
            single-threaded worker per core at once (aggregate), and one single-threaded worker alone; each as a
            share of the peak, and the two ratios dse.train.allocation's rule reads (WORKER_GAIN: the workers'
            aggregate over one many-threaded worker; and the per-worker efficiency);
  alloc     the training step with glibc's allocator as it comes and as dse tunes it (freed buffers kept, no
            page faults), each in fresh processes, interleaved;
  overhead  where a short model's time goes (a 2-epoch model on 5,000 + 2,000 images, as the demo trains): building
            it, its steps, its evaluations, at the batch dse uses and at the former 1,024;
  plain     the engine against a plain PyTorch loop (DataLoader, per-image CPU augmentation, .item() every step);
  gpu       with a GPU: RegNetX-400MF at 32 px, the engine (CUDA graph) against the pycls-style loop, and a
            16-model sweep through `dse train`;
  sr        super-resolution training (dse.train.restore: L1, Adam, random patches): patches/s of an EDSR-like x2
            network (4 blocks, 32 wide) on 24 px input patches, and its training multiply-adds/s (3 x the
            network's multiply-adds per patch x patches/s) as a share of the peak, beside the bins' classification
            figures (run with --only peak,bins,sr --bins 50-100MF: the same size class, ~72 MF a patch).

    python scripts/bench_train.py                 # everything the machine can run (~4 minutes on 2 cores)
    python scripts/bench_train.py --only peak,bins --bins 5-12MF
    python scripts/bench_train.py --demo [--baseline-repo ../old-dse]   # the demo's training, side by side

--demo trains the demo's 24 models (AnyNetX_A and _E, 2-8 MF, 2 epochs of 5,000 Fashion-MNIST images) twice from
the same samples: with the former defaults (one worker with every thread; or another checkout's dse with
--baseline-repo) and with today's defaults, and prints both wall times and both error distributions (KS test).
"""

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dse.models import regnet_arch  # noqa: E402
from dse.models.arch import Arch  # noqa: E402
from dse.models.complexity import complexity_many  # noqa: E402
from dse.train.data import synthetic  # noqa: E402
from dse.train.engine import DeviceData, Protocol, build_model, evaluate, train_model  # noqa: E402
from dse.validate import usable_cpus  # noqa: E402

RES = 28
# the size bins (per-image training flops at 28 px, one channel, 10 classes); each is measured on models sampled
# (seeded) from the spaces given, the demo's AnyNetX_A and the findings' RegNetX by default
BINS = {"1-2MF": (1e6, 2e6), "5-12MF": (5e6, 12e6), "50-100MF": (5e7, 1e8), "200-400MF": (2e8, 4e8),
        "0.8-1.2GF": (8e8, 1.2e9)}
DEFAULT_BINS = ("1-2MF", "5-12MF", "50-100MF")
BATCH = 128


def flops_of(arch: Arch) -> int:
    return int(complexity_many([arch], resolution=RES, stem="cifar", in_channels=1, num_classes=10)[0][0])


# ---------------------------------------------------------------- the peak
def _conv_rate(threads: int, seconds: float = 3.0, barrier=None, q=None, fmt=torch.channels_last) -> float:
    """Multiply-adds/s of a 3x3 convolution (64 -> 64 channels, 56 px, batch 32), forward and backward."""
    torch.set_num_threads(threads)
    c, hw, n = 64, 56, 32
    x = torch.randn(n, c, hw, hw).contiguous(memory_format=fmt).requires_grad_(True)
    conv = torch.nn.Conv2d(c, c, 3, padding=1, bias=False).to(memory_format=fmt)
    for _ in range(2):
        conv(x).sum().backward()
    if barrier is not None:
        barrier.wait()
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        conv(x).sum().backward()
        k += 1
    r = 3 * 9 * c * c * hw * hw * n * k / (time.perf_counter() - t0)
    if q is not None:
        q.put(r)
    return r


def _together(fn, args, k: int) -> list:
    """Run fn(*args, barrier, queue) in k spawned processes that start their timed part at once; their results."""
    ctx = mp.get_context("spawn")
    b, q = ctx.Barrier(k), ctx.Queue()
    ps = [ctx.Process(target=fn, args=(*args, b, q)) for _ in range(k)]
    for p in ps:
        p.start()
    out = [q.get() for _ in ps]
    for p in ps:
        p.join()
    return out


def peak(cores: int) -> dict:
    one = _conv_rate(cores)
    each = _together(_conv_rate, (1, 3.0), cores) if cores > 1 else [one]
    return {"one process": one, "per-core processes": sum(each),
            "nchw": _conv_rate(cores, fmt=torch.contiguous_format)}


# ---------------------------------------------------------------- the engine in size bins
def _engine_rate(arch_d: dict, threads: int, seconds: float, barrier=None, q=None) -> float:
    """Images/s of the engine's training steps (augmentation included): a run of n steps minus a run of 2 (which
    cancels building the model and evaluating it), n chosen to take about ``seconds``."""
    torch.set_num_threads(threads)
    arch = Arch(**arch_d)
    f = flops_of(arch)
    steps = int(max(6, min(400, seconds * 6e9 * threads / (3 * f * BATCH))))
    data = synthetic((1, RES, RES), BATCH * (steps + 2), 64)
    dd = DeviceData(data, "cpu")
    train_model(arch, dd, Protocol(dataset="synthetic", budget="2it", batch_size=BATCH), log=print)  # warm-up
    if barrier is not None:
        barrier.wait()
    t = {}
    for n in (2, steps + 2):
        t0 = time.perf_counter()
        train_model(arch, dd, Protocol(dataset="synthetic", budget=f"{n}it", batch_size=BATCH), log=print)
        t[n] = time.perf_counter() - t0
    r = steps * BATCH / max(t[steps + 2] - t[2], 1e-9)
    if q is not None:
        q.put(r)
    return r


def bin_models(name: str, spaces, per_space: int, seed: int = 0) -> list:
    """``per_space`` models of each space in bin ``name`` (seeded), as Archs."""
    from dse.spaces import resolve_space
    from dse.spaces.sampling import Regime, Sampler

    lo, hi = BINS[name]
    out = []
    for sp in spaces:
        reg = Regime(flops=(int(lo), int(hi)), resolution=RES, stem="cifar", in_channels=1, num_classes=10)
        out += [(sp, m.arch) for m in Sampler(resolve_space(sp), reg, seed=seed).sample(per_space)]
    return out


def bins(cores: int, names, seconds: float, pk: float, spaces, per_space: int) -> list:
    rows = []
    for name in names:
        for space, arch in bin_models(name, spaces, per_space):
            f = flops_of(arch)
            d = asdict(arch)
            many = _engine_rate(d, cores, seconds)
            alone = _engine_rate(d, 1, seconds)
            each = _together(_engine_rate, (d, 1, seconds), cores) if cores > 1 else [alone]
            agg = sum(each)
            mac = lambda r: 3 * f * r  # noqa: E731
            rows.append({"bin": name, "flops": f, "one worker": many, "alone 1 thread": alone, "workers": agg,
                         "frac one": mac(many) / pk, "frac workers": mac(agg) / pk, "gain": agg / many,
                         "eff": agg / (cores * alone)})
            print(f"  {name:>8} {space:>8} {f / 1e6:6.2f} MF  1x{cores}: {many:6.0f} img/s "
                  f"{mac(many) / 1e9:5.1f} GMAC/s "
                  f"({mac(many) / pk:4.0%})   {cores}x1: {agg:6.0f} img/s {mac(agg) / 1e9:5.1f} GMAC/s "
                  f"({mac(agg) / pk:4.0%})   gain {agg / many:.2f}x   1x1 alone {alone:5.0f} img/s, "
                  f"per-worker efficiency {agg / (cores * alone):.2f}", flush=True)
    return rows


# ---------------------------------------------------------------- per-model overhead
def overhead(threads: int) -> None:
    """Where a 2-epoch model's time goes (5,000 + 2,000 images at 28 px, a 5-12 MF model, ``threads`` threads)."""
    torch.set_num_threads(threads)
    arch = regnet_arch(12, 24, 20, 2.5, 1, 8)  # 12 MF at 28 px
    data = synthetic((1, RES, RES), 5000, 2000)
    dd = DeviceData(data, "cpu")
    train_model(arch, dd, Protocol(dataset="synthetic", budget="2it"), log=print)  # warm-up
    t0 = time.perf_counter()
    model = build_model(arch, data, 0).to(memory_format=torch.channels_last)
    build = time.perf_counter() - t0
    ev = {}
    for bs in (1024, None):
        evaluate(model, dd, False, True, bs=bs)
        t0 = time.perf_counter()
        for _ in range(2):
            evaluate(model, dd, False, True, bs=bs)
        ev[bs] = (time.perf_counter() - t0) / 2
    t0 = time.perf_counter()
    out = train_model(arch, dd, Protocol(dataset="synthetic", budget="2ep"), log=print)
    total = time.perf_counter() - t0
    steps = total - build - 2 * ev[None]
    print(f"  a 2-epoch model, {flops_of(arch) / 1e6:.1f} MF, {threads} thread(s): {total:.2f} s = build "
          f"{build:.2f} s ({build / total:.1%}) + 2 evaluations of 2,000 images {2 * ev[None]:.2f} s "
          f"({2 * ev[None] / total:.1%}) + {2 * (5000 // BATCH)} steps {steps:.2f} s ({steps / total:.1%}); "
          f"{out.epochs} epochs")
    print(f"  evaluation of 2,000 images: batch 1024 (before) {ev[1024]:.3f} s, batch {256} (now) {ev[None]:.3f} s "
          f"({ev[1024] / ev[None]:.2f}x); at batch 1024 the evaluations would be "
          f"{2 * ev[1024] / (total - 2 * ev[None] + 2 * ev[1024]):.1%} of the model's time")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, dse.train.engine; from dse.train.worker import load_data; "
                    "from dse.train.protocol import Protocol; load_data(Protocol(dataset='synthetic', "
                    "train_size=5000, test_size=2000, resolution=28))"], check=True, cwd=ROOT)
    print(f"  a worker process's start (python, torch, dse, the data): {time.perf_counter() - t0:.2f} s, once per "
          f"worker per `dse train`")


# ---------------------------------------------------------------- the allocator, before and after
def _step_rate(tuned: bool, spec, seconds: float, q=None):
    """Images/s and page faults per step of the training step alone (Step, no train_model) in a fresh process,
    with glibc's allocator as it comes or as dse.train.engine.tune_allocator leaves it."""
    import resource

    from dse.train.engine import Step, tune_allocator

    torch.set_num_threads(1)
    if tuned:
        tune_allocator()
    arch = regnet_arch(*spec)
    model = build_model(arch, synthetic((1, RES, RES), 16, 16), 0).to(memory_format=torch.channels_last)
    st = Step(model, BATCH, (1, RES, RES), torch.device("cpu"), Protocol(dataset="synthetic", budget="1ep"), False,
              True)
    st.x.normal_()
    st.lr.fill_(0.05)
    for _ in range(3):
        st.zero_grad()
        st()
    r0, k, t0 = resource.getrusage(resource.RUSAGE_SELF), 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        st.zero_grad()
        st()
        k += 1
    dt = time.perf_counter() - t0
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0.ru_minflt) / k
    if q is not None:
        q.put((k * BATCH / dt, faults))


def allocator(seconds: float) -> None:
    ctx = mp.get_context("spawn")
    for spec in ((8, 24, 24, 2.2, 1, 8), (12, 24, 20, 2.5, 1, 8)):
        out = {}
        for tuned in (False, True, False, True):  # interleaved, twice: the machine's drift falls on both
            q = ctx.Queue()
            p = ctx.Process(target=_step_rate, args=(tuned, spec, seconds, q))
            p.start()
            out.setdefault(tuned, []).append(q.get())
            p.join()
        (b, fb), (a, fa) = [(np.median([r for r, _ in out[t]]), np.median([f for _, f in out[t]])) for t in (0, 1)]
        print(f"  {flops_of(regnet_arch(*spec)) / 1e6:5.1f} MF, 1 thread: glibc as it comes {b:5.0f} img/s "
              f"({fb:,.0f} page faults a step); tuned {a:5.0f} img/s ({fa:,.0f}); {a / b:.2f}x", flush=True)


# ---------------------------------------------------------------- the plain loop and the GPU
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
        train_model(arch, dd, Protocol(dataset="synthetic", budget=f"{n}it", batch_size=batch), seed=0, log=print)
        times[n] = time.perf_counter() - t0
    return steps * batch / (times[steps + 3] - times[3])


def plain(cores: int, steps: int) -> None:
    torch.set_num_threads(cores)
    small = regnet_arch(8, 16, 12, 2.5, 1, 8)  # ~3.7 MF at 28 px: a CPU-sized model
    data = synthetic((1, 28, 28), 4096, 128)
    e, p = engine_rate(small, data, "cpu", steps), plain_loop(small, data, "cpu", steps)
    print(f"  {cores} threads, 3.7 MF RegNet at 28 px, batch 128: dse engine {e:8.0f} img/s   plain DataLoader loop "
          f"{p:8.0f} img/s   ratio {e / p:.2f}x")


def gpu(steps: int, models: int, epochs: int) -> None:
    x400 = regnet_arch(22, 24, 24.48, 2.54, 1, 16)
    gdata = synthetic((3, 32, 32), 50_000, 10_000)
    print(f"  {torch.cuda.get_device_name()}: RegNetX-400MF, 32 px, cifar stem, batch 128")
    base = plain_loop(x400, gdata, "cuda", steps * 5, workers=8)
    one = engine_rate(x400, gdata, "cuda", steps * 5)
    print(f"    pycls-style loop {base:9.0f} img/s   dse engine, one process {one:9.0f} img/s ({one / base:.1f}x)")
    with tempfile.TemporaryDirectory() as d:
        rows = ["d1,d2,d3,d4,w1,w2,w3,w4,b1,b2,b3,b4,g1,g2,g3,g4,error"]
        rows += [",".join(map(str, [*x400.depths, *x400.widths, 1, 1, 1, 1, 16, 16, 16, 16, ""]))] * models
        Path(d, "p.csv").write_text("\n".join(rows) + "\n")
        env = {**os.environ, "DSE_DB": str(Path(d, "b.db"))}
        run = lambda *c: subprocess.run([sys.executable, "-m", "dse", *c], env=env, check=True,  # noqa: E731
                                        capture_output=True, text=True)
        run("import", str(Path(d, "p.csv")), "--sweep", "b", "--resolution", "32", "--stem", "cifar", "--num-classes",
            "10")
        t0 = time.perf_counter()
        run("train", "--dataset", "synthetic", "--resolution", "32", "--train-size", "50000", "--test-size", "10000",
            "--budget", f"{epochs}ep", "--plain")
        wall = time.perf_counter() - t0
    agg = models * epochs * (50_000 // 128) * 128 / wall
    print(f"    dse train, {models} models x {epochs} epoch(s) of 50k images: {wall:.1f} s wall, {agg:,.0f} img/s "
          f"aggregate ({agg / base:.1f}x the pycls-style loop), {models / wall * 3600 * epochs / 10:.1f} models/hour "
          f"at 10 epochs")


# ---------------------------------------------------------------- the demo, side by side
def demo(baseline_repo: str | None, n: int, epochs: int) -> None:
    """The demo's sampling once, then its training twice on copies of the store: the baseline, then the defaults."""
    from scipy.stats import ks_2samp

    fm = Path("/usr/share/datasets/fashion-mnist")
    data = ["--data-dir", str(fm)] if (fm / "train-images-idx3-ubyte.gz").exists() else \
        ["--data-dir", str(ROOT / "tests/data/fashion-mnist")]
    sizes = ["--train-size", "5000", "--test-size", "2000"] if "tests" not in data[1] else \
        ["--train-size", "3000", "--test-size", "600"]
    regime = ["--flops", "2M:8M", "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10"]

    def dse(repo: Path, db: Path, *args, **kw):
        env = {**os.environ, "DSE_DB": str(db), "PYTHONPATH": str(repo)}
        return subprocess.run([sys.executable, "-m", "dse", *args], env=env, check=True, text=True,
                              capture_output=True, cwd=repo, **kw)

    with tempfile.TemporaryDirectory() as d:
        base_db, new_db = Path(d, "base.sqlite"), Path(d, "new.sqlite")
        for space in ("anynet_a", "anynet_e"):
            dse(ROOT, base_db, "sample", "--space", space, "-n", str(n), *regime)
        shutil.copy(base_db, new_db)
        train = ["train", "--budget", f"{epochs}ep", *data, *sizes, "--plain"]
        times, errs = {}, {}
        runs = [("before", Path(baseline_repo).resolve() if baseline_repo else ROOT, base_db,
                 [] if baseline_repo else ["--workers-per-gpu", "1"]), ("now", ROOT, new_db, [])]
        for label, repo, db, extra in runs:
            t0 = time.perf_counter()
            out = dse(repo, db, *train, *extra)
            times[label] = time.perf_counter() - t0
            first = out.stdout.strip().splitlines()[0]
            import sqlite3

            with sqlite3.connect(db) as c:
                errs[label] = np.array([e for (e,) in c.execute("SELECT error FROM models WHERE status = 'done'")])
            print(f"  {label:6} ({'another checkout: ' + str(repo) if repo != ROOT else 'this checkout'}"
                  f"{' ' + ' '.join(extra) if extra else ''}): {times[label]:6.1f} s for {len(errs[label])} models; "
                  f"first line: {first}", flush=True)
        ks = ks_2samp(errs["before"], errs["now"])
        print(f"  speed-up {times['before'] / times['now']:.2f}x; final errors before {np.mean(errs['before']):.2f} % "
              f"mean / {np.median(errs['before']):.2f} median, now {np.mean(errs['now']):.2f} / "
              f"{np.median(errs['now']):.2f}; KS D {ks.statistic:.3f}, p {ks.pvalue:.3f}")


def sr(cores: int, seconds: float, pk: float | None) -> None:
    """Patches/s and the share of the peak of SR training on the CPU with every core's threads."""
    from dse.models.lowlevel import RestoreNet, restore_complexity
    from dse.models.restore import Restorer
    from dse.train.restore import Pairs, train_restorer

    torch.set_num_threads(cores)
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (3, 96, 96), dtype=np.uint8) for _ in range(16)]
    pairs = Pairs(photos[:12], photos[12:], "sr", 2)
    net = RestoreNet((4,), (32,), scale=2)
    per_patch = restore_complexity(net, out=(48, 48))["flops"]
    train_restorer(Restorer(net), pairs, steps=3, batch=16, patch=24)  # warm-up
    steps, rate = 10, 0.0
    while True:
        r = train_restorer(Restorer(net), pairs, steps=steps, batch=16, patch=24)
        rate = steps * 16 / r.seconds  # (r.seconds includes one evaluation of 4 images)
        if r.seconds >= seconds or steps >= 2000:
            break
        steps = int(steps * max(2.0, seconds / max(r.seconds, 1e-3)))
    macs = 3 * per_patch * rate
    share = f", {macs / pk:.0%} of the peak" if pk else ""
    print(f"  EDSR-like x2 (4 blocks, 32 wide), 24 px input patches, batch 16, {cores} threads: {rate:8.0f} patches/s "
          f"({per_patch / 1e6:.1f} MF a patch; training {macs / 1e9:.1f} GMAC/s{share})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="peak,bins,alloc,overhead,plain,gpu,sr",
                    help="which parts: peak, bins, alloc, overhead, plain, gpu, sr (comma-separated)")
    ap.add_argument("--bins", default=",".join(DEFAULT_BINS), help=f"size bins ({', '.join(BINS)})")
    ap.add_argument("--seconds", type=float, default=4.0, help="about how long each timed run takes")
    ap.add_argument("--spaces", default="anynet_a,regnetx", help="the spaces whose models fill the bins")
    ap.add_argument("--per-space", type=int, default=1, help="models of each space in each bin")
    ap.add_argument("--steps", type=int, default=40, help="steps of the plain-loop comparison")
    ap.add_argument("--gpu-sweep-models", type=int, default=16)
    ap.add_argument("--gpu-sweep-epochs", type=int, default=1)
    ap.add_argument("--demo", action="store_true", help="only the demo's training, side by side (about 6 minutes)")
    ap.add_argument("--baseline-repo", default=None, help="with --demo: another dse checkout as the baseline")
    ap.add_argument("--demo-n", type=int, default=12, help="with --demo: models per space")
    ap.add_argument("--demo-epochs", type=int, default=2)
    a = ap.parse_args()
    cores = usable_cpus()
    print(f"machine: {cores} usable cores, torch {torch.__version__}, {torch.get_num_threads()} default threads")
    if a.demo:
        print("demo's training (24 models of AnyNetX_A/E at 2-8 MF, 28 px Fashion-MNIST, 2 epochs):")
        demo(a.baseline_repo, a.demo_n, a.demo_epochs)
        return
    parts = a.only.split(",")
    pk = None
    if "peak" in parts or "bins" in parts:
        p = peak(cores)
        pk = max(p["one process"], p["per-core processes"])
        nchw = p["nchw"]
        print(f"peak (3x3 conv 64->64, 56 px, batch 32, forward + backward): one process x {cores} threads "
              f"{p['one process'] / 1e9:.1f} GMAC/s; {cores} single-threaded processes "
              f"{p['per-core processes'] / 1e9:.1f} GMAC/s; the peak is the larger, {pk / 1e9:.1f} GMAC/s (the same "
              f"convolution in the NCHW layout, one process: {nchw / 1e9:.1f} GMAC/s)")
    if "bins" in parts:
        print(f"engine, training multiply-adds/s (3 x flops x img/s) as a share of the peak, {cores} cores:")
        rows = bins(cores, a.bins.split(","), a.seconds, pk, a.spaces.split(","), a.per_space)
        for name in dict.fromkeys(r["bin"] for r in rows):
            rs = [r for r in rows if r["bin"] == name]
            print(f"  {name:>8} median: one worker {np.median([r['frac one'] for r in rs]):.0%} of the peak, "
                  f"{cores} workers {np.median([r['frac workers'] for r in rs]):.0%} "
                  f"({np.median([r['frac workers'] for r in rs]) * pk / nchw:.0%} of the NCHW convolution's), gain "
                  f"{np.median([r['gain'] for r in rs]):.2f}x, per-worker efficiency "
                  f"{np.median([r['eff'] for r in rs]):.2f}")
    if "alloc" in parts:
        print("the training step with glibc's allocator as it comes and as the engine tunes it:")
        allocator(a.seconds)
    if "overhead" in parts:
        print("per-model overhead:")
        overhead(1)
    if "sr" in parts:
        print("super-resolution training (patches/s beside the bins' images/s):")
        sr(cores, a.seconds, pk)
    if "plain" in parts:
        print("engine against a plain loop:")
        plain(cores, a.steps)
    if "gpu" in parts:
        if torch.cuda.is_available():
            print("GPU:")
            gpu(a.steps, a.gpu_sweep_models, a.gpu_sweep_epochs)
        else:
            print("gpu: no GPU visible: not run")


if __name__ == "__main__":
    main()
