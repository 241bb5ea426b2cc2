"""The Arch type (per-stage d, w and the block's b, g, k, e; the block, stem, strides) and the pycls w/b/g
compatibility rule."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

# the limits and names are defined once, in dse.validate
from dse.validate import as_number
from dse.validate import (ACTIVATIONS, MAX_BOTTLENECK, MAX_DEPTH, MAX_STAGE_DEPTH, MAX_STAGES, MAX_WIDTH,
                          MIN_BOTTLENECK, SETTINGS)

from dse.models.blocks import BLOCK_PARAMS, BLOCK_TYPES, STEM_TYPES, UNUSED, ensure_plugins

STEM_WIDTH = 32
DEFAULT_BLOCK = "res_bottleneck"  # the X block (Y with SE): every network before other blocks existed
KERNELS = (1, 3, 5, 7, 9, 11)
MAX_EXPANSION = 16
SMALL_IMAGE = 64  # images up to this size use the cifar stem (stride 1); larger ones the simple stem
# the per-stage table: the paper's letter of each per-stage parameter and the Arch field that holds it
STAGE_FIELDS = {"d": "depths", "w": "widths", "b": "bottlenecks", "g": "group_widths"}
ARCH_FIELDS = {**STAGE_FIELDS, **BLOCK_PARAMS, "s": "strides"}  # every per-stage field, by letter


def stem_for(resolution: int) -> str:
    """The stem for an image size: 'cifar' (3x3 stride 1) up to 64 px, else 'simple' (stride 2)."""
    return "cifar" if resolution <= SMALL_IMAGE else "simple"


@dataclass(frozen=True)
class Design:
    """What the stages of a network share beside their per-stage values: the block type (and whether it has SE),
    the stem (None: the regime's, by image size) and its width, each stage's stride (None: 2 each) and the width of
    the head's 1x1 conv (0: none, the AnyNet head; EfficientNet's is 1280 at B0)."""

    block: str = DEFAULT_BLOCK
    se: bool = False
    stem: str | None = None
    stem_w: int = STEM_WIDTH
    strides: tuple | None = None
    head_w: int = 0

    def stem_of(self, default: str) -> str:
        """The stem used: the network's own, else ``default`` (the regime's)."""
        return self.stem or default

    def strides_of(self, stages: int) -> tuple:
        return self.strides if self.strides is not None else (2,) * stages


@dataclass(frozen=True)
class Arch:
    """One network: per-stage depths d, widths w and the values its block uses (bottleneck ratios b, paper's,
    w_b = w/b; group widths g; kernels k; expansion ratios e), the block (``dse.models.blocks``; SE on or off),
    the activation (relu or swish: no count depends on it), and the Design fields: strides (default 2 per
    stage), stem (default: the regime's) and stem width, head conv width.

    >>> Arch((1, 2), (32, 64), (1, 1), (16, 16)).key()
    'd=1,2;w=32,64;b=1,1;g=16,16;se=0'
    >>> Arch((9, 9, 9), (16, 32, 64), block="res_basic", strides=(1, 2, 2), stem="cifar", stem_w=16).key()
    'block=res_basic;d=9,9,9;w=16,32,64;s=1,2,2;stem=cifar;stem_w=16'
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bottlenecks: tuple[float, ...] | None = None
    group_widths: tuple[int, ...] | None = None
    se: bool = False
    activation: str = "relu"
    block: str = DEFAULT_BLOCK
    kernels: tuple[int, ...] | None = None
    expansions: tuple[float, ...] | None = None
    strides: tuple[int, ...] | None = None
    stem: str | None = None
    stem_w: int = STEM_WIDTH
    head_w: int = 0

    def __post_init__(self):
        n = len(self.depths)
        bt = BLOCK_TYPES.get(self.block) or ensure_plugins().get(self.block)
        if bt is None:
            raise ValueError(f"unknown block {self.block!r}; registered: {', '.join(sorted(BLOCK_TYPES))}")
        for p, f in BLOCK_PARAMS.items():  # a parameter the block does not use holds one neutral value
            v = getattr(self, f)
            if p not in bt.uses:
                v = (UNUSED[p],) * n
            elif v is None:
                raise ValueError(f"the {self.block} block needs {f} (one per stage)")
            object.__setattr__(self, f, v)
        if not n or any(len(x) != n for x in (self.widths, self.bottlenecks, self.group_widths, self.kernels,
                                                self.expansions)):
            raise ValueError("depths, widths, bottlenecks and group_widths need one value per stage")
        strides = (2,) * n if self.strides is None else self.strides
        if len(strides) != n or any(s not in (1, 2) for s in strides):
            raise ValueError(f"strides need one value per stage, each 1 or 2, got {list(strides)}")
        object.__setattr__(self, "strides", tuple(int(s) for s in strides))
        object.__setattr__(self, "depths", tuple(int(x) for x in self.depths))
        object.__setattr__(self, "widths", tuple(int(x) for x in self.widths))
        object.__setattr__(self, "bottlenecks", tuple(as_number(x) for x in self.bottlenecks))
        object.__setattr__(self, "group_widths", tuple(int(x) for x in self.group_widths))
        object.__setattr__(self, "kernels", tuple(int(x) for x in self.kernels))
        object.__setattr__(self, "expansions", tuple(as_number(x) for x in self.expansions))
        object.__setattr__(self, "se", {"never": False, "always": True}.get(bt.se, bool(self.se)))
        object.__setattr__(self, "stem_w", int(self.stem_w))
        object.__setattr__(self, "head_w", int(self.head_w))
        if min(self.depths) < 1 or min(self.widths) < 1 or min(self.group_widths) < 1:
            raise ValueError("depths, widths and group widths must be positive")
        if n > MAX_STAGES or max(self.depths) > MAX_STAGE_DEPTH or sum(self.depths) > MAX_DEPTH \
                or max(self.widths) > MAX_WIDTH or max(self.group_widths) > MAX_WIDTH:
            raise ValueError(f"too large to build: at most {MAX_STAGES} stages of depth <= {MAX_STAGE_DEPTH} "
                             f"(total <= {MAX_DEPTH}), widths and group widths <= {MAX_WIDTH}")
        for b in self.bottlenecks:
            _check_b(b)
        if any(k not in KERNELS for k in self.kernels):
            raise ValueError(f"kernel sizes must be odd, from 1 to {KERNELS[-1]}, got {list(self.kernels)}")
        if any(not 1 <= e <= MAX_EXPANSION for e in self.expansions):
            raise ValueError(f"expansion ratios must be from 1 to {MAX_EXPANSION}, got {list(self.expansions)}")
        if self.stem is not None and self.stem not in STEM_TYPES:
            raise ValueError(f"stem {self.stem!r} unknown; allowed: {', '.join(STEM_TYPES)}")
        if not 1 <= self.stem_w <= MAX_WIDTH or not 0 <= self.head_w <= MAX_WIDTH:
            raise ValueError(f"stem width must be from 1 to {MAX_WIDTH} and head width from 0 to {MAX_WIDTH}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} unknown; allowed: {', '.join(ACTIVATIONS)}")

    @property
    def stages(self) -> int:
        return len(self.depths)

    @property
    def depth(self) -> int:
        return sum(self.depths)

    @property
    def block_type(self):
        return BLOCK_TYPES[self.block]

    @property
    def design(self) -> Design:
        """The Design (block, SE, stem, stem width, strides, head width) of this network."""
        strides = None if self.strides == (2,) * self.stages else self.strides  # canonical: equal designs compare equal
        return Design(self.block, self.se, stem=self.stem, stem_w=self.stem_w, strides=strides, head_w=self.head_w)

    @property
    def uses(self) -> tuple:
        """The per-stage parameters beyond d and w that this network's block uses (of b, g, k, e)."""
        return self.block_type.uses

    def stage(self, p: str) -> tuple:
        """The per-stage values of parameter ``p`` (d, w, b, g, k, e or s): ``arch.stage("w") == arch.widths``."""
        return getattr(self, ARCH_FIELDS[p])

    def stage_params(self, i: int) -> dict:
        """Stage ``i``'s block parameters, as a block's module and count take them: {b, g, k, e, se}."""
        return {**{p: self.stage(p)[i] for p in BLOCK_PARAMS}, "se": self.se}

    def block_widths(self) -> list[int]:
        """Per-block output widths (the w_j of the RegNet fit)."""
        return [w for d, w in zip(self.depths, self.widths) for _ in range(d)]

    def replace(self, **kw) -> "Arch":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **kw)

    def compatible(self) -> "Arch":
        """The same Arch after the w/b/g compatibility rule, for blocks with b and g (a fixed point)."""
        if not {"b", "g"} <= set(self.uses):
            return self
        w, g = adjust_compatibility(
            np.array([self.widths]), np.array([self.bottlenecks], float), np.array([self.group_widths])
        )
        return self.replace(widths=tuple(w[0]), group_widths=tuple(g[0]))

    def _extras(self) -> list[tuple[str, str, Any]]:
        """(key letter, dict field, value) of what differs from the defaults besides d, w, b, g, se and act."""
        out = [(p, BLOCK_PARAMS[p], list(self.stage(p))) for p in ("k", "e") if p in self.uses]
        if self.strides != (2,) * self.stages:
            out.append(("s", "strides", list(self.strides)))
        out += [(k, k, getattr(self, k)) for k, dv in (("stem", None), ("stem_w", STEM_WIDTH), ("head_w", 0))
                if getattr(self, k) != dv]
        return out

    def key(self) -> str:
        """A canonical string naming the network (equal keys, equal networks); the X/Y block's keys are those of
        stores made before other blocks existed."""
        parts = [f"d={_ints(self.depths)}", f"w={_ints(self.widths)}"]
        if "b" in self.uses:
            parts.append(f"b={_join(self.bottlenecks)}")
        if "g" in self.uses:
            parts.append(f"g={_ints(self.group_widths)}")
        if self.block_type.se == "optional":
            parts.append(f"se={int(self.se)}")
        if self.block != DEFAULT_BLOCK:
            parts.insert(0, f"block={self.block}")
        if self.activation != "relu":  # relu keys predate the field
            parts.append(f"act={self.activation}")
        parts += [f"{k}={_join(v) if isinstance(v, list) else v}" for k, _, v in self._extras()]
        return ";".join(parts)

    def to_dict(self) -> dict:
        d = {"depths": list(self.depths), "widths": list(self.widths)}
        if "b" in self.uses:
            d["bottlenecks"] = [as_number(b) for b in self.bottlenecks]
        if "g" in self.uses:
            d["group_widths"] = list(self.group_widths)
        d["se"] = self.se
        if self.activation != "relu":  # omitted when relu, so archs stored before the field compare equal
            d["activation"] = self.activation
        if self.block != DEFAULT_BLOCK:
            d["block"] = self.block
        d.update({f: v for _, f, v in self._extras()})
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Arch":
        kw = {k: d[k] for k in ("block", "kernels", "expansions", "strides", "stem", "stem_w", "head_w") if k in d}
        return cls(d["depths"], d["widths"], d.get("bottlenecks"), group_widths=d.get("group_widths"),
                   se=d.get("se", False), activation=d.get("activation", "relu"), **kw)


SETTING_KEYS = tuple(SETTINGS)  # the non-network choices, in key order (dse.validate.SETTINGS)


def model_key(arch: Arch, settings: dict | None = None) -> str:
    """A model's canonical string: the network's key, then the design choices sampled beside it (resolution,
    lr, wd, ...), so two models differ in the key exactly when they differ in something sampled."""
    st = settings or {}
    return arch.key() + "".join(f";{k}={_fmt(st[k])}" for k in SETTING_KEYS if st.get(k) is not None)



def _join(v) -> str:
    return ",".join(_fmt(x) for x in v)


def _ints(v) -> str:
    """Integers as the key writes them (the common case, kept cheap: a sampler keys every accepted model)."""
    return ",".join(map(str, v))


def _fmt(x) -> str:
    return str(as_number(x))


def _check_b(b: float) -> None:
    """pycls accepts bot_mul = 1/b that is < 1 or an integer: b >= 1, or b = 1/k (inverted bottleneck)."""
    if not MIN_BOTTLENECK <= b <= MAX_BOTTLENECK:
        raise ValueError(f"bottleneck ratio b must be from 1/64 (a 64x inverted bottleneck) to 64, got {b}")
    if b < 1 and not float(1.0 / b).is_integer():
        raise ValueError(f"a bottleneck ratio b < 1 must be 1/k for an integer k (pycls), got {b}")


def adjust_compatibility(w, b, g):
    """pycls adjust_block_compatibility, vectorised; b is the paper's ratio (pycls bot_mul = 1/b).

    v = int(max(1, w/b)); g = min(g, v); m = lcm(g, 1/b) if 1/b > 1 else g;
    v = max(m, round(v/m)*m) (halves to even); w = int(v*b). Returns (w, g) as int64 arrays.
    """
    w = np.asarray(w, dtype=np.int64)
    bm = 1.0 / np.asarray(b, dtype=np.float64)
    g = np.asarray(g, dtype=np.int64)
    v = np.maximum(1.0, w * bm).astype(np.int64)
    g = np.minimum(g, v)
    m = np.where(bm > 1, np.lcm(g, np.maximum(bm, 1).astype(np.int64)), g)
    v = np.maximum(m, (np.round(v / m) * m).astype(np.int64))
    w = (v / bm).astype(np.int64)
    return w, g
