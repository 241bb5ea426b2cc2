"""The registry of blocks and stems: each block is one entry (its count, its torch module, its names).

A block maps (w_in, w_out, stride, p) to a module and to its complexity; ``p`` holds the stage's values of
the per-stage parameters the block ``uses`` (b: bottleneck ratio, paper's, inner width w/b; g: group width;
k: kernel size; e: expansion ratio of the input width) and ``se`` (squeeze-excitation on or off). Counting
is vectorised (``p``'s values are arrays, one per candidate), so a sampler counts millions of candidates
without torch; the torch module is imported only when a network is built.

Adding a block is one ``register_block(BlockType(...))`` call: a space file can then name it, and sampling,
training, export and import use it (``docs/architecture.md``). Worker processes (GPUs, Ray) import the modules
named in ``DSE_BLOCKS`` (comma-separated) and the ``dse.blocks`` entry points, so a block registered there
exists in every process.

>>> get_block("res_bottleneck").pycls
'res_bottleneck_block'
>>> sorted(BLOCK_TYPES)[:3]
['mbconv', 'res_basic', 'res_bottleneck']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dse.errors import DseError
from dse.models.layers import SE_RATIO, bn_cx, branch, conv_cx, pool_cx, se_cx, where

# the per-stage parameters a block may use beyond d and w: the paper's letter and the Arch field holding it
BLOCK_PARAMS = {"b": "bottlenecks", "g": "group_widths", "k": "kernels", "e": "expansions"}
UNUSED = {"b": 1.0, "g": 1, "k": 3, "e": 1.0}  # what an Arch holds for a parameter its block does not use
SE_MODES = ("never", "optional", "always")


@dataclass(frozen=True)
class BlockType:
    """One block: ``count(cx, w_in, w_out, stride, p) -> cx`` (vectorised, mirrors the module), ``module``
    (a class or "package.module:Class", called as ``Class(w_in, w_out, stride, p, act)``), the names pycls
    knows it by (``pycls``, None when pycls has none; ``pycls_model``: anynet or effnet)."""

    name: str
    doc: str
    count: Callable
    module: Any
    uses: tuple = ()
    se: str = "never"
    pycls: str | None = None
    pycls_model: str = "anynet"

    def __post_init__(self):
        bad = [p for p in self.uses if p not in BLOCK_PARAMS]
        if bad or self.se not in SE_MODES:
            raise ValueError(f"block {self.name!r}: uses must be from {', '.join(BLOCK_PARAMS)} and se one of "
                             f"{', '.join(SE_MODES)}")

    def build(self, w_in: int, w_out: int, stride: int, p: dict, act: str = "relu"):
        """The torch module of one block (imports torch)."""
        cls = self.module
        if isinstance(cls, str):
            mod, _, name = cls.partition(":")
            cls = getattr(importlib.import_module(mod), name)
        return cls(w_in, w_out, stride, p, act)


BLOCK_TYPES: dict[str, BlockType] = {}


RESERVED_BLOCK_NAMES = ("x", "y")  # a space file's short names for res_bottleneck without and with SE


def register_block(block: BlockType) -> BlockType:
    """Add a block to the registry (a name already taken by another block, an empty or reserved name, or a name
    a space file could not write, is refused)."""
    name = block.name
    if not isinstance(name, str) or not name.isidentifier() or name in RESERVED_BLOCK_NAMES:
        raise ValueError(f"block name {name!r} cannot be used: a block is named by an identifier (letters, digits, "
                         f"_) other than {' and '.join(RESERVED_BLOCK_NAMES)}, which space files use for "
                         f"res_bottleneck without and with SE")
    old = BLOCK_TYPES.get(name)
    if old is not None and old != block:
        raise ValueError(f"block {name!r} is registered already")
    BLOCK_TYPES[name] = block
    return block


def get_block(name: str) -> BlockType:
    """The registered block ``name``; an unknown name is a DseError listing the known ones."""
    try:
        return ensure_plugins()[name]
    except (KeyError, TypeError):
        raise DseError(f"unknown block {name!r}; registered: {', '.join(sorted(BLOCK_TYPES))}") from None


def block_by_pycls(name: str, model: str = "anynet") -> BlockType | None:
    """The block pycls calls ``name`` (ANYNET.BLOCK_TYPE), or None."""
    for b in ensure_plugins().values():
        if b.pycls == name and b.pycls_model == model:
            return b
    return None


# --- counts (each mirrors the module of the same name in dse.models.anynet) -----------------------------------

def shortcut_cx(cx, w_in, w_out, stride):
    """The residual's 1x1 projection (conv, BN) where the shape changes, as a parallel branch."""
    proj = (w_in != w_out) | (stride != 1)
    p = branch(cx, lambda c: bn_cx(conv_cx(c, w_in, w_out, 1, stride), w_out))
    return [cx[0]] + where(proj, p[1:], cx[1:])


def basic_cx(cx, w_in, w_out, stride, p=None):
    """Two 3x3 convs with BN: w_in -> w_out (stride), w_out -> w_out."""
    cx = bn_cx(conv_cx(cx, w_in, w_out, 3, stride), w_out)
    return bn_cx(conv_cx(cx, w_out, w_out, 3), w_out)


def res_basic_cx(cx, w_in, w_out, stride, p=None):
    """x + F(x), F = basic_cx, with a projection shortcut when the shape changes."""
    return basic_cx(shortcut_cx(cx, w_in, w_out, stride), w_in, w_out, stride)


def bottleneck_cx(cx, w_in, w_out, stride, p):
    """1x1 (w_in -> w_b = w_out/b), 3x3 group conv (groups w_b/g, stride), SE when on, 1x1 (w_b -> w_out)."""
    w_b = np.round(w_out * (1.0 / p["b"])).astype(np.asarray(w_out).dtype)
    cx = bn_cx(conv_cx(cx, w_in, w_b, 1), w_b)
    cx = bn_cx(conv_cx(cx, w_b, w_b, 3, stride, groups=w_b // p["g"]), w_b)
    if p.get("se"):
        cx = se_cx(cx, w_b, np.round(w_in * SE_RATIO).astype(np.asarray(w_out).dtype))
    return bn_cx(conv_cx(cx, w_b, w_out, 1), w_out)


def res_bottleneck_cx(cx, w_in, w_out, stride, p):
    """x + F(x), F = bottleneck_cx, with a projection shortcut when the shape changes (the X/Y block)."""
    return bottleneck_cx(shortcut_cx(cx, w_in, w_out, stride), w_in, w_out, stride, p)


def mbconv_cx(cx, w_in, w_out, stride, p):
    """MBConv: 1x1 expansion to w_e = int(w_in*e) (none when w_e == w_in), k x k depthwise (stride), SE of
    int(w_in/4), linear 1x1 to w_out; all with BN."""
    dt = np.asarray(w_out).dtype
    w_e = np.floor(w_in * np.asarray(p["e"], dtype=np.float64)).astype(dt)
    cx = where(w_e != w_in, bn_cx(conv_cx(cx, w_in, w_e, 1), w_e), cx)
    cx = bn_cx(conv_cx(cx, w_e, w_e, p["k"], stride, groups=w_e), w_e)
    cx = se_cx(cx, w_e, np.floor(w_in * SE_RATIO).astype(dt))
    return bn_cx(conv_cx(cx, w_e, w_out, 1), w_out)


def wide_res_cx(cx, w_in, w_out, stride, p, bn=False):
    """x + F(x), no activation after the sum (EDSR's block; WDSR's wide activation when e > 1): F = conv 3x3
    w_in -> w_e = floor(w_out*e) (stride), activation, [SE on w_e when on: channel attention, RCAN's], conv 3x3
    w_e -> w_out; each conv with a bias, or without one and followed by BN (``bn``); a 1x1 projection (bias, or
    BN) where the shape changes. SE's width is round(w_in / 4), as the Y block's."""
    dt = np.asarray(w_out).dtype
    w_e = np.floor(w_out * np.asarray(p["e"], dtype=np.float64)).astype(dt)
    proj = (w_in != w_out) | (stride != 1)
    s = branch(cx, lambda c: _conv_norm(c, w_in, w_out, 1, stride, bn=bn))
    cx = [cx[0]] + where(proj, s[1:], cx[1:])
    cx = _conv_norm(cx, w_in, w_e, 3, stride, bn=bn)
    if p.get("se"):
        cx = se_cx(cx, w_e, np.round(w_in * SE_RATIO).astype(dt))
    return _conv_norm(cx, w_e, w_out, 3, 1, bn=bn)


def wide_res_bn_cx(cx, w_in, w_out, stride, p):
    """wide_res_cx with BatchNorm after each conv (no biases)."""
    return wide_res_cx(cx, w_in, w_out, stride, p, bn=True)


def plain_cx(cx, w_in, w_out, stride, p=None):
    """One conv 3x3 w_in -> w_out (stride) with a bias, then the activation; no skip (SRCNN/VDSR/FSRCNN's layers)."""
    return _conv_norm(cx, w_in, w_out, 3, stride, bn=False)


def plain_bn_cx(cx, w_in, w_out, stride, p=None):
    """One conv 3x3 w_in -> w_out (stride), BN, activation; no skip (DnCNN's middle layers)."""
    return _conv_norm(cx, w_in, w_out, 3, stride, bn=True)


def _conv_norm(cx, w_in, w_out, k, stride, *, bn):
    """A conv followed by BN (no bias), or a conv with a bias."""
    return bn_cx(conv_cx(cx, w_in, w_out, k, stride), w_out) if bn else conv_cx(cx, w_in, w_out, k, stride, bias=True)


_M = "dse.models.anynet:"
for _b in (
    BlockType("res_bottleneck", "residual bottleneck: 1x1, 3x3 group conv (+SE: the Y block), 1x1; the X block",
              res_bottleneck_cx, _M + "ResBottleneckBlock", uses=("b", "g"), se="optional",
              pycls="res_bottleneck_block"),  # a space file's x and y (with SE)
    BlockType("res_bottleneck_linear", "the bottleneck without a ReLU after the sum, a skip only where the shape "
              "stays (MobileNetV2-style)", bottleneck_cx, _M + "ResBottleneckLinearBlock", uses=("b", "g"),
              se="optional", pycls="res_bottleneck_linear_block"),
    BlockType("res_basic", "residual basic block: x + two 3x3 convs (ResNet-18/34, CIFAR ResNets)", res_basic_cx,
              _M + "ResBasicBlock", pycls="res_basic_block"),
    BlockType("vanilla", "two 3x3 convs with BN and ReLU, no residual (NDS's Vanilla)", basic_cx,
              _M + "VanillaBlock", pycls="vanilla_block"),
    BlockType("mbconv", "EfficientNet's inverted bottleneck: 1x1 expansion e, k x k depthwise, SE, linear 1x1",
              mbconv_cx, _M + "MBConv", uses=("e", "k"), se="always", pycls="mbconv", pycls_model="effnet"),
    BlockType("wide_res", "EDSR's residual block, wide activation e (WDSR): x + conv 3x3 (w -> w*e), activation, "
              "conv 3x3 (-> w); biases, no BN, no activation after the sum (super-resolution, denoising)",
              wide_res_cx, _M + "WideResBlock", uses=("e",), se="optional"),
    BlockType("wide_res_bn", "wide_res with BatchNorm after each conv instead of biases", wide_res_bn_cx,
              _M + "WideResBNBlock", uses=("e",), se="optional"),
    BlockType("plain", "one 3x3 conv with a bias and the activation, no skip, no BN (a plain SRCNN/VDSR-style "
              "layer)", plain_cx, _M + "PlainBlock"),
    BlockType("plain_bn", "one 3x3 conv, BN, activation, no skip (DnCNN's middle layers)", plain_bn_cx,
              _M + "PlainBNBlock"),
):
    register_block(_b)


# --- stems ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StemType:
    """A stem: a k x k conv (stride), BN, activation, then a 3x3/2 max pool when ``pool``; pycls's name."""

    name: str
    k: int
    stride: int
    pool: bool
    pycls: str
    doc: str

    @property
    def total_stride(self) -> int:
        return self.stride * (2 if self.pool else 1)

    def count(self, cx, w_in, w_out):
        cx = bn_cx(conv_cx(cx, w_in, w_out, self.k, self.stride), w_out)
        return pool_cx(cx, w_out, 3, 2, 1) if self.pool else cx


STEM_TYPES = {s.name: s for s in (
    StemType("simple", k=3, stride=2, pool=False, pycls="simple_stem_in",
             doc="3x3 conv, stride 2 (RegNet's, ImageNet-sized images)"),
    StemType("cifar", k=3, stride=1, pool=False, pycls="res_stem_cifar",
             doc="3x3 conv, stride 1 (small images: CIFAR, Fashion-MNIST)"),
    StemType("resnet", k=7, stride=2, pool=True, pycls="res_stem_in",
             doc="7x7 conv, stride 2, then a 3x3/2 max pool (ResNet's)"),
)}
STEM_BY_PYCLS = {s.pycls: s.name for s in STEM_TYPES.values()}


def load_plugins() -> list[str]:
    """Import the modules of ``DSE_BLOCKS`` (comma-separated) and the ``dse.blocks`` entry points, which register
    their blocks when imported; returns their names. A module that cannot be imported is a DseError naming it."""
    import os
    from importlib.metadata import entry_points

    names = [m.strip() for m in os.environ.get("DSE_BLOCKS", "").split(",") if m.strip()]
    loaded = []
    for name in names:
        _load(f"DSE_BLOCKS names {name!r}", lambda name=name: importlib.import_module(name))
        loaded.append(name)
    for ep in entry_points(group="dse.blocks"):
        _load(f"the dse.blocks entry point {ep.name!r} ({ep.value})", ep.load)
        loaded.append(ep.value)
    return loaded


def _load(what: str, load) -> None:
    """Import one plugin: any failure of a user's module, sys.exit included, is a DseError naming it and why."""
    try:
        load()
    except (Exception, SystemExit) as e:  # noqa: BLE001 - a plugin may fail in any way; dse says which and goes on
        why = f"it called sys.exit({e.code!r})" if isinstance(e, SystemExit) else f"{type(e).__name__}: {e}"
        raise DseError(f"{what}, which cannot be imported: {why}") from None


_plugins: list | None = None


def in_every_process(name: str) -> bool:
    """Whether block ``name`` is registered in a fresh process too (dse's own, or a DSE_BLOCKS / dse.blocks
    plugin's), so spawned workers can build it; a block registered by a notebook or script is not."""
    bt = ensure_plugins().get(name)
    if bt is None:
        return False
    mod = getattr(bt.count, "__module__", "") or ""
    return mod == "dse" or mod.startswith("dse.") or any(mod == p.split(":")[0] for p in (_plugins or []))


def ensure_plugins() -> dict[str, BlockType]:
    """The registry, after the plugins (``load_plugins``) were imported once in this process."""
    global _plugins
    if _plugins is None:
        _plugins = []
        _plugins = load_plugins()
    return BLOCK_TYPES
