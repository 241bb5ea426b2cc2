"""Analytic complexity (pycls counting: flops are multiply-adds), vectorised over many Archs.

Each function mirrors one module of ``dse.models.anynet`` and accumulates into a running
``cx = [h, flops, params, acts]`` of int64 arrays (one entry per candidate). No tensors, no torch.
"""

from __future__ import annotations

import numpy as np

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
    w_b = np.round(w_out * (1.0 / b)).astype(np.int64)
    h_in = cx[0]
    proj = (w_in != w_out) | (stride != 1)
    p = bn_cx(conv_cx(cx, w_in, w_out, 1, stride), w_out)
    cx = [h_in] + [np.where(proj, a, c) for a, c in zip(p[1:], cx[1:])]
    cx = bn_cx(conv_cx(cx, w_in, w_b, 1), w_b)
    cx = bn_cx(conv_cx(cx, w_b, w_b, 3, stride, groups=w_b // g), w_b)
    if se:
        cx = se_cx(cx, w_b, np.round(w_in * SE_RATIO).astype(np.int64))
    return bn_cx(conv_cx(cx, w_b, w_out, 1), w_out)


def stage_cx(cx, w_in, w, d, b, g, se):
    """Stage: the first block has stride 2 (and w_in); the d-1 others repeat one identical block."""
    cx = block_cx(cx, w_in, w, 2, b, g, se)
    rest = block_cx([cx[0], 0 * cx[1], 0 * cx[2], 0 * cx[3]], w, w, 1, b, g, se)
    return [cx[0]] + [a + (d - 1) * r for a, r in zip(cx[1:], rest[1:])]


def head_cx(cx, w_in, num_classes):
    """Head: global average pool, then a fully connected layer with bias."""
    return linear_cx([np.ones_like(cx[0])] + cx[1:], w_in, num_classes)


def complexity_arrays(d, w, b, g, se=False, resolution=224, stem="simple", in_channels=3, num_classes=1000):
    """flops, params, acts (int64 arrays) of N Archs given as [N, S] arrays of d, w, b (paper), g; ``resolution``
    is one size for all or one per Arch (a space that samples the input resolution)."""
    d, w, g = (np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in (d, w, g))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    n = d.shape[0]
    zero = np.zeros(n, dtype=np.int64)
    cx = [np.broadcast_to(np.asarray(resolution, dtype=np.int64), (n,)).copy(), zero, zero, zero]
    cx = stem_cx(cx, in_channels, STEM_WIDTH, 2 if stem == "simple" else 1)
    w_in = np.full(n, STEM_WIDTH, dtype=np.int64)
    se = bool(se)
    for i in range(d.shape[1]):
        cx = stage_cx(cx, w_in, w[:, i], d[:, i], b[:, i], g[:, i], se)
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
        for o, v in zip(out, complexity_arrays(*arr, se, res[ix], stem, in_channels, num_classes)):
            o[ix] = v
    return out


def complexity(arch: Arch, resolution=224, stem="simple", in_channels=3, num_classes=1000) -> dict:
    """{'flops', 'params', 'acts'} (ints) of one Arch; widths are used as given (apply the rule first)."""
    f, p, a = complexity_arrays(
        [arch.depths], [arch.widths], [arch.bottlenecks], [arch.group_widths], arch.se,
        resolution, stem, in_channels, num_classes,
    )
    return {"flops": int(f[0]), "params": int(p[0]), "acts": int(a[0])}
