"""Training a low-level vision network (super-resolution or denoising) on pairs made from clean images.

The pairs: SR's input is the clean image downscaled by ``scale`` with bicubic interpolation (torch's, with
antialiasing: close to MATLAB's ``imresize``, which the SR literature uses, but not equal to it to the last grey
level); denoising's is the clean image plus white Gaussian noise of ``sigma`` (0-255 scale), seeded. Training cuts
random patches each step (``patch`` input pixels; flips and 90-degree rotations), minimises L1 with Adam and a
half-period cosine schedule, and evaluates on whole validation images with ``dse.train.metrics.psnr`` (Y channel,
``scale`` pixels shaved at each border; denoising: no shave). One readable step; the data lives on the device.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np

from dse.errors import DseError, ParamError
from dse.tasks import SR_SCALES, scales_text
from dse.train.metrics import psnr


def _torch():
    import torch

    return torch


def bicubic_down(hr, scale: int):
    """Images (N x C x H x W, float in [0, 1], H and W multiples of ``scale``) downscaled by ``scale``: bicubic with
    antialiasing (torch), clipped to [0, 1]."""
    from torch.nn import functional as F

    h, w = hr.shape[-2:]
    return F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                         align_corners=False).clamp_(0, 1)


def crop_to(images, scale: int) -> list:
    """uint8 images (N x C x H x W, or a list of C x H x W of their own sizes) as a list, each cropped so that H
    and W are multiples of ``scale`` (the SR pairs' rule)."""
    return [x[..., : x.shape[-2] - x.shape[-2] % scale, : x.shape[-1] - x.shape[-1] % scale] for x in images]


@dataclass
class Pairs:
    """Clean training and validation images (uint8, N x C x H x W, or lists of C x H x W photographs of their own
    sizes: dse.train.photos) and the degradation that makes the inputs."""

    train: object
    val: object
    task: str = "sr"
    scale: int = 2
    sigma: float = 25.0

    def __post_init__(self):
        if self.task not in ("sr", "denoise"):
            raise ParamError(f"{{task}} {self.task!r} unknown here; allowed: sr, denoise", "task")
        if self.task == "sr" and self.scale not in SR_SCALES:
            raise ParamError(f"{{scale}} must be {scales_text()}, got {self.scale!r}", "scale")
        if self.task == "denoise":
            self.scale = 1
        self.train, self.val = crop_to(self.train, self.scale), crop_to(self.val, self.scale)
        if not self.train or not self.val:
            raise ParamError("{images}: give at least one training and one validation image", "images")
        if len({x.shape[0] for x in [*self.train, *self.val]}) > 1:
            raise ParamError("{images}: the images have different numbers of channels (grey and colour mixed)",
                             "images")

    def inputs(self, clean, seed: int = 0):
        """The degraded inputs of clean images (float in [0, 1], on their device)."""
        torch = _torch()
        if self.task == "sr":
            return bicubic_down(clean, self.scale)
        g = torch.Generator(device="cpu").manual_seed(seed)
        noise = torch.randn(clean.shape, generator=g).to(clean.device) * (self.sigma / 255.0)
        return clean + noise  # not clipped: the standard AWGN benchmark


@dataclass
class RestoreResult:
    """What one training run gave: PSNR (dB) on the validation images per epoch-like evaluation, the input's own
    PSNR (bicubic or the noisy image: the baseline a network must beat), loss, steps and seconds."""

    psnr: float
    baseline_psnr: float
    psnrs: list
    loss: float
    steps: int
    seconds: float
    patches_per_s: float


def _patches(torch, clean: list, pairs: Pairs, patch: int, *, batch: int, gen):
    """A batch of random clean patches (``patch`` input pixels times the scale) of random training images (as the
    images are: uint8 here), flipped and rotated at random."""
    s = pairs.scale
    hp = patch * s
    out = []
    for a in torch.randint(0, len(clean), (batch,), generator=gen).tolist():
        _, h, w = clean[a].shape
        y = int(torch.randint(0, (h - hp) // s + 1, (1,), generator=gen)) * s
        x = int(torch.randint(0, (w - hp) // s + 1, (1,), generator=gen)) * s
        out.append(clean[a][:, y:y + hp, x:x + hp])
    out = torch.stack(out)
    if torch.rand(1, generator=gen).item() < 0.5:
        out = out.flip(-1)
    if torch.rand(1, generator=gen).item() < 0.5:
        out = out.flip(-2)
    if torch.rand(1, generator=gen).item() < 0.5:
        out = out.transpose(-1, -2)
    return out


def evaluate(model, pairs: Pairs, device: str = "cpu", seed: int = 1) -> tuple[float, float]:
    """(mean PSNR of the model's outputs, mean PSNR of the inputs upscaled bicubically or of the noisy images: the
    baseline a network must beat) over the validation images, Y channel, ``scale`` pixels shaved (denoising: none);
    ``model`` None: the baseline only (NaN for the model)."""
    torch = _torch()
    from torch.nn import functional as F

    shave = pairs.scale if pairs.scale > 1 else 0
    groups = {}  # images of one size are run together, 16 at a time
    for x in pairs.val:
        groups.setdefault(x.shape, []).append(x)
    got, ref = [], []
    if model is not None:
        model.eval()
    for g, same in enumerate(groups.values()):
        clean = torch.from_numpy(np.stack(same)).to(device).float().div_(255)
        inp = pairs.inputs(clean, seed + g)
        with torch.no_grad():
            if model is not None:
                out = torch.cat([model(inp[i:i + 16]) for i in range(0, len(inp), 16)])
                got += list(np.atleast_1d(psnr(out.clamp(0, 1).cpu().numpy(), clean.cpu().numpy(), shave)))
            base = inp if pairs.scale == 1 else F.interpolate(inp, size=clean.shape[-2:], mode="bicubic",
                                                              align_corners=False)
        ref += list(np.atleast_1d(psnr(base.clamp(0, 1).cpu().numpy(), clean.cpu().numpy(), shave)))
    return float(np.mean(got)) if got else float("nan"), float(np.mean(ref))


EPOCH_STEPS = 100  # a low-level task's epoch: 100 steps of patches (EDSR's code evaluates every 1,000)


class RestoreStep:
    """The whole training step over static buffers ``x`` (the degraded patches), ``y`` (the clean ones): forward,
    L1, backward, Adam update, and device-side sums of the loss and the squared error. Called directly (eager) or
    captured once in a CUDA graph and replayed: each step copies its patches into the buffers, whose addresses
    never change (the classification engine's Step, for a restorer and Adam)."""

    def __init__(self, model, opt, x_shape, y_shape, device):
        torch = _torch()
        self.model, self.opt = model, opt
        self.x = torch.zeros(x_shape, device=device)
        self.y = torch.zeros(y_shape, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.mse_sum = torch.zeros((), device=device)

    def __call__(self):
        torch = _torch()
        out = self.model(self.x)
        loss = torch.nn.functional.l1_loss(out, self.y)
        loss.backward()
        self.opt.step()
        with torch.no_grad():  # summed on the device: one host sync an epoch
            self.loss_sum += loss.detach()
            self.mse_sum += ((out.detach().clamp(0, 1) - self.y) ** 2).mean()

    def eager(self):
        self.opt.zero_grad(set_to_none=True)
        self()


@dataclass
class Hooks:
    """What a low-level run calls as it goes: ``on_epoch(row, state_fn)`` after each evaluation (``state_fn()`` a
    checkpoint ``resume`` takes), ``on_step(fraction of the epoch)`` every 32 steps, ``log(message)``."""

    on_epoch: object = None
    on_step: object = None
    log: object = print


GRAPH_WARMUP = 3  # eager steps (on a side stream) before the capture, as PyTorch's whole-network recipe asks


def _capture(step: RestoreStep):
    """A CUDA graph of ``step`` (its warm-up steps were real training steps, run eagerly on a side stream)."""
    torch = _torch()
    step.opt.zero_grad(set_to_none=True)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        step()
    return g


def fit_restorer(model, pairs: Pairs, *, steps: int, batch: int, patch: int, adam: dict, seed: int = 0,
                 device: str = "cpu", epoch_steps: int = EPOCH_STEPS, resume: dict | None = None,
                 hooks: Hooks | None = None, graph: str = "off"):
    """Train ``model`` (input -> restored image) for ``steps`` Adam steps of L1 on random patches (``patch`` input
    pixels; flips and 90-degree rotations) with a half-period cosine schedule to 0 (``adam``: lr, and betas and
    weight_decay when not Adam's defaults); after every ``epoch_steps``
    steps (and at the end) evaluate PSNR on the validation images and call ``hooks.on_epoch(row, state_fn)`` (row: dict
    of epoch, loss, train_psnr, psnr, baseline_psnr, lr, seconds, patches_per_s; ``state_fn()`` a checkpoint that
    ``resume`` takes). Returns the rows. A non-finite loss stops it: the last row's ``diverged`` is True.
    ``graph``: off (eager), auto|on (on a CUDA device: the step captured in a CUDA graph after GRAPH_WARMUP eager
    steps, with Adam capturable and its lr a device tensor; eager where capture fails, said through ``log``,
    unless on), or emulate (without CUDA: the same static-buffer step, eagerly; every path uses it)."""
    torch = _torch()
    hooks = hooks or Hooks()
    on_epoch, on_step = hooks.on_epoch, hooks.on_step
    if not isinstance(steps, int) or steps < 1:
        raise ParamError(f"{{steps}} must be an integer >= 1, got {steps!r}", "steps")
    check_patch(min(min(x.shape[-2:]) for x in pairs.train), patch, pairs.scale)
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    clean = [torch.from_numpy(np.ascontiguousarray(x)).to(device) for x in pairs.train]  # uint8: a quarter of float
    model.to(device).train()
    _calibrate(torch, model, pairs, clean, (patch, batch, seed))
    lr = adam["lr"]
    cuda = torch.device(device).type == "cuda"
    capture = cuda and graph in ("auto", "on")  # (a tensor lr and a capturable Adam: what a graph can replay)
    opt = torch.optim.Adam(model.parameters(), **{**adam, "lr": torch.tensor(float(lr), device=device)},
                           capturable=True) if capture else torch.optim.Adam(model.parameters(), **adam)
    rows, start = [], 0
    if resume:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["opt"])
        for group in opt.param_groups:  # a checkpoint of the other path (a GPU's, resumed on a CPU, or back)
            group["capturable"] = capture
            group["lr"] = torch.tensor(float(group["lr"]), device=device) if capture else float(group["lr"])
        gen.set_state(resume["gen"])
        rows, start = list(resume["rows"]), int(resume["step"])
    s = pairs.scale
    st = RestoreStep(model, opt, (batch, clean[0].shape[0], patch, patch), (batch, clean[0].shape[0], patch * s,
                                                                             patch * s), device)
    side = torch.cuda.Stream() if capture else None
    g, eager_steps = None, 0
    epochs = -(-steps // epoch_steps)
    for epoch in range(start // epoch_steps, epochs):
        t0, first = time.perf_counter(), epoch * epoch_steps
        last = min(steps, first + epoch_steps)
        st.loss_sum.zero_()
        st.mse_sum.zero_()
        lr_now = lr
        for step in range(first, last):
            lr_now = 0.5 * lr * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                if capture:
                    group["lr"].fill_(lr_now)
                else:
                    group["lr"] = lr_now
            target = _patches(torch, clean, pairs, patch, batch=batch, gen=gen).float().div_(255)
            st.x.copy_(pairs.inputs(target, seed * 1_000_003 + step + 1))
            st.y.copy_(target)
            if g is None and side is not None and eager_steps >= GRAPH_WARMUP:
                torch.cuda.current_stream().wait_stream(side)
                try:
                    g = _capture(st)
                except Exception as e:  # noqa: BLE001 - any capture failure falls back to eager, logged
                    if graph == "on":
                        raise
                    side = None  # (the capturable Adam and its tensor lr work eagerly too)
                    hooks.log(f"CUDA graph capture failed ({type(e).__name__}: {e}); training eagerly")
                    torch.cuda.synchronize()
            if g is not None:
                g.replay()
            elif side is not None:  # the warm-up steps: real steps, on a side stream (the capture recipe)
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    st.eager()
                eager_steps += 1
            else:
                st.eager()
            if on_step is not None and (step - first) % 32 == 31:
                on_step((step - first + 1) / (last - first))
        if side is not None:
            torch.cuda.current_stream().wait_stream(side)
        loss_sum, mse_sum = st.loss_sum, st.mse_sum
        n = last - first
        loss = float(loss_sum) / n
        seconds = time.perf_counter() - t0
        if not math.isfinite(loss):
            rows.append({"epoch": epoch + 1, "diverged": True, "reason": f"training loss became {loss} in epoch "
                                                                           f"{epoch + 1}"})
            return rows
        got, base = evaluate(model, pairs, device)
        model.train()
        mse = max(float(mse_sum) / n, 1e-12)
        row = {"epoch": epoch + 1, "loss": loss, "train_psnr": 10 * math.log10(1 / mse), "psnr": got,
               "baseline_psnr": base, "lr": lr_now, "seconds": time.perf_counter() - t0,
               "patches_per_s": n * batch / max(seconds, 1e-9)}
        rows.append(row)
        if on_epoch is not None:
            # copies: the live tensors change in the next epoch, a checkpoint must not
            on_epoch(row, lambda s=last: {"step": s, "model": {k: v.detach().cpu().clone() for k, v in
                                                               model.state_dict().items()},
                                          "opt": copy.deepcopy(opt.state_dict()), "gen": gen.get_state(),
                                          "rows": copy.deepcopy(rows)})
    return rows


def _calibrate(torch, model, pairs: Pairs, clean, cut) -> None:
    """A quantised model's step sizes from one batch of patches cut with a generator of its own (the training
    stream is untouched); nothing for a float model."""
    from dse.models.quant import calibrate, quantised

    if quantised(model):
        patch, batch, seed = cut
        gen = torch.Generator(device="cpu").manual_seed(seed + 1)
        target = _patches(torch, clean, pairs, patch, batch=batch, gen=gen).float().div_(255)
        calibrate(model, pairs.inputs(target, seed))


def check_patch(smallest: int, patch: int, scale: int, param: str = "patch", what: str = "") -> None:
    """A training patch of ``patch`` input pixels (``scale`` times that in the clean image) must fit in the smallest
    training image: a ParamError naming ``param`` and the largest patch that fits otherwise."""
    if smallest < patch * scale:
        raise ParamError(f"{{{param}}}{what} {patch} px" + (f" x scale {scale} = {patch * scale} px"
                                                           if scale > 1 else "")
                         + f" is larger than the smallest training image ({smallest} px on a side); use "
                           f"{{{param}}} {smallest // scale} or less", param)


def train_restorer(model, pairs: Pairs, steps: int = 200, batch: int = 16, patch: int = 24, lr: float = 1e-3,
                   seed: int = 0, device: str = "cpu", evals: int = 1) -> RestoreResult:
    """Train ``model`` (input -> restored image) for ``steps`` Adam steps of L1 on random patches with a
    half-period cosine schedule to 0, evaluating ``evals`` times (the last at the end): ``fit_restorer``."""
    t0 = time.perf_counter()
    rows = fit_restorer(model, pairs, steps=steps, batch=batch, patch=patch, adam={"lr": lr}, seed=seed, device=device,
                        epoch_steps=-(-steps // evals) if isinstance(steps, int) and steps > 0 else 1)
    seconds = time.perf_counter() - t0
    ok = [r for r in rows if not r.get("diverged")]
    return RestoreResult(ok[-1]["psnr"], ok[-1]["baseline_psnr"], [r["psnr"] for r in ok], loss=ok[-1]["loss"],
                         steps=steps, seconds=seconds, patches_per_s=steps * batch / seconds)


# ---- a sweep's low-level training: data, one model, as the worker runs it ----
LOW_LEVEL_DATASETS = ("photos", "fashion-mnist", "synthetic")  # what a low-level task trains on (clean images)
DEFAULT_PATCH = 48  # input pixels of a training patch (EDSR's 48 px low-resolution patches)
DEFAULT_VAL = 500   # validation images of a dataset of many (Fashion-MNIST): PSNR is a mean, 500 are plenty


@dataclass
class CleanImages:
    """A low-level task's data: clean uint8 C x H x W images to train and to validate on (their own sizes), and
    where they came from."""

    name: str
    train: list
    val: list
    synthetic: bool = False

    @property
    def channels(self) -> int:
        return int(self.train[0].shape[0])

    @property
    def smallest(self) -> int:
        return min(min(x.shape[-2:]) for x in self.train)

    def for_channels(self, channels: int) -> "CleanImages":
        """These images for a network of ``channels`` inputs: as they are, or colour photographs as their BT.601
        luma Y (16..235, rounded to 8 bits: the Y channel FSRCNN and DnCNN-style grey networks train and are
        scored on, as dse.train.metrics.psnr scores colour images); grey images for a colour network are refused."""
        if channels == self.channels:
            return self
        if (self.channels, channels) != (3, 1):
            raise ParamError(f"{{dataset}} {self.name} has {self.channels}-channel images and the networks take "
                             f"{channels} (the sweep's in_channels)", "dataset")
        cached = self.__dict__.setdefault("_luma", {})
        if "y" not in cached:
            from dse.train.metrics import rgb_to_y

            y = [[np.round(rgb_to_y(x)).astype(np.uint8)[None] for x in part] for part in (self.train, self.val)]
            cached["y"] = CleanImages(f"{self.name} (Y channel)", y[0], y[1], self.synthetic)
        return cached["y"]


def load_clean(dataset: str, data_dir=None, *, train_size=None, test_size=None, seed: int = 0,
               resolution: int | None = None) -> CleanImages:
    """The clean images of ``dataset`` for SR or denoising: ``photos`` (a folder of 8-bit RGB photographs, with
    train/ and val/ subfolders or split one in five by ``seed``; default: Debian's mate-backgrounds nature
    photographs to train, scikit-image's bundled ones to validate), ``fashion-mnist`` (grey 28 px) or
    ``synthetic`` (random images of ``resolution`` px, for tests). ``train_size``/``test_size``: a seeded subset."""
    from pathlib import Path

    from dse.train import data as D
    from dse.train.photos import MATE_NATURE, load_photos, skimage_photos

    if dataset not in LOW_LEVEL_DATASETS:
        raise ParamError(f"{{dataset}} {dataset} is a classification dataset; super-resolution and denoising train "
                         f"on clean images: {', '.join(LOW_LEVEL_DATASETS)}", "dataset")
    if dataset == "photos":
        if data_dir is None:
            if not MATE_NATURE.is_dir():
                raise DseError(f"{MATE_NATURE}: the default training photographs are not installed: apt-get install "
                               f"mate-backgrounds (Debian, about 47 MB), or give --data-dir FOLDER of photographs")
            train, val = load_photos(MATE_NATURE, downscale=2), skimage_photos()
        else:
            root = Path(data_dir)
            if (root / "train").is_dir() and (root / "val").is_dir():
                train, val = load_photos(root / "train"), load_photos(root / "val", min_side=1)
            else:
                every = load_photos(root)
                order = np.random.default_rng(seed).permutation(len(every))
                k = max(1, len(every) // 5)
                val, train = [every[i] for i in sorted(order[:k])], [every[i] for i in sorted(order[k:])]
        synthetic = False
    else:
        if dataset == "synthetic" and data_dir is not None:
            raise ParamError("{data_dir} does not apply to synthetic data, which is generated", "data_dir")
        if dataset == "synthetic":
            h = resolution or 32
            d = D.synthetic((3, h, h), train_size or 64, test_size or 8, seed=seed)
        else:
            d = D.load(dataset, data_dir)
            d = d.subset(train_size, test_size or min(DEFAULT_VAL, len(d.y_test)), seed)
        train, val, synthetic = list(d.x_train), list(d.x_test), d.synthetic
        train_size = test_size = None  # already the subset
    rng = np.random.default_rng(seed)
    for size, what, have in ((train_size, "train_size", train), (test_size, "test_size", val)):
        if size is not None and not 1 <= size <= len(have):
            raise ParamError(f"{{{what}}} {size} is out of range: {dataset} has {len(have)} image(s) there", what)
    if train_size:
        train = [train[i] for i in sorted(rng.permutation(len(train))[:train_size])]
    if test_size:
        val = [val[i] for i in sorted(rng.permutation(len(val))[:test_size])]
    return CleanImages(dataset, train, val, synthetic)


def patch_of(resolution: int | None, clean: CleanImages, scale: int) -> int:
    """The training patch (input pixels): the protocol's --resolution, else 48 or what the smallest image holds."""
    return int(resolution) if resolution else max(1, min(DEFAULT_PATCH, clean.smallest // scale))


def train_restore_model(arch, regime: dict, clean: CleanImages, p, *, seed: int = 0, device: str = "cpu",
                        on_epoch=None, resume: dict | None = None, on_step=None, graph: str = "auto", log=print,
                        precision=None):
    """Train one network of a low-level sweep (``arch`` its body, ``regime`` the sweep's: task, scale, sigma,
    in_channels) under protocol ``p`` (Adam with lr, betas (momentum, 0.999), weight decay; a budget in epochs of
    ``EPOCH_STEPS`` steps or in steps; ``p.resolution`` the patch), the upscaled input (or the noisy one) added
    at the end; ``precision`` its bit widths (quantisation-aware below 32: dse.models.quant). Returns an engine
    Outcome whose errors are PSNRs in dB (higher is better)."""
    torch = _torch()
    from dse.models.restore import build_restorer
    from dse.store.records import EpochRow
    from dse.train.engine import Outcome

    task, scale = regime.get("task"), int(regime.get("scale") or 1)
    clean = clean.for_channels(int(regime.get("in_channels", 3)))
    pairs = Pairs(clean.train, clean.val, task, scale=scale, sigma=float(regime.get("sigma") or 0))
    torch.manual_seed(seed)
    model = build_restorer(arch, regime)
    if precision is not None and precision.quantised:
        from dse.models.quant import quantise

        model = quantise(model, precision.bits_w, precision.bits_a, precision.edge_bits)
    steps = restore_steps(p)
    rows = []

    def epoch(row, state_fn):
        r = EpochRow(row["epoch"], row["loss"], row["train_psnr"], test_error=row["psnr"], lr=row["lr"],
                     seconds=row["seconds"], images_per_s=row["patches_per_s"])
        rows.append(r)
        if on_epoch is not None:
            on_epoch(r, lambda: {**state_fn(), "epoch": row["epoch"]})

    t0 = time.perf_counter()
    got = fit_restorer(model, pairs, steps=steps, batch=p.batch_size, patch=patch_of(p.resolution, clean, pairs.scale),
                       adam={"lr": p.lr, "betas": (p.momentum, 0.999), "weight_decay": p.weight_decay}, seed=seed,
                       device=device, resume=resume, hooks=Hooks(epoch, on_step, log), graph=graph)
    ok = [r["psnr"] for r in got if not r.get("diverged")]
    if got and got[-1].get("diverged"):
        return Outcome("diverged", None, max(ok, default=None), epochs=len(ok), seconds=time.perf_counter() - t0,
                       rows=rows, reason=got[-1]["reason"])
    return Outcome("done", ok[-1], max(ok), epochs=len(ok), seconds=time.perf_counter() - t0, rows=rows)


def baseline_psnr(clean: CleanImages, regime: dict) -> float:
    """The PSNR of a low-level sweep's degraded validation inputs (upscaled bicubically for SR; the noisy images for
    denoising): what its networks must beat."""
    clean = clean.for_channels(int(regime.get("in_channels", 3)))
    pairs = Pairs(clean.train, clean.val, regime["task"], scale=int(regime.get("scale") or 1),
                  sigma=float(regime.get("sigma") or 0))
    return evaluate(None, pairs)[1]


def clean_for(p, data_dir=None) -> CleanImages:
    """The clean images protocol ``p`` names (its dataset, subset and seed)."""
    return load_clean(p.dataset, data_dir, train_size=p.train_size, test_size=p.test_size, seed=p.subset_seed,
                      resolution=p.resolution if p.dataset == "synthetic" else None)


def restore_steps(p) -> int:
    """Steps of a low-level run under ``p``: its budget in steps, or its epochs x EPOCH_STEPS."""
    from dse.validate import parse_budget

    n, unit = parse_budget(p.budget)
    return n * EPOCH_STEPS if unit == "ep" else n


def restore_epochs(p) -> int:
    """Epochs (evaluations) of a low-level run under ``p``: its steps / EPOCH_STEPS, rounded up."""
    return -(-restore_steps(p) // EPOCH_STEPS)
