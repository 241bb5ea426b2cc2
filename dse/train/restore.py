"""Training a low-level vision network (super-resolution or denoising) on pairs made from clean images.

The pairs: SR's input is the clean image downscaled by ``scale`` with bicubic interpolation (torch's, with
antialiasing: close to MATLAB's ``imresize``, which the SR literature uses, but not equal to it to the last grey
level); denoising's is the clean image plus white Gaussian noise of ``sigma`` (0-255 scale), seeded. Training cuts
random patches each step (``patch`` input pixels; flips and 90-degree rotations), minimises L1 with Adam and a
half-period cosine schedule, and evaluates on whole validation images with ``dse.train.metrics.psnr`` (Y channel,
``scale`` pixels shaved at each border; denoising: no shave). One readable step; the data lives on the device.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from dse.errors import ParamError
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
        if self.task == "sr" and self.scale not in (2, 3, 4):
            raise ParamError(f"{{scale}} must be 2, 3 or 4, got {self.scale!r}", "scale")
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
    """A batch of random clean patches (``patch`` input pixels times the scale) of random training images,
    flipped and rotated at random."""
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
    """(mean PSNR of the model's outputs, mean PSNR of the inputs upscaled bicubically or of the noisy images)
    over the validation images, Y channel, ``scale`` pixels shaved (denoising: none)."""
    torch = _torch()
    from torch.nn import functional as F

    shave = pairs.scale if pairs.scale > 1 else 0
    groups = {}  # images of one size are run together, 16 at a time
    for x in pairs.val:
        groups.setdefault(x.shape, []).append(x)
    got, ref = [], []
    model.eval()
    for g, same in enumerate(groups.values()):
        clean = torch.from_numpy(np.stack(same)).to(device).float().div_(255)
        inp = pairs.inputs(clean, seed + g)
        with torch.no_grad():
            out = torch.cat([model(inp[i:i + 16]) for i in range(0, len(inp), 16)])
            base = inp if pairs.scale == 1 else F.interpolate(inp, size=clean.shape[-2:], mode="bicubic",
                                                              align_corners=False)
        got += list(np.atleast_1d(psnr(out.clamp(0, 1).cpu().numpy(), clean.cpu().numpy(), shave)))
        ref += list(np.atleast_1d(psnr(base.clamp(0, 1).cpu().numpy(), clean.cpu().numpy(), shave)))
    return float(np.mean(got)), float(np.mean(ref))


def train_restorer(model, pairs: Pairs, steps: int = 200, batch: int = 16, patch: int = 24, lr: float = 1e-3,
                   seed: int = 0, device: str = "cpu", evals: int = 1) -> RestoreResult:
    """Train ``model`` (input -> restored image) for ``steps`` Adam steps of L1 on random patches with a
    half-period cosine schedule to 0, evaluating ``evals`` times (the last at the end)."""
    torch = _torch()
    if not isinstance(steps, int) or steps < 1:
        raise ParamError(f"{{steps}} must be an integer >= 1, got {steps!r}", "steps")
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    smallest = min(min(x.shape[-2:]) for x in pairs.train)
    if smallest < patch * pairs.scale:
        raise ParamError(f"{{patch}} {patch} px x scale {pairs.scale} = {patch * pairs.scale} px is larger than the "
                         f"smallest training image ({smallest} px on a side); use a smaller patch", "patch")
    clean = [torch.from_numpy(np.ascontiguousarray(x)).to(device).float().div_(255) for x in pairs.train]
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / steps)))
    psnrs, t0, loss = [], time.perf_counter(), float("nan")
    marks = {round(steps * (k + 1) / evals) for k in range(evals)}
    base = float("nan")
    for step in range(1, steps + 1):
        target = _patches(torch, clean, pairs, patch, batch=batch, gen=gen)
        inp = pairs.inputs(target, seed * 1_000_003 + step)
        loss_t = torch.nn.functional.l1_loss(model(inp), target)
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        opt.step()
        sched.step()
        if step in marks:
            loss = float(loss_t.detach())
            got, base = evaluate(model, pairs, device)
            psnrs.append(got)
            model.train()
    seconds = time.perf_counter() - t0
    return RestoreResult(psnrs[-1], base, psnrs, loss=loss, steps=steps, seconds=seconds,
                         patches_per_s=steps * batch / seconds)
