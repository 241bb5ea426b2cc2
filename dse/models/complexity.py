"""Analytic complexity (pycls counting: flops are multiply-adds), vectorised over many Archs.

Each function mirrors one module of ``dse.models.anynet`` and accumulates into a running
``cx = [h, flops, params, acts]`` of int64 arrays (one entry per candidate). No tensors, no torch.
"""

from __future__ import annotations

import numpy as np

from dse.errors import DseError
from dse.models.arch import STEM_WIDTH, Arch

SE_RATIO = 0.25


def conv_cx(cx, w_in, w_out, k, stride=1, groups=1, bias=False):
    """Conv k x k: k*k*w_in*w_out*h*w // groups multiply-adds at the output size (+ bias)."""
    h, flops, params, acts = cx
    h = (h - 1) // stride + 1
    flops = flops + k * k * w_in * w_out * h * h // groups + (w_out if bias else 0)
    params = params + k * k * w_in * w_out // groups + (w_out if bias else 0)
    acts = acts + w_out * h * h
    return [h, flops, params, acts]


def bn_cx(cx, w):
    """BatchNorm: 2*w parameters (gamma, beta), nothing else."""
    h, flops, params, acts = cx
    return [h, flops, params + 2 * w, acts]


def linear_cx(cx, w_in, w_out):
    """Fully connected layer with bias."""
    h, flops, params, acts = cx
    return [h, flops + w_in * w_out + w_out, params + w_in * w_out + w_out, acts + w_out]


def stem_cx(cx, w_in, w_out, stride):
    """Stem: 3x3 conv (stride 2 simple, 1 cifar), BN, ReLU."""
    return bn_cx(conv_cx(cx, w_in, w_out, 3, stride), w_out)


def se_cx(cx, w_b, w_se):
    """Squeeze-excitation at 1x1 spatial size (two 1x1 convs with bias); resolution unchanged."""
    h = cx[0]
    one = [np.ones_like(h)] + cx[1:]
    one = conv_cx(one, w_b, w_se, 1, bias=True)
    one = conv_cx(one, w_se, w_b, 1, bias=True)
    # where w_se == 0 (round(0.25 * w_in) == 0) the block has no SE
    has = w_se > 0
    return [h] + [np.where(has, a, b) for a, b in zip(one[1:], cx[1:])]


def block_cx(cx, w_in, w_out, stride, b, g, se):
    """X block (Y block when se): 1x1, 3x3 group conv (+SE), 1x1, with projection shortcut when needed."""
    w_b = np.round(w_out * (1.0 / b)).astype(w_out.dtype)
    h_in = cx[0]
    proj = (w_in != w_out) | (stride != 1)
    p = bn_cx(conv_cx(cx, w_in, w_out, 1, stride), w_out)
    cx = [h_in] + [np.where(proj, a, c) for a, c in zip(p[1:], cx[1:])]
    cx = bn_cx(conv_cx(cx, w_in, w_b, 1), w_b)
    cx = bn_cx(conv_cx(cx, w_b, w_b, 3, stride, groups=w_b // g), w_b)
    if se:
        cx = se_cx(cx, w_b, np.round(w_in * SE_RATIO).astype(w_out.dtype))
    return bn_cx(conv_cx(cx, w_b, w_out, 1), w_out)


def stage_cx(cx, w_in, w, d, b, g, se):
    """Stage: the first block has stride 2 (and w_in); the d-1 others repeat one identical block."""
    cx = block_cx(cx, w_in, w, stride=2, b=b, g=g, se=se)
    rest = block_cx([cx[0], 0 * cx[1], 0 * cx[2], 0 * cx[3]], w, w, stride=1, b=b, g=g, se=se)
    return [cx[0]] + [a + (d - 1) * r for a, r in zip(cx[1:], rest[1:])]


def head_cx(cx, w_in, num_classes):
    """Head: global average pool, then a fully connected layer with bias."""
    return linear_cx([np.ones_like(cx[0])] + cx[1:], w_in, num_classes)


MAX_COUNT = 2**62  # counts beyond this are refused: int64 arithmetic would overflow on the way


class TooLarge(DseError):
    """A network whose counts do not fit in int64 (an absurd depth, width, resolution or head)."""


def complexity_arrays(d, w, b, g, se=False, resolution=224, stem="simple", in_channels=3, num_classes=1000,
                      too_large: str = "raise"):
    """flops, params, acts (int64 arrays) of N Archs given as [N, S] arrays of d, w, b (paper), g; ``resolution``
    is one size for all or one per Arch (a space that samples the input resolution). An Arch whose counts would
    pass 2^62 raises TooLarge, or with ``too_large="mark"`` gets -1 in all three (a sampler drops it)."""
    d, w, g = (np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in (d, w, g))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    res = np.broadcast_to(np.asarray(resolution, dtype=np.int64), (d.shape[0],))
    big = _maybe_too_large(d, w, b, res=res, in_channels=in_channels, num_classes=num_classes)
    if big.any():  # count those exactly in floating point (no overflow) to see whether they really are
        fx = _count(d[big].astype(np.float64), w[big].astype(np.float64), b[big], g=g[big].astype(np.float64), se=se,
                    res=res[big].astype(np.float64), stem=stem, in_channels=in_channels, num_classes=num_classes)
        over = np.zeros(len(big), dtype=bool)
        over[big] = np.max(fx, axis=0) >= MAX_COUNT
        if over.any() and too_large == "raise":
            raise TooLarge(f"too large to count: {np.max(fx):.3g} multiply-adds or parameters (at most "
                           f"{MAX_COUNT:.3g}); lower the depth, widths, resolution or classes")
        if over.any():
            out = _count(d, w, b, g=g, se=se, res=res, stem=stem, in_channels=in_channels, num_classes=num_classes,
                         rows=~over)
            return tuple(np.where(over, -1, x) for x in out)
    return _count(d, w, b, g=g, se=se, res=res, stem=stem, in_channels=in_channels, num_classes=num_classes)


def _maybe_too_large(d, w, b, res, in_channels, num_classes) -> np.ndarray:
    """Which Archs might reach MAX_COUNT: an upper bound of every count (each of a block's five convolutions
    is at most 9 * W^2 * R^2 for the widest width W, inner widths included, and the input size R)."""
    wmax = np.maximum(np.max(np.round(w / b), axis=1), np.max(w, axis=1)).astype(np.float64)
    wmax = np.maximum(wmax, max(STEM_WIDTH, in_channels))
    r2 = res.astype(np.float64) ** 2
    bound = 50.0 * d.sum(axis=1) * wmax**2 * r2 + 9.0 * in_channels * STEM_WIDTH * r2 + 2.0 * wmax * num_classes
    return bound >= MAX_COUNT / 4


def _count(d, w, b, g, se, res, stem, in_channels, num_classes, rows=None):
    """The counts, in the arrays' own dtype (int64; float64 to test for overflow); ``rows``: only those, the
    others 0."""
    if rows is not None:  # the other rows become a small harmless network
        m = rows[:, None]
        d, w, b, g, res = np.where(m, d, 1), np.where(m, w, 8), np.where(m, b, 1.0), np.where(m, g, 8), \
            np.where(rows, res, 8)
    n = d.shape[0]
    zero = np.zeros(n, dtype=d.dtype)
    cx = [res.astype(d.dtype).copy(), zero, zero, zero]
    cx = stem_cx(cx, in_channels, STEM_WIDTH, 2 if stem == "simple" else 1)
    w_in = np.full(n, STEM_WIDTH, dtype=d.dtype)
    se = bool(se)
    for i in range(d.shape[1]):
        cx = stage_cx(cx, w_in, w[:, i], d=d[:, i], b=b[:, i], g=g[:, i], se=se)
        w_in = w[:, i]
    cx = head_cx(cx, w_in, num_classes)
    return cx[1], cx[2], cx[3]


def complexity_many(archs, resolution=224, stem="simple", in_channels=3, num_classes=1000):
    """flops, params, acts (int64 arrays) of a list of Archs of any stage counts (grouped, then counted in bulk);
    ``resolution``: one size, or one per Arch."""
    out = [np.zeros(len(archs), dtype=np.int64) for _ in range(3)]
    res = np.broadcast_to(np.asarray(resolution, dtype=np.int64), (len(archs),))
    groups = {}
    for i, a in enumerate(archs):
        groups.setdefault((a.stages, a.se), []).append(i)
    for (_, se), ix in groups.items():
        arr = [[getattr(archs[i], k) for i in ix] for k in ("depths", "widths", "bottlenecks", "group_widths")]
        for o, v in zip(out, complexity_arrays(*arr, se=se, resolution=res[ix], stem=stem, in_channels=in_channels,
                                               num_classes=num_classes)):
            o[ix] = v
    return out


def complexity(arch: Arch, resolution=224, stem="simple", in_channels=3, num_classes=1000) -> dict:
    """{'flops', 'params', 'acts'} (ints) of one Arch; widths are used as given (apply the rule first)."""
    f, p, a = complexity_arrays(
        [arch.depths], [arch.widths], [arch.bottlenecks], g=[arch.group_widths], se=arch.se,
        resolution=resolution, stem=stem, in_channels=in_channels, num_classes=num_classes,
    )
    return {"flops": int(f[0]), "params": int(p[0]), "acts": int(a[0])}
