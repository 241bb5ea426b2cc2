"""Quantisation-aware training: fake-quantised conv and linear layers, the same for every model.

Weights: per output channel, symmetric, signed (b bits: -2^(b-1)+1 .. 2^(b-1)-1), with a learned step size
(LSQ, Esser et al. 2020). Activations (each conv's and linear's input): one learned step size per layer, unsigned
(0 .. 2^b-1) when the calibration batch has no negative input (after a ReLU), else signed. Each step starts at
the value with the least rounding error on one calibration batch (``calibrate``) and is then learned, as its
logarithm (scale-free updates; no weight decay). Rounding passes its gradient straight through (STE); a step
size's gradient is scaled by 1/sqrt(N x Qmax) (LSQ). The first and last layers keep ``edge_bits``
(dse.models.precision). 32 bits leave a tensor float.

Written on torch's own operators (no library): Brevitas, the library for this, pins torch versions of its own,
and ``torch.ao.quantization`` is deprecated. The forward and backward are torch's fused learnable fake-quantise
kernels (ATen operators, not torch.ao), checked against ``lsq``, the same maths in plain autograd.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from dse.models.precision import EDGE_BITS, FLOAT_BITS, edge_bits_of


# torch's fused learnable fake-quantise kernels (ATen operators, CPU and CUDA; the same maths as ``lsq``, which
# stays as their reference and the fallback where a torch build lacks them)
FUSED = hasattr(torch, "_fake_quantize_learnable_per_tensor_affine") and hasattr(
    torch, "_fake_quantize_learnable_per_channel_affine")


def _grad_scale(s, g: float):
    """``s`` forward, ``g`` x its gradient backward (LSQ's step-size gradient scale)."""
    return (s - s * g).detach() + s * g


def _round_ste(v):
    """round(v) forward, identity backward (the straight-through estimator)."""
    return (v.round() - v).detach() + v


def lsq(x, s, qmin: int, qmax: int, g: float):
    """x fake-quantised with step ``s``: clamp(round(x / s), qmin, qmax) x s, LSQ gradients (x's where the rounded
    value is in range, as torch's fused kernels have it)."""
    s = _grad_scale(s, g)
    return torch.clamp(_round_ste(x / s), qmin, qmax) * s


class Quantiser(nn.Module):
    """A learned-step fake quantiser of ``bits`` bits (``channels``: one step per output channel, weights)."""

    def __init__(self, bits: int, channels: int = 0, signed: bool = True):
        super().__init__()
        self.bits, self.channels, self.signed = int(bits), channels, signed
        # the step is learned as its logarithm: SGD then moves it by a fraction of itself whatever its size (a
        # 16-bit step is 1/32767 of the range) and it stays positive. Learned as is, at the weights' lr, a step
        # jumped by many times itself: 8-bit twins trained 2.2 points worse than float on average, 16-bit ones 4
        # (5 RegNetX twins, Fashion-MNIST); as its log, or frozen after calibration, they match float.
        self.log_step = nn.Parameter(torch.zeros(channels if channels else ()))
        self.log_step.no_decay = True  # weight decay would pull the step towards 1 (log 0): the engine skips it
        # the fused kernels' zero point (always 0: symmetric weights, activations from 0 or symmetric); a buffer,
        # not a tensor made every step, and not saved (nothing to restore)
        self.register_buffer("zero", torch.zeros(channels or 1), persistent=False)
        self.ready = False  # a step is set from data (calibrate) before training; a checkpoint restores it

    @property
    def step(self):
        return self.log_step.exp()

    @property
    def qrange(self) -> tuple[int, int]:
        if self.signed:
            return -(2 ** (self.bits - 1)) + 1 if self.channels else -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
        return 0, 2 ** self.bits - 1

    def init_from(self, x):
        """The initial step: the one of 20 candidates (1/20 .. 20/20 of max|x| / Qmax) with the least squared
        quantisation error on ``x`` (per output channel for weights). LSQ's own 2 mean|x| / sqrt(Qmax) is coarse
        at 8 bits (4-5% error in one layer); the learned step starts where rounding costs least. Activations are
        unsigned when ``x`` has no negative value."""
        with torch.no_grad():
            if not self.channels:
                self.signed = bool((x < 0).any())
            qmin, qmax = self.qrange
            a = x.detach().float()
            a = a.flatten(1) if self.channels else a.reshape(1, -1)
            top = a.abs().amax(1, keepdim=True).clamp_min(1e-8) / qmax
            best, err = top, None
            for k in range(1, 21):
                s = top * (k / 20)
                e = (torch.clamp(torch.round(a / s), qmin, qmax) * s - a).square().mean(1, keepdim=True)
                best = s if err is None else torch.where(e < err, s, best)
                err = e if err is None else torch.minimum(e, err)
            self.log_step.copy_(best.reshape(self.log_step.shape).log())
        self.ready = True

    def forward(self, x):
        if not self.ready:
            self.init_from(x)
        qmin, qmax = self.qrange
        g = 1.0 / math.sqrt(x[0].numel() * qmax)  # features per output channel (weights) or per image (activations)
        step = self.step
        if FUSED:  # one pass forward and one backward (the composite below makes ~6 each: 2.5-3x slower on a CPU)
            q = dict(quant_min=qmin, quant_max=qmax, grad_factor=g)
            if self.channels:
                y = torch._fake_quantize_learnable_per_channel_affine(x.float(), step, self.zero, axis=0, **q)
            else:
                y = torch._fake_quantize_learnable_per_tensor_affine(x.float(), step.reshape(1), self.zero, **q)
            return y.to(x.dtype)
        s = step.view(-1, *([1] * (x.dim() - 1))) if self.channels else step
        return lsq(x.float(), s, qmin, qmax, g).to(x.dtype)


class _Quantised:
    """What a quantised conv and linear share: their bit widths and quantisers (None where float)."""

    def _setup(self, bits_w: int, bits_a: int):
        self.bits_w, self.bits_a = int(bits_w), int(bits_a)
        self.wq = Quantiser(bits_w, self.weight.shape[0]) if bits_w < FLOAT_BITS else None
        self.aq = Quantiser(bits_a) if bits_a < FLOAT_BITS else None

    def _q(self, x):
        w = self.wq(self.weight) if self.wq is not None else self.weight
        return (self.aq(x) if self.aq is not None else x), w


class QConv2d(_Quantised, nn.Conv2d):
    """nn.Conv2d with fake-quantised weights and input."""

    def forward(self, x):
        x, w = self._q(x)
        return self._conv_forward(x, w, self.bias)


class QLinear(_Quantised, nn.Linear):
    """nn.Linear with fake-quantised weights and input."""

    def forward(self, x):
        x, w = self._q(x)
        return F.linear(x, w, self.bias)


def _convert(m: nn.Module, bits_w: int, bits_a: int) -> nn.Module:
    """A quantised twin of conv or linear ``m`` sharing its parameters."""
    q = QConv2d.__new__(QConv2d) if isinstance(m, nn.Conv2d) else QLinear.__new__(QLinear)
    q.__dict__ = m.__dict__.copy()
    q._parameters, q._buffers, q._modules = dict(m._parameters), dict(m._buffers), dict(m._modules)
    q._setup(bits_w, bits_a)
    return q


def quantise(model: nn.Module, bits_w: int = FLOAT_BITS, bits_a: int = FLOAT_BITS,
             edge_bits: int = EDGE_BITS) -> nn.Module:
    """``model`` with every nn.Conv2d and nn.Linear fake-quantised in place (the first and the last, in
    registration order, at max(b, edge_bits)); unchanged when both widths are 32. Transposed convs stay float.

    >>> from dse.models.anynet import AnyNet
    >>> from dse.models.arch import Arch
    >>> net = quantise(AnyNet(Arch((1,), (16,), (1,), (8,)), "cifar", 3, 10), 4, 4)
    >>> [(m.bits_w, m.bits_a) for m in net.modules() if isinstance(m, (QConv2d, QLinear))][:2]
    [(8, 8), (4, 4)]
    """
    if bits_w >= FLOAT_BITS and bits_a >= FLOAT_BITS:
        return model
    layers = [(n, m) for n, m in model.named_modules() if type(m) in (nn.Conv2d, nn.Linear)]
    ew, ea = int(edge_bits_of(bits_w, edge_bits)), int(edge_bits_of(bits_a, edge_bits))
    for i, (name, m) in enumerate(layers):
        edge = i in (0, len(layers) - 1)
        q = _convert(m, ew if edge else bits_w, ea if edge else bits_a)
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf, q)
    return model


def calibrate(model: nn.Module, x) -> None:
    """Set every quantiser's step from one batch ``x`` (weights from themselves, activations from what each layer
    reads), eagerly, before training or capturing a CUDA graph (which must not branch on data)."""
    if not any(isinstance(m, Quantiser) for m in model.modules()):
        return
    for m in model.modules():
        if isinstance(m, Quantiser):
            m.ready = False
    was, kept = model.training, [b.clone() for b in model.buffers()]
    model.train()  # the activations training sees (BN on the batch); its running statistics are put back after
    with torch.no_grad():
        model(x)
    with torch.no_grad():
        for b, k in zip(model.buffers(), kept):
            b.copy_(k)
    model.train(was)


def quantised(model: nn.Module) -> bool:
    """Whether any layer of ``model`` is fake-quantised."""
    return any(isinstance(m, Quantiser) for m in model.modules())
