"""Train one model under a protocol on one device.

The dataset lives on the device as uint8 and is augmented there; the whole training step (forward,
loss, backward, SGD with Nesterov momentum and a device-resident learning rate) is one function over
static buffers, which on a GPU is captured once in a CUDA graph and replayed (eager fallback, logged).
Loss and error are accumulated on the device and read once per epoch: no host sync inside an epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from dse.models.anynet import AnyNet
from dse.models.arch import Arch, stem_for
from dse.models.quant import calibrate, quantise, quantised
from dse.store.records import EpochRow
from dse.train.data import Data
from dse.train.protocol import Protocol, parse_budget  # noqa: F401 (parse_budget re-exported)


@dataclass
class Outcome:
    """How a training run ended: status done or diverged, final and best test error (%), per-epoch rows."""

    status: str
    error: float | None
    best_error: float | None
    epochs: int
    seconds: float
    rows: list = field(default_factory=list)
    reason: str | None = None
    graph: bool = False


class DeviceData:
    """A dataset on a device: uint8 images, normalisation, and augmentation done there in bulk."""

    def __init__(self, data: Data, device, augment: bool = True):
        self.device = torch.device(device)
        self.data = data
        self.x_train = torch.from_numpy(np.ascontiguousarray(data.x_train)).to(self.device)
        self.y_train = torch.from_numpy(data.y_train).to(self.device)
        self.x_test = torch.from_numpy(np.ascontiguousarray(data.x_test)).to(self.device)
        self.y_test = torch.from_numpy(data.y_test).to(self.device)
        mean, std = data.mean_std()
        c = len(mean)
        self.scale = torch.tensor([1 / (255 * s) for s in std], device=self.device).view(1, c, 1, 1)
        self.shift = torch.tensor([m / s for m, s in zip(mean, std)], device=self.device).view(1, c, 1, 1)
        self.augment = augment
        # small images (the cifar stem's): pad-and-crop + flip; larger ones: random-resized-crop + flip
        self.small = stem_for(data.shape[1]) == "cifar"

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def _normalise(self, x):
        return x.float().mul_(self.scale).sub_(self.shift)

    def train_batch(self, idx, gen, size: int | None = None):
        """Augmented, normalised images ``idx``, resized on the device to ``size`` px when given."""
        x = self.x_train[idx]
        if self.augment:
            if self.small:
                x = self._normalise(pad_crop_flip(x, gen))
            else:
                x = random_resized_crop_flip(self._normalise(x), gen)
        else:
            x = self._normalise(x)
        return resize(x, size)

    def test_batches(self, bs, size: int | None = None):
        for i in range(0, len(self.y_test), bs):
            yield resize(self._normalise(self.x_test[i:i + bs]), size), self.y_test[i:i + bs]


def resize(x, size: int | None):
    """A float batch at ``size`` x ``size`` px (bilinear; antialiased when shrinking); unchanged when None or equal.
    Done after augmentation, so a model at its sampled resolution sees the same crops as one at the stored size."""
    if size is None or x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=size < min(x.shape[-2:]))


def pad_crop_flip(x, gen, pad: int = 4):
    """Per-sample random crop of the zero-padded image and horizontal flip, as one gather (uint8)."""
    n, c, h, w = x.shape
    dev = x.device
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n, 1), device=dev, generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), device=dev, generator=gen)
    rows = dy + torch.arange(h, device=dev)
    cols = dx + torch.arange(w, device=dev)
    flip = torch.rand(n, 1, device=dev, generator=gen) < 0.5
    cols = torch.where(flip, cols.flip(1), cols)
    ni = torch.arange(n, device=dev).view(n, 1, 1, 1)
    ci = torch.arange(c, device=dev).view(1, c, 1, 1)
    return xp[ni, ci, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def random_resized_crop_flip(x, gen, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """Random-resized-crop (area fraction and aspect ratio drawn per sample, crop clamped to the image)
    plus horizontal flip, for a float batch, with one affine grid sample."""
    n, _, h, w = x.shape
    dev = x.device
    area = torch.empty(n, device=dev).uniform_(scale[0], scale[1], generator=gen)
    logr = torch.empty(n, device=dev).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=gen)
    r = torch.exp(logr)
    sw = torch.sqrt(area * r).clamp(max=1.0)
    sh = torch.sqrt(area / r).clamp(max=1.0)
    cx = (torch.rand(n, device=dev, generator=gen) * 2 - 1) * (1 - sw)
    cy = (torch.rand(n, device=dev, generator=gen) * 2 - 1) * (1 - sh)
    flip = torch.where(torch.rand(n, device=dev, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = sw * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = sh, cy
    grid = F.affine_grid(theta, (n, x.shape[1], h, w), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


_ALLOCATOR_TUNED = False


def tune_allocator() -> bool:
    """Keep freed memory in the process (glibc's malloc, Linux): a training step on a CPU allocates and frees
    activation buffers of several MB; by default glibc returns them to the system and takes them back as fresh
    pages, ~23,000 page faults a step for a 6 MF model at 28 px, a quarter of its time (scripts/bench_train.py,
    overhead). Buffers up to 32 MB come from the heap and the heap is not trimmed. Once per process; False where
    there is no glibc (nothing changed)."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # malloc.h
    _ALLOCATOR_TUNED = bool(mallopt(M_MMAP_THRESHOLD, 32 << 20) and mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
                            and mallopt(M_TOP_PAD, 64 << 20))
    return _ALLOCATOR_TUNED


class Step:
    """The whole training step over static buffers x, y, lr: forward, loss, backward, SGD update, and
    device-side sums of loss and errors. Call it directly (eager) or capture it (CUDA graph)."""

    def __init__(self, model, batch, shape, device, p: Protocol, amp: bool, channels_last: bool):
        self.model, self.p, self.amp = model, p, amp
        self.params = [q for q in model.parameters() if q.requires_grad]
        self.bufs = [torch.zeros_like(q) for q in self.params]
        # weight decay applies to the network's parameters, not to a quantiser's log step (it would pull the step
        # towards 1): ``no_decay`` marks those (dse.models.quant)
        self.decayed = [i for i, q in enumerate(self.params) if not getattr(q, "no_decay", False)]
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.x = torch.zeros(batch, *shape, device=device).contiguous(memory_format=fmt)
        self.y = torch.zeros(batch, dtype=torch.long, device=device)
        self.lr = torch.zeros((), device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.err_sum = torch.zeros((), device=device)

    def zero_grad(self):
        for q in self.params:
            q.grad = None

    def __call__(self):
        with torch.autocast(self.x.device.type, dtype=torch.bfloat16, enabled=self.amp, cache_enabled=False):
            out = self.model(self.x)
            loss = F.cross_entropy(out.float(), self.y)
        loss.backward()
        with torch.no_grad():
            grads = [q.grad for q in self.params]
            p = self.p
            if p.weight_decay and len(self.decayed) == len(self.params):
                torch._foreach_add_(grads, self.params, alpha=p.weight_decay)
            elif p.weight_decay:
                torch._foreach_add_([grads[i] for i in self.decayed], [self.params[i] for i in self.decayed],
                                    alpha=p.weight_decay)
            torch._foreach_mul_(self.bufs, p.momentum)
            torch._foreach_add_(self.bufs, grads)
            if p.nesterov:
                torch._foreach_add_(grads, self.bufs, alpha=p.momentum)
                upd = grads
            else:
                upd = self.bufs
            torch._foreach_add_(self.params, torch._foreach_mul(upd, self.lr), alpha=-1.0)
            self.loss_sum += loss.detach()
            self.err_sum += (out.detach().argmax(1) != self.y).sum()

    def state(self) -> list:
        return list(self.model.state_dict().values()) + self.bufs


class _Emulated:
    """Stands in for a CUDA graph on a CPU (graph="emulate", for tests): replay runs the step eagerly."""

    def __init__(self, step: Step):
        self.step = step

    def replay(self):
        self.step.zero_grad()
        self.step()


def capture(step: Step, warmup: int = 3, emulate: bool = False):
    """Capture ``step`` in a CUDA graph (PyTorch's whole-network recipe); the warm-up steps' effect on
    weights, momentum and BN statistics is undone afterwards, so training starts from the same state.
    ``emulate`` runs the same warm-up and restore without CUDA and returns an eager stand-in."""
    snap = [t.detach().clone() for t in step.state()]
    sums = (step.loss_sum.clone(), step.err_sum.clone())
    if emulate:
        for _ in range(warmup):
            step.zero_grad()
            step()
        g = _Emulated(step)
    else:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(warmup):
                step.zero_grad()
                step()
        torch.cuda.current_stream().wait_stream(s)
        step.zero_grad()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step()
    with torch.no_grad():
        for t, v in zip(step.state(), snap):
            t.copy_(v)
        step.loss_sum.copy_(sums[0])
        step.err_sum.copy_(sums[1])
    return g


EVAL_BATCH = {"cuda": 1024, "cpu": 256}  # a CPU runs a 256-image batch ~1.8x faster than 1024 (cache-sized; bench)


@torch.no_grad()
def evaluate(model, dd: DeviceData, amp: bool, channels_last: bool, bs: int | None = None,
             size: int | None = None) -> float:
    """Top-1 test error (%) at ``size`` px (default: the stored size), batched on the device (``EVAL_BATCH``),
    one host sync."""
    bs = bs or EVAL_BATCH.get(dd.device.type, 1024)
    model.eval()
    wrong = torch.zeros((), device=dd.device)
    for x, y in dd.test_batches(bs, size):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dd.device.type, dtype=torch.bfloat16, enabled=amp):
            wrong += (model(x).argmax(1) != y).sum()
    model.train()
    return 100.0 * float(wrong) / len(dd.y_test)


def build_model(arch: Arch, data: Data, seed: int):
    """The AnyNet for this data: the stem its stored image size calls for (stem_for; the same for every model of a
    sweep, whatever resolution a model is trained at), channels and classes from the data."""
    torch.manual_seed(seed)
    c, h, _ = data.shape
    return AnyNet(arch, stem_for(h), c, data.num_classes)


def train_model(arch: Arch, dd: DeviceData, p: Protocol, seed: int = 0, graph: str = "auto",
                on_epoch=None, resume: dict | None = None, log=print, on_step=None,
                resolution: int | None = None, precision=None) -> Outcome:
    """Train ``arch`` on ``dd`` under ``p`` (a model's own settings already applied: ``Protocol.for_model``),
    at ``resolution`` px (default: the stored size; images are resized on the device, train and test).
    ``on_epoch(row, state_fn)`` is called after each epoch (it may raise to abort); ``resume`` is a checkpoint
    from ``state_fn``; ``on_step(fraction of the epoch)`` every 32 steps (no host sync). graph: auto|on|off, or
    emulate (the graph path without CUDA). ``precision``: the model's bit widths (dse.models.precision.Precision;
    quantisation-aware training below 32 bits, dse.models.quant)."""
    dev = dd.device
    cuda = dev.type == "cuda"
    if not cuda:
        tune_allocator()
    model = build_model(arch, dd.data, seed)
    if precision is not None and precision.quantised:
        model = quantise(model, precision.bits_w, precision.bits_a, precision.edge_bits)
    model = model.to(dev)
    channels_last = True  # faster on GPUs (grouped convs) and, with oneDNN, on CPUs too
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    batch, spe, total = p.schedule(dd.n_train)
    epochs = math.ceil(total / spe)
    c, h, _ = dd.data.shape
    size = None if resolution is None or int(resolution) == h else int(resolution)
    step = Step(model, batch, (c, size or h, size or h), dev, p, amp=cuda, channels_last=channels_last)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    if quantised(model):  # the step sizes from a batch of its own generator (the training stream is untouched)
        x0 = dd.train_batch(torch.arange(min(batch, dd.n_train), device=dev), torch.Generator(device=dev).manual_seed(
            seed + 1), size)
        calibrate(model, x0.contiguous(memory_format=torch.channels_last) if channels_last else x0)
    rows, start = [], 0
    if resume:
        with torch.no_grad():
            for t, v in zip(step.state(), resume["state"]):
                t.copy_(v)
        gen.set_state(resume["gen"])
        rows = [EpochRow(**r) for r in resume["rows"]]
        start = resume["epoch"]
    g = None
    if graph == "emulate":
        g = capture(step, emulate=True)
    elif cuda and graph != "off":
        try:
            g = capture(step)
        except Exception as e:  # noqa: BLE001 - any capture failure falls back to eager, logged
            if graph == "on":
                raise
            log(f"CUDA graph capture failed ({type(e).__name__}: {e}); training eagerly")
            torch.cuda.synchronize()
    t_run = time.perf_counter()
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(dd.n_train, device=dev, generator=gen)
        n_steps = min(spe, total - epoch * spe)
        step.loss_sum.zero_()
        step.err_sum.zero_()
        lr = 0.0
        for i in range(n_steps):
            lr = p.lr_at(epoch * spe + i, total)
            idx = perm[i * batch:(i + 1) * batch]
            step.x.copy_(dd.train_batch(idx, gen, size))
            step.y.copy_(dd.y_train[idx])
            step.lr.fill_(lr)
            if g is not None:
                g.replay()
            else:
                step.zero_grad()
                step()
            if on_step is not None and i % 32 == 31:
                on_step((i + 1) / n_steps)
        loss = float(step.loss_sum) / n_steps
        t_train = time.perf_counter() - t0
        if not math.isfinite(loss):  # the best epoch so far (resumed ones included) is kept
            best = min((r.test_error for r in rows), default=None)
            return Outcome("diverged", None, best, epochs=epoch, seconds=time.perf_counter() - t_run, rows=rows,
                           reason=f"training loss became {loss} in epoch {epoch + 1}", graph=isinstance(g,
                                                                                                        torch.cuda.CUDAGraph))
        train_err = 100.0 * float(step.err_sum) / (n_steps * batch)
        test_err = evaluate(model, dd, cuda, channels_last, size=size)
        row = EpochRow(epoch + 1, loss, train_err, test_error=test_err, lr=lr, seconds=time.perf_counter() - t0,
                       images_per_s=n_steps * batch / max(t_train, 1e-9))
        rows.append(row)
        if on_epoch is not None:
            on_epoch(row, lambda e=epoch + 1: {"epoch": e, "state": [t.detach().cpu() for t in step.state()],
                                               "gen": gen.get_state(), "rows": [asdict(r) for r in rows]})
    errs = [r.test_error for r in rows]
    return Outcome("done", errs[-1], min(errs), epochs=len(rows), seconds=time.perf_counter() - t_run, rows=rows,
                   reason=None,
                   graph=isinstance(g, torch.cuda.CUDAGraph))
