"""Runtime of networks on a device: a batch's inference (eval, no grad) or one whole training step, timed as the
engine runs it (bf16 autocast and channels_last on a GPU, the training step replayed from its CUDA graph; fp32
and channels_last on a CPU). Warm-up runs are excluded, a GPU is synchronised around every timed run, and the
median of the timed runs is kept.

Measurement goes through ``measure``: one process per device (in this process for a single device), each
timing one model at a time, every result written to the store as soon as it is taken (Ctrl-C keeps them).
"""

from __future__ import annotations

import multiprocessing as mp
import platform
import statistics
import time

import torch

from dse.errors import ParamError
from dse.models.anynet import AnyNet
from dse.models.arch import Arch
from dse.store.db import Store
from dse.tasks import task_of
from dse.train.engine import Step, capture
from dse.train.protocol import Protocol

MODES = ("infer", "train")


def device_name(device: str) -> str:
    """What a timing was taken on: the GPU's name, or the CPU's model and torch's thread count."""
    d = torch.device(device)
    if d.type == "cuda":
        return torch.cuda.get_device_name(d)
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    n = torch.get_num_threads()
    return f"{model or platform.processor() or platform.machine()} ({n} thread{'' if n == 1 else 's'})"


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(fn, dev, warmup: int, repeat: int) -> tuple[float, float]:
    """(median milliseconds of ``repeat`` runs of ``fn`` after ``warmup`` untimed ones, their spread: the
    interquartile range over the median)."""
    for _ in range(warmup):
        fn()
    _sync(dev)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        _sync(dev)
        ts.append((time.perf_counter() - t) * 1000.0)
    med = statistics.median(ts)
    q = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [med, med, med]
    return med, (q[2] - q[0]) / med if med > 0 else 0.0


def time_model(arch: Arch, regime: dict, device: str = "cpu", mode: str = "infer", batch: int = 64,
               repeat: int = 10, warmup: int = 3) -> tuple[float, float]:
    """(milliseconds per batch of ``batch`` images at the regime's resolution (stem, channels, classes), the
    spread of the repeats): ``infer`` one forward pass, ``train`` one whole training step of the engine. An SR or
    denoising network (a low-level regime) is timed on training patches (``_time_restorer``)."""
    if mode not in MODES:
        raise ParamError(f"{{mode}} {mode!r} unknown; allowed: infer, train, both", "mode")
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    if task_of(regime).low_level:
        return _time_restorer(arch, regime, dev, mode, batch=batch, repeat=repeat, warmup=warmup)
    h, c = int(regime["resolution"]), int(regime["in_channels"])
    torch.manual_seed(0)
    model = AnyNet(arch, regime["stem"], c, int(regime["num_classes"])).to(dev)
    model = model.to(memory_format=torch.channels_last)  # as the engine: faster on GPUs and with oneDNN
    if mode == "infer":
        model.eval()
        x = torch.randn(batch, c, h, h, device=dev).contiguous(memory_format=torch.channels_last)

        def run():
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
                model(x)
        return _timed(run, dev, warmup, repeat)
    step = Step(model, batch, (c, h, h), dev, Protocol(), amp=cuda, channels_last=True)
    with torch.no_grad():
        step.x.copy_(torch.randn(batch, c, h, h, device=dev))
        step.y.copy_(torch.randint(0, int(regime["num_classes"]), (batch,), device=dev))
        step.lr.fill_(0.0)  # the weights stay put: every timed step does the same work
    g = None
    if cuda:
        try:
            g = capture(step)
        except Exception:  # noqa: BLE001 - as the engine: eager when capture fails
            _sync(dev)
    if g is not None:
        return _timed(g.replay, dev, warmup, repeat)

    def eager():
        step.zero_grad()
        step()
    return _timed(eager, dev, warmup, repeat)


def _time_restorer(arch: Arch, regime: dict, dev, mode: str, *, batch: int, repeat: int, warmup: int):
    """time_model of an SR or denoising network: a batch of training patches (``DEFAULT_PATCH`` input pixels);
    ``train``: forward, L1, backward and an Adam step, as dse.train.restore trains it."""
    from dse.models.restore import build_restorer
    from dse.train.restore import DEFAULT_PATCH

    c, s, p = int(regime.get("in_channels", 3)), int(regime.get("scale") or 1), DEFAULT_PATCH
    torch.manual_seed(0)
    model = build_restorer(arch, regime).to(dev).to(memory_format=torch.channels_last)
    x = torch.rand(batch, c, p, p, device=dev).contiguous(memory_format=torch.channels_last)
    if mode == "infer":
        model.eval()

        def run():
            with torch.no_grad():
                model(x)
        return _timed(run, dev, warmup, repeat)
    y = torch.rand(batch, c, p * s, p * s, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=0.0)  # the weights stay put: every timed step does the same work

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.l1_loss(model(x), y).backward()
        opt.step()
    return _timed(step, dev, warmup, repeat)


def _work(store: Store, sweeps, device_label: str, modes, batch: int, force: bool) -> list[tuple]:
    """(sweep, idx, arch, regime, mode) still to measure on this device (the regime at the model's own
    resolution when its space samples one)."""
    out = []
    for s in sweeps:
        regime = store.sweep(s).regime
        have = set() if force else {(r.idx, r.mode) for r in store.speeds([s], device_label, None, batch)}
        for m in store.models(s):
            r = regime if m.setting("resolution") is None else {**regime, "resolution": m.setting("resolution")}
            out += [(s, m.idx, m.arch, r, mode) for mode in modes if (m.idx, mode) not in have]
    return out


def _measure_on(db, device: str, jobs, batch: int, repeat: int, events=None) -> int:
    """Time ``jobs`` one after another on ``device``, storing each result at once."""
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = False  # as the engine's workers: the kernels training runs with
    label = device_name(device)
    done = 0
    with Store(db, create=False) as store:
        for sweep, idx, arch, regime, mode in jobs:
            ms, spread = time_model(arch, regime, device, mode=mode, batch=batch, repeat=repeat)
            store.add_speed(sweep, idx, label, mode=mode, batch=batch, ms=ms, torch_version=torch.__version__,
                            spread=spread)
            done += 1
            if events:
                events(sweep, idx, mode, ms)
    return done


def _child(db, device, jobs, batch, repeat, q):
    try:
        _measure_on(db, device, jobs, batch=batch, repeat=repeat, events=lambda *a: q.put(("one", a)))
        q.put(("end", device))
    except KeyboardInterrupt:
        q.put(("end", device))
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
        q.put(("error", f"{device}: {type(e).__name__}: {e}"))


def measure(db, sweeps, devices: list[str], modes, batch: int = 64, repeat: int = 10, force: bool = False,
            events=None) -> dict:
    """Time every model of ``sweeps`` not yet measured on each device (all of them with ``force``).

    One device: in this process. Several (GPUs): one process per device, the models shared out, so two timings
    never run at once on one device. Returns {device label: models x modes to measure}."""
    labels = {d: device_name(d) for d in devices}
    with Store(db, create=False) as store:
        work = {d: _work(store, sweeps, labels[d], modes=modes, batch=batch, force=force) for d in devices}
    if len(devices) == 1:
        d = devices[0]
        _measure_on(db, d, work[d], batch=batch, repeat=repeat, events=events)
        return {labels[d]: len(work[d])}
    # several GPUs of one model share a name: split the work between them so each timing is taken once
    by_label = {}
    for d in devices:
        by_label.setdefault(labels[d], []).append(d)
    plan = {}
    for label, ds in by_label.items():
        jobs = work[ds[0]]
        for i, d in enumerate(ds):
            plan[d] = jobs[i::len(ds)]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(str(db), d, plan[d], batch, repeat, q), daemon=True) for d in devices]
    for p in procs:
        p.start()
    try:
        running, error = len(procs), None
        while running:
            kind, info = q.get()
            if kind == "one" and events:
                events(*info)
            elif kind == "end":
                running -= 1
            elif kind == "error":
                running -= 1
                error = error or info
        if error:
            raise RuntimeError(error)
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    return {label: len(work[ds[0]]) for label, ds in by_label.items()}


__all__ = ["MODES", "device_name", "measure", "time_model"]
