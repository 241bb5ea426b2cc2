"""Low-level vision networks (super-resolution, denoising) and their cost as that field counts it.

An SR network (EDSR's skeleton): a 3x3 head conv (input channels -> w1), a body of stages of residual blocks at one
resolution (stage i: d_i blocks of width w_i; a 1x1 transition conv where the width changes), a 3x3 body-end conv
(-> w1) with a long skip from the head, a pixel-shuffle upsampler (one x2 stage per factor of 2, or one x3 stage;
none for denoising), and a 3x3 tail conv to the output channels. The block is EDSR's residual block with wide
activation (WDSR): conv 3x3 w -> w*e, ReLU, conv 3x3 w*e -> w, plus the identity; e = 1 is EDSR's. No BatchNorm
unless ``bn`` (EDSR removed it); a conv has a bias unless a BatchNorm follows it.

Cost as the SR tables count it (since CARN): multiply-adds (1 each) of every convolution to produce a **1280x720
output** (the task's ``count_at``; the input is the output / scale, rounded up: 640x360, 427x240, 320x180),
biases not counted; parameters with biases (the fixed mean-shift layers of EDSR's code are not parameters);
activations = the output elements of every conv. Denoising counts at 256x256. Vectorised: every argument may be
an array over candidates.

    >>> cx = restore_complexity(RestoreNet((16,), (64,), scale=2))
    >>> cx["params"], cx["flops"]
    (1369859, 316248883200)
    >>> restore_complexity(RestoreNet((16,), (64,), scale=4))["flops"]
    114230476800
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dse.errors import DseError
from dse.models.layers import weights_only
from dse.tasks import SR_SCALES, scales_text
from dse.validate import MAX_DEPTH, MAX_STAGE_DEPTH, MAX_STAGES, MAX_WIDTH, check_setting

SR_OUTPUT = (1280, 720)      # (width, height) the SR tables count multiply-adds at
DENOISE_OUTPUT = (256, 256)  # the denoising count's image size (one convention, said with every count)
MAX_EXPANSION_SR = 6         # wide activation: inner width w * e, e in 1..6 (WDSR: 2-4)


@dataclass(frozen=True)
class RestoreNet:
    """An SR (scale 2, 3, 4) or denoising (scale 1) network: per-stage depths, widths and expansions (the block's
    inner width w * e; default 1, EDSR's block), input/output channels, BatchNorm or not, and whether the bicubic-
    upsampled input (SR) or the input itself (denoising: the net predicts the residual) is added at the end."""

    depths: tuple
    widths: tuple
    expansions: tuple | None = None
    scale: int = 2
    in_channels: int = 3
    bn: bool = False
    image_residual: bool = False

    def __post_init__(self):
        d, w = tuple(int(x) for x in self.depths), tuple(int(x) for x in self.widths)
        e = tuple(int(x) for x in (self.expansions or (1,) * len(d)))
        if not d or len(d) != len(w) or len(e) != len(d):
            raise DseError(f"an SR network needs one depth, width and expansion per stage, got {len(d)} depth(s), "
                           f"{len(w)} width(s) and {len(e)} expansion(s)")
        if any(x < 1 for x in d) or any(not 1 <= x <= MAX_WIDTH for x in w):
            raise DseError(f"depths must be >= 1 and widths from 1 to {MAX_WIDTH}, got {d} and {w}")
        if len(d) > MAX_STAGES or max(d) > MAX_STAGE_DEPTH or sum(d) > MAX_DEPTH:  # the limits every network has
            raise DseError(f"too large to build: at most {MAX_STAGES} stages of depth <= {MAX_STAGE_DEPTH} (total <= "
                           f"{MAX_DEPTH}), got depths {d}")
        check_setting("in_channels", self.in_channels)  # the regime's limit on input channels
        if any(not 1 <= x <= MAX_EXPANSION_SR for x in e):
            raise DseError(f"expansions must be from 1 to {MAX_EXPANSION_SR}, got {e}")
        _check_scale(self.scale)
        object.__setattr__(self, "depths", d)
        object.__setattr__(self, "widths", w)
        object.__setattr__(self, "expansions", e)

    @property
    def depth(self) -> int:
        return sum(self.depths)

    def general(self) -> "Restoration":
        """The same network as a Restoration: an Arch of the wide_res block (wide_res_bn with BatchNorm)."""
        from dse.models.arch import Arch

        arch = Arch(self.depths, self.widths, block="wide_res_bn" if self.bn else "wide_res",
                    expansions=self.expansions, strides=(1,) * len(self.depths))
        return Restoration(arch, self.scale, self.in_channels, self.image_residual)

    def to_dict(self) -> dict:
        return {"depths": list(self.depths), "widths": list(self.widths), "expansions": list(self.expansions),
                "scale": self.scale, "in_channels": self.in_channels, "bn": self.bn,
                "image_residual": self.image_residual}


def _check_scale(scale) -> None:
    if scale not in (1, *SR_SCALES):
        raise DseError(f"scale must be 1 (denoising), {scales_text()}, got {scale!r}")


def upsampler_stages(scale: int) -> list[int]:
    """The pixel-shuffle stages of a scale: x2 -> [2], x3 -> [3], x4 -> [2, 2] (EDSR's), x1 -> []."""
    if scale == 3:
        return [3]
    return [2] * int(round(math.log2(scale))) if scale in (1, 2, 4) else []


def _conv(cx, c_in, c_out, k, hw, *, bias: bool):
    """A k x k conv at ``hw`` output pixels: its multiply-adds (no bias), parameters (with its bias) and outputs
    (under layers.tally("weights"): its weights only)."""
    flops, params, acts = cx
    if weights_only():
        return [flops + k * k * c_in * c_out * hw, params + k * k * c_in * c_out, acts]
    return [flops + k * k * c_in * c_out * hw, params + k * k * c_in * c_out + (c_out if bias else 0),
            acts + c_out * hw]


def _bn(cx, c):
    flops, params, acts = cx
    return [flops, params + 2 * c, acts]


def block_cx(block: str, w, p: dict, pixels) -> list:
    """[flops, params, acts] of one registered block (``dse.models.blocks``) at stride 1 and width w -> w, over an
    image of ``pixels`` pixels of any shape, biases not counted in flops. The registry counts square images of
    side h; at stride 1 every conv's count is (per pixel) x h^2 and an SE's is the same at any size, so the counts
    at h = 1 and h = 2 give both parts exactly: per pixel = (c(2) - c(1)) / 3, per image = c(1) - per pixel."""
    from dse.models.blocks import BLOCK_TYPES, get_block
    from dse.models.layers import no_bias_flops

    bt = BLOCK_TYPES.get(block) or get_block(block)  # dse's own without loading plugins (counted at import)
    w = np.asarray(w) if np.asarray(w).dtype == np.float64 else np.asarray(w, dtype=np.int64)
    zero = np.zeros_like(w)
    with no_bias_flops():
        one = bt.count([zero + 1, zero, zero, zero], w, w, 1, p)
        two = bt.count([zero + 2, zero, zero, zero], w, w, 1, p)
    out = []
    for i in (1, 3):  # flops, acts: per pixel and per image
        per_px = (two[i] - one[i]) // 3
        out.append(per_px * pixels + one[i] - per_px)
    return [out[0], one[2], out[1]]


def restore_arrays(d, w, p: dict, design, scale: int, *, in_channels: int = 3, out=None,
                   too_large: str = "raise") -> dict:
    """{flops, params, acts} of networks given as (candidates, stages) arrays ``d``, ``w`` and ``p`` (the block's
    per-stage parameters: b, g, k, e as it uses them) whose body is ``design``'s block (its SE switch too), at
    output ``out`` = (width, height) (default: the task's count size: 1280x720 for SR, 256x256 for denoising).
    A network whose counts would pass 2^62 (int64 would overflow on the way) raises TooLarge, or with
    ``too_large="mark"`` gets -1 in all three (a sampler drops it), as classification's counts do."""
    from dse.models.complexity import MAX_COUNT, TooLarge

    d, w = (np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in (d, w))
    p = {k: np.atleast_2d(np.asarray(v)) for k, v in p.items()}
    ow, oh = out or (SR_OUTPUT if scale > 1 else DENOISE_OUTPUT)
    wmax = np.max(w * np.maximum(1.0, p["e"] if "e" in p else 1.0), axis=1) + in_channels + 1
    k2 = (np.max(p["k"], axis=1).astype(np.float64) if "k" in p else 3.0) ** 2 + 9  # (SE and the 1x1s: the + 9)
    big = 4.0 * k2 * (d.sum(axis=1) + 4) * wmax.astype(np.float64) ** 2 * float(ow * oh) * 16 >= MAX_COUNT / 4
    if big.any():  # those counted exactly in floating point (no overflow) to see whether they really are
        sub = {k: v[big].astype(np.float64) for k, v in p.items()}
        fx = _restore_count(d[big].astype(np.float64), w[big].astype(np.float64), sub, design, scale=scale,
                            in_channels=in_channels, out=(ow, oh))
        over = np.zeros(len(big), dtype=bool)
        over[big] = np.max(np.stack(list(fx.values())), axis=0) >= MAX_COUNT
        if over.any() and too_large == "raise":
            raise TooLarge(f"too large to count: {np.max(np.stack(list(fx.values()))):.3g} multiply-adds or "
                           f"parameters (at most {MAX_COUNT:.3g}); lower the depths or widths")
        if over.any():  # the others counted as usual, those -1
            m = over[:, None]
            small = {k: np.where(m, 3 if k == "k" else 1, v) for k, v in p.items()}
            cx = _restore_count(np.where(m, 1, d), np.where(m, 8, w), small, design, scale=scale,
                                in_channels=in_channels, out=(ow, oh))
            return {k: np.where(over, -1, v) for k, v in cx.items()}
    return _restore_count(d, w, p, design, scale=scale, in_channels=in_channels, out=(ow, oh))


def _restore_count(d, w, p, design, *, scale, in_channels, out) -> dict:
    """restore_arrays' count, in the arrays' own dtype (int64; float64 to test for overflow)."""
    ow, oh = out
    lw, lh = -(-ow // scale), -(-oh // scale)  # the input: the output / scale, rounded up (427x240 for x3)
    lr = lw * lh
    zero = np.zeros(d.shape[0], dtype=d.dtype)
    cx = [zero, zero, zero]
    w1 = w[:, 0]
    cx = _conv(cx, in_channels, w1, 3, lr, bias=True)  # head
    for i in range(d.shape[1]):
        if i:  # a 1x1 transition where the width changes (none where it does not)
            t = _conv([zero, zero, zero], w[:, i - 1], w[:, i], 1, lr, bias=True)
            cx = [c + np.where(w[:, i] != w[:, i - 1], x, 0) for c, x in zip(cx, t)]
        pi = {k: np.atleast_2d(np.asarray(v))[:, i] for k, v in p.items()}
        pi["se"] = design.se
        blk = block_cx(design.block, w[:, i], pi, lr)
        cx = [c + d[:, i] * x for c, x in zip(cx, blk)]
    cx = _conv(cx, w[:, -1], w1, 3, lr, bias=True)  # body end, then the long skip (an addition: not counted)
    hw = lr
    for r in upsampler_stages(scale):
        cx = _conv(cx, w1, w1 * r * r, 3, hw, bias=True)  # conv to r^2 times the channels, then PixelShuffle(r)
        hw = hw * r * r
    cx = _conv(cx, w1, in_channels, 3, hw, bias=True)  # tail
    return {k: v for k, v in zip(("flops", "params", "acts"), cx)}


def restore_precision(d, w, p: dict, design, scale: int, *, in_channels: int = 3, out=None) -> dict:
    """The element counts precision counting reads (dse.models.precision.COUNTS) of restore_arrays' networks: the
    end layers are the head conv (its input: the low-resolution image) and the tail conv (its input: w1 channels
    at the output size); the body's largest input is the widest input of a block's conv (its channels, counted at
    h = 1, times the input pixels), a transition's, the body end's or an upsampler conv's."""
    from dse.models.blocks import BLOCK_TYPES, get_block
    from dse.models.layers import tally

    d, w = (np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in (d, w))
    p = {k: np.atleast_2d(np.asarray(v)) for k, v in p.items()}
    ow, oh = out or (SR_OUTPUT if scale > 1 else DENOISE_OUTPUT)
    cx = restore_arrays(d, w, p, design, scale, in_channels=in_channels, out=(ow, oh))
    with tally("weights"):
        wt = _restore_count(d, w, p, design, scale=scale, in_channels=in_channels, out=(ow, oh))
    lr = -(-ow // scale) * -(-oh // scale)
    w1 = w[:, 0]
    bt = BLOCK_TYPES.get(design.block) or get_block(design.block)
    zero = np.zeros(d.shape[0], dtype=np.int64)
    peak = w[:, -1] * lr  # the body end's input
    for i in range(d.shape[1]):
        pi = {k: v[:, i] for k, v in p.items()}
        pi["se"] = design.se
        with tally("weights"):
            one = bt.count([zero + 1, zero, zero, zero], w[:, i], w[:, i], 1, pi)
        peak = np.maximum(peak, one[3] * lr)
        if i:
            peak = np.maximum(peak, np.where(w[:, i] != w[:, i - 1], w[:, i - 1] * lr, 0))
    hw = lr
    for r in upsampler_stages(scale):
        peak = np.maximum(peak, w1 * hw)
        hw = hw * r * r
    head_f, tail_f = 9 * in_channels * w1 * lr, 9 * w1 * in_channels * hw
    return {"flops": cx["flops"], "edge_flops": head_f + tail_f, "weights": wt["params"],
            "edge_weights": 18 * in_channels * w1, "params": cx["params"], "peak": peak,
            "edge_peak": np.maximum(in_channels * lr, w1 * hw)}


def restore_cx(depths, widths, expansions, scale: int, *, in_channels: int = 3, bn: bool = False, out=None) -> dict:
    """{flops, params, acts} of RestoreNets (EDSR's block, wide activation ``expansions``) given as arrays of shape
    (candidates, stages) (or one network's tuples): ``restore_arrays`` with the wide_res block."""
    from dse.models.arch import Design

    design = Design(block="wide_res_bn" if bn else "wide_res")
    return restore_arrays(depths, widths, {"e": np.asarray(expansions, dtype=np.float64)}, design, scale,
                          in_channels=in_channels, out=out)


@dataclass(frozen=True)
class Restoration:
    """Any SR or denoising network: its body (an Arch of any registered block, every stride 1), the scale (1:
    denoising), input channels and whether the upscaled input (or the input) is added at the end."""

    arch: object
    scale: int = 2
    in_channels: int = 3
    image_residual: bool = False

    def __post_init__(self):
        if any(s != 1 for s in self.arch.strides):
            raise DseError(f"an SR or denoising body keeps one resolution: every stride must be 1, got "
                           f"{list(self.arch.strides)}")
        _check_scale(self.scale)
        check_setting("in_channels", self.in_channels)


def restore_complexity(net, out=None) -> dict:
    """{flops, params, acts} of one RestoreNet or Restoration as ints."""
    r = net.general() if isinstance(net, RestoreNet) else net
    a = r.arch
    p = {k: np.array([a.stage(k)]) for k in a.uses}
    cx = restore_arrays([a.depths], [a.widths], p, a.design, r.scale, in_channels=r.in_channels, out=out)
    return {k: int(v[0]) for k, v in cx.items()}


# ---- reference networks of the field, each with the count its paper publishes ----
def fsrcnn_cx(scale: int, d: int = 56, s: int = 12, m: int = 4, out=SR_OUTPUT) -> dict:
    """FSRCNN(d, s, m) on the Y channel: conv 5x5 1 -> d, shrink 1x1 d -> s, m x conv 3x3 s -> s, expand 1x1 s -> d
    (each with a PReLU), and a 9x9 transposed conv d -> 1 of stride ``scale``. ``weights`` is the paper's count
    (5^2 d + d s + 9 m s^2 + s d + 81 d: no biases, no PReLU slopes); the transposed conv's multiply-adds are
    counted per output pixel (81 d each), as the SR tables count FSRCNN (~4.6 G at x4)."""
    lr = -(-out[0] // scale) * -(-out[1] // scale)
    hr = lr * scale * scale
    layers = [(1, d, 5), (d, s, 1)] + [(s, s, 3)] * m + [(s, d, 1)]
    weights = sum(k * k * a * b for a, b, k in layers) + 81 * d
    biases = sum(b for _, b, _ in layers) + 1
    slopes = sum(b for _, b, _ in layers)  # PReLU: one slope per channel
    flops = sum(k * k * a * b for a, b, k in layers) * lr + 81 * d * hr
    acts = sum(b for _, b, _ in layers) * lr + hr
    return {"flops": flops, "params": weights + biases + slopes, "weights": weights, "acts": acts}


def dncnn_cx(depth: int = 17, w: int = 64, channels: int = 1, out=DENOISE_OUTPUT) -> dict:
    """DnCNN: conv 3x3 (channels -> w, bias) + ReLU, depth - 2 x (conv 3x3 w -> w, BatchNorm, ReLU), conv 3x3
    (w -> channels); it predicts the noise (the output is the input minus it). Parameters with BatchNorm's
    scale and shift (its running statistics are not parameters)."""
    hw = out[0] * out[1]
    cx = [0, 0, 0]
    cx = _conv(cx, channels, w, 3, hw, bias=True)
    for _ in range(depth - 2):
        cx = _bn(_conv(cx, w, w, 3, hw, bias=False), w)
    cx = _conv(cx, w, channels, 3, hw, bias=False)
    return dict(zip(("flops", "params", "acts"), (int(x) for x in cx)))


@dataclass(frozen=True)
class LowLevelReference:
    """A named SR or denoising network: its task, scale or noise level, counts, and the count its paper
    publishes (``published``: (params, what it counts))."""

    name: str
    task: str
    doc: str
    cx: dict
    published: tuple
    net: RestoreNet | None = None  # when the network is one of dse's RestoreNets (EDSR's family)
    scale: int = 1
    body: object = None  # an Arch: a fixed network (FSRCNN, DnCNN): its middle layers as registered blocks
    in_channels: int = 3

    @property
    def fixed(self) -> bool:
        """Whether the network has ends of its own (not EDSR's skeleton): trained and timed as its own module
        (``dse.models.restore.build_reference``), stored with its ``body`` as the arch."""
        return self.net is None

    def count(self) -> dict:
        """{flops, params, acts} as a sweep stores them (the network's own count at its task's output)."""
        return {k: int(self.cx[k]) for k in ("flops", "params", "acts")}


def _references() -> dict:
    from dse.models.arch import Arch

    out = {}
    for s, pub in ((2, "1.37 M"), (3, "1.55 M"), (4, "1.52 M")):
        net = RestoreNet((16,), (64,), scale=s)
        out[f"edsr_baseline_x{s}"] = LowLevelReference(
            f"edsr_baseline_x{s}", "sr", f"EDSR-baseline x{s} (16 blocks, 64 wide; Lim et al. 2017)",
            restore_complexity(net), (pub, "parameters"), net=net, scale=s)
    for s in SR_SCALES:
        out[f"fsrcnn_x{s}"] = LowLevelReference(
            f"fsrcnn_x{s}", "sr", f"FSRCNN(56, 12, 4) x{s} on the Y channel (Dong et al. 2016)", fsrcnn_cx(s),
            ("12,464", "weights (no biases or PReLU slopes)"), scale=s, in_channels=1,
            body=Arch((4,), (12,), block="plain", strides=(1,)))  # its m = 4 mapping convs (PReLU in the module)
    out["dncnn"] = LowLevelReference("dncnn", "denoise", "DnCNN-S, 17 layers, 64 wide, grey (Zhang et al. 2017)",
                                     dncnn_cx(), ("0.56 M", "parameters"), in_channels=1,
                                     body=Arch((15,), (64,), block="plain_bn", strides=(1,)))
    return out


LOWLEVEL_REFERENCES: dict[str, LowLevelReference] = _references()
