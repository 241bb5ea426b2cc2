"""Counting one layer (pycls counting: flops are multiply-adds), vectorised over candidates.

Each function takes and returns a running ``cx = [h, flops, params, acts]`` of int64 arrays (one entry per
candidate; float64 to test for overflow). Blocks (``dse.models.blocks``) and networks
(``dse.models.complexity``) are sums of these. No torch.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

SE_RATIO = 0.25  # w_se = SE_RATIO * (the block's input width)
# pycls counts a conv's bias as w_out flops; the low-level vision field counts multiply-adds only (biases not
# counted): dse.models.lowlevel counts a registered block under ``no_bias_flops()``
_BIAS_FLOPS = ContextVar("bias_flops", default=True)


@contextmanager
def no_bias_flops():
    """Within this block, conv_cx counts no flops for biases (their parameters are still counted)."""
    token = _BIAS_FLOPS.set(False)
    try:
        yield
    finally:
        _BIAS_FLOPS.reset(token)


# What a count's params and acts hold (precision counting, dse.models.precision): "all" (pycls: every parameter,
# the sum of every layer's outputs); "weights": only conv and linear weights (the tensors a bit width applies
# to; no biases, no BN) and acts the largest input any conv or linear layer reads (elements per image)
_TALLY = ContextVar("tally", default="all")


@contextmanager
def tally(kind: str):
    """Within this block, counts hold ``kind``: "all" (the default) or "weights" (see _TALLY)."""
    token = _TALLY.set(kind)
    try:
        yield
    finally:
        _TALLY.reset(token)


def weights_only() -> bool:
    return _TALLY.get() == "weights"


def repeat(a, r, d):
    """A stage's counts: the first block's ``a`` and d - 1 more blocks of ``r`` each (a largest input, under
    tally("weights"), is the larger of the two where there is a second block)."""
    if weights_only():
        return [a[0], a[1] + (d - 1) * r[1], a[2] + (d - 1) * r[2], np.where(d > 1, np.maximum(a[3], r[3]), a[3])]
    return [a[0]] + [x + (d - 1) * y for x, y in zip(a[1:], r[1:])]


def conv_cx(cx, w_in, w_out, k, stride=1, groups=1, bias=False):
    """Conv k x k, padding (k-1)//2: k*k*w_in*w_out*h*w // groups multiply-adds at the output size (+ bias)."""
    h, flops, params, acts = cx
    h_in = h
    h = (h + 2 * ((k - 1) // 2) - k) // stride + 1
    flops = flops + k * k * w_in * w_out * h * h // groups + (w_out if bias and _BIAS_FLOPS.get() else 0)
    if weights_only():
        return [h, flops, params + k * k * w_in * w_out // groups, np.maximum(acts, w_in * h_in * h_in)]
    params = params + k * k * w_in * w_out // groups + (w_out if bias else 0)
    acts = acts + w_out * h * h
    return [h, flops, params, acts]


def bn_cx(cx, w):
    """BatchNorm: 2*w parameters (gamma, beta), nothing else."""
    h, flops, params, acts = cx
    return [h, flops, params + (0 if weights_only() else 2 * w), acts]


def pool_cx(cx, w, k, stride, padding):
    """Max pool k x k: no flops or parameters; its output counts as activations (pycls complexity_maxpool2d)."""
    h, flops, params, acts = cx
    h = (h + 2 * padding - k) // stride + 1
    return [h, flops, params, acts if weights_only() else acts + w * h * h]


def linear_cx(cx, w_in, w_out):
    """Fully connected layer with bias."""
    h, flops, params, acts = cx
    if weights_only():
        return [h, flops + w_in * w_out + w_out, params + w_in * w_out, np.maximum(acts, w_in)]
    return [h, flops + w_in * w_out + w_out, params + w_in * w_out + w_out, acts + w_out]


def se_cx(cx, w_b, w_se):
    """Squeeze-excitation at 1x1 spatial size (two 1x1 convs with bias); resolution unchanged; none where
    w_se == 0 (a block too narrow for one)."""
    h = cx[0]
    one = [np.ones_like(h)] + cx[1:]
    one = conv_cx(one, w_b, w_se, 1, bias=True)
    one = conv_cx(one, w_se, w_b, 1, bias=True)
    has = w_se > 0
    return [h] + [np.where(has, a, b) for a, b in zip(one[1:], cx[1:])]


def branch(cx, f):
    """A parallel branch (a projection shortcut): its counts add, the resolution stays the main path's."""
    out = f(cx)
    return [cx[0]] + out[1:]


def where(mask, a, b):
    """Per candidate: counts ``a`` where ``mask``, else ``b`` (both from the same input)."""
    return [np.where(mask, x, y) for x, y in zip(a, b)]
