"""Analytic complexity (pycls counting: flops are multiply-adds), vectorised over many Archs.

Each function mirrors one module of ``dse.models.anynet`` and accumulates into a running
``cx = [h, flops, params, acts]`` of int64 arrays (one entry per candidate). Layers are counted in
``dse.models.layers``, blocks and stems in ``dse.models.blocks``. No tensors, no torch.
"""

from __future__ import annotations

import numpy as np

from dse.errors import DseError
from dse.models.arch import Arch, Design
from dse.models.blocks import BLOCK_PARAMS, BLOCK_TYPES, STEM_TYPES, UNUSED
from dse.models.layers import SE_RATIO, bn_cx, conv_cx, linear_cx, repeat, se_cx  # noqa: F401 (re-exported)
from dse.params import REGIME_DEFAULTS as R



def stem_cx(cx, w_in, w_out, stem=R["stem"]):
    """Stem: the registry's (simple: 3x3/2; cifar: 3x3/1; resnet: 7x7/2 + 3x3/2 max pool), conv + BN."""
    return STEM_TYPES[stem].count(cx, w_in, w_out)


def stage_cx(cx, w_in, w, d, p, stride=2, block="res_bottleneck"):
    """Stage: the first block has the stage's stride (and w_in); the d-1 others repeat one identical block."""
    bt = BLOCK_TYPES[block]

    def count(*args):
        try:
            return bt.count(*args)
        except DseError:
            raise
        except Exception as e:  # noqa: BLE001 - a registered (maybe a user's) block's count: say which one failed
            raise DseError(f"block {block!r} ({getattr(bt.count, '__module__', '?')}): its count failed: "
                           f"{type(e).__name__}: {e}") from None

    cx = count(cx, w_in, w, stride, p)
    rest = count([cx[0], 0 * cx[1], 0 * cx[2], 0 * cx[3]], w, w, 1, p)
    return repeat(cx, rest, d)


def head_cx(cx, w_in, num_classes, head_w=0):
    """Head: a 1x1 conv + BN to head_w when head_w (EfficientNet's), global average pool, FC with bias."""
    if head_w:
        cx = bn_cx(conv_cx(cx, w_in, head_w, 1), head_w)
        w_in = head_w
    return linear_cx([np.ones_like(cx[0])] + cx[1:], w_in, num_classes)


MAX_COUNT = 2**62  # counts beyond this are refused: int64 arithmetic would overflow on the way


class TooLarge(DseError):
    """A network whose counts do not fit in int64 (an absurd depth, width, resolution or head)."""


def _design(se) -> Design:
    return se if isinstance(se, Design) else Design(se=bool(se))


def complexity_arrays(d, w, b, g, se=False, resolution=R["resolution"], stem=R["stem"], in_channels=R["in_channels"],
                      num_classes=R["num_classes"],
                      too_large: str = "raise", extra: dict | None = None):
    """flops, params, acts (int64 arrays) of N networks given as [N, S] arrays of d, w, b (paper), g; ``se`` is
    the X/Y switch or the Design all N share (block, SE, stem, strides, stem and head widths); ``extra``: the
    [N, S] arrays of k and e for blocks that use them. ``resolution`` is one size for all or one per network (a
    space that samples it). A network whose counts would pass 2^62 raises TooLarge, or with ``too_large="mark"``
    gets -1 in all three (a sampler drops it)."""
    st, res, design = _prepare(d, w, b, g, se, resolution=resolution, extra=extra)
    kw = dict(design=design, stem=stem, in_channels=in_channels, num_classes=num_classes)
    big = _maybe_too_large(st, res=res, **kw)
    if big.any():  # count those exactly in floating point (no overflow) to see whether they really are
        fx = _count({k: v[big].astype(np.float64) for k, v in st.items()}, res=res[big].astype(np.float64), **kw)
        over = np.zeros(len(big), dtype=bool)
        over[big] = np.max(fx, axis=0) >= MAX_COUNT
        if over.any() and too_large == "raise":
            raise TooLarge(f"too large to count: {np.max(fx):.3g} multiply-adds or parameters (at most "
                           f"{MAX_COUNT:.3g}); lower the depth, widths, resolution or classes")
        if over.any():
            out = _count(st, res=res, rows=~over, **kw)
            return tuple(np.where(over, -1, x) for x in out)
    return _count(st, res=res, **kw)


def _prepare(d, w, b, g, se, *, resolution, extra):
    """The per-stage arrays {d, w, b, g, and k, e where the block reads them}, one resolution per network, and
    the Design."""
    design = _design(se)
    d, w, g = (np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in (d, w, g))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    st = {"d": d, "w": w, "b": b, "g": g}
    uses = BLOCK_TYPES[design.block].uses
    for p, kind in (("k", np.int64), ("e", np.float64)):  # only what the block reads (a sampler's hot path)
        v = (extra or {}).get(p)
        if v is not None or p in uses:
            st[p] = (np.full(d.shape, UNUSED[p]) if v is None else np.atleast_2d(np.asarray(v))).astype(kind)
    return st, np.broadcast_to(np.asarray(resolution, dtype=np.int64), (d.shape[0],)), design


def _maybe_too_large(st, res, design, stem, in_channels, num_classes) -> np.ndarray:
    """Which networks might reach MAX_COUNT: an upper bound of every count (each of a block's convolutions is at
    most K^2 * W^2 * R^2 for the widest width W, inner widths included, the largest kernel K and input size R)."""
    w, b = st["w"], st["b"]
    wmax = np.max(np.round(w / b), axis=1).astype(np.float64)
    if "e" in st:
        wmax = np.maximum(wmax, np.max(w * st["e"], axis=1) + 1)
    wmax = np.maximum(wmax, max(design.stem_w, in_channels, design.head_w))
    k2 = (np.max(st["k"], axis=1).astype(np.float64) if "k" in st else 3.0) ** 2 + 9
    r2 = res.astype(np.float64) ** 2
    bound = 6.0 * k2 * st["d"].sum(axis=1) * wmax**2 * r2 + 49.0 * in_channels * design.stem_w * r2 \
        + 2.0 * wmax * num_classes + wmax**2 * r2
    return bound >= MAX_COUNT / 4


def _count(st, res, design, stem, in_channels, num_classes, rows=None, parts=False):
    """The counts, in the arrays' own dtype (int64; float64 to test for overflow); ``rows``: only those, the
    others 0. ``parts``: the stem's, the body's (stages and EfficientNet's head conv) and the classifier's counts
    apart, each [h, flops, params, acts] (the first and last layers, which precision counting keeps at 8 bits)."""
    d = st["d"]
    if rows is not None:  # the other rows become a small harmless network
        m = rows[:, None]
        st = {k: np.where(m, v, {"d": 1, "w": 8, "b": 1.0, "g": 8, "k": 3, "e": 1.0}[k]) for k, v in st.items()}
        d, res = st["d"], np.where(rows, res, 8)
    n = d.shape[0]
    zero = np.zeros(n, dtype=d.dtype)
    first = stem_cx([res.astype(d.dtype).copy(), zero, zero, zero], in_channels, design.stem_w, design.stem_of(stem))
    cx = [first[0], zero, zero, zero]
    w_in = np.full(n, design.stem_w, dtype=d.dtype)
    strides = design.strides_of(d.shape[1])
    for i in range(d.shape[1]):
        p = {k: st[k][:, i] for k in BLOCK_PARAMS if k in st}
        p["se"] = design.se
        cx = stage_cx(cx, w_in, st["w"][:, i], d=st["d"][:, i], p=p, stride=strides[i], block=design.block)
        w_in = st["w"][:, i]
    if design.head_w:  # head_cx's conv, counted with the body (only the classifier is an end layer)
        cx = bn_cx(conv_cx(cx, w_in, design.head_w, 1), design.head_w)
    last = head_cx([cx[0], zero, zero, zero], w_in if not design.head_w else np.full(n, design.head_w), num_classes)
    if parts:
        return first, cx, last
    return tuple(a + b + c for a, b, c in zip(first[1:], cx[1:], last[1:]))


def _arrays(archs) -> tuple[list, dict]:
    """[d, w, b, g] and {k, e} lists of lists of same-shaped Archs."""
    core = [[getattr(a, f) for a in archs] for f in ("depths", "widths", "bottlenecks", "group_widths")]
    return core, {"k": [a.kernels for a in archs], "e": [a.expansions for a in archs]}


def same_shape(archs) -> list:
    """[(design, indices)] of the Archs that count in one bulk call (the same stage count and design)."""
    groups = {}
    for i, a in enumerate(archs):
        groups.setdefault((a.stages, a.design), []).append(i)
    return [(design, ix) for (_, design), ix in groups.items()]


def complexity_many(archs, resolution=R["resolution"], stem=R["stem"], in_channels=R["in_channels"],
                    num_classes=R["num_classes"]):
    """flops, params, acts (int64 arrays) of a list of Archs of any stage counts and designs (grouped, then
    counted in bulk); ``resolution``: one size, or one per Arch."""
    out = [np.zeros(len(archs), dtype=np.int64) for _ in range(3)]
    res = np.broadcast_to(np.asarray(resolution, dtype=np.int64), (len(archs),))
    for design, ix in same_shape(archs):
        core, extra = _arrays([archs[i] for i in ix])
        for o, v in zip(out, complexity_arrays(*core, design, resolution=res[ix], stem=stem,
                                               in_channels=in_channels, num_classes=num_classes, extra=extra)):
            o[ix] = v
    return out


def complexity(arch: Arch, resolution=R["resolution"], stem=R["stem"], in_channels=R["in_channels"],
               num_classes=R["num_classes"]) -> dict:
    """{'flops', 'params', 'acts'} (ints) of one Arch; widths are used as given (apply the rule first); ``stem``
    is the regime's, used when the Arch has none of its own."""
    core, extra = _arrays([arch])
    f, p, a = complexity_arrays(*core, arch.design, resolution=resolution, stem=stem, in_channels=in_channels,
                                num_classes=num_classes, extra=extra)
    return {"flops": int(f[0]), "params": int(p[0]), "acts": int(a[0])}
