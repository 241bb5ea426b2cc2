"""The Arch type (per-stage d, w, b, g and se) and the pycls w/b/g compatibility rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# the limits and names are defined once, in dse.validate
from dse.validate import as_number
from dse.validate import (ACTIVATIONS, MAX_BOTTLENECK, MAX_DEPTH, MAX_STAGE_DEPTH, MAX_STAGES, MAX_WIDTH,
                          MIN_BOTTLENECK, SETTINGS)

STEM_WIDTH = 32
SMALL_IMAGE = 64  # images up to this size use the cifar stem (stride 1); larger ones the simple stem
# the per-stage table: the paper's letter of each per-stage parameter and the Arch field that holds it
STAGE_FIELDS = {"d": "depths", "w": "widths", "b": "bottlenecks", "g": "group_widths"}


def stem_for(resolution: int) -> str:
    """The stem for an image size: 'cifar' (3x3 stride 1) up to 64 px, else 'simple' (stride 2)."""
    return "cifar" if resolution <= SMALL_IMAGE else "simple"


@dataclass(frozen=True)
class Arch:
    """One AnyNet: per-stage depths d, widths w, bottleneck ratios b (paper's, w_b = w/b), group widths g;
    Y blocks when se; the activation (relu or swish) does not change any count."""

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bottlenecks: tuple[float, ...]
    group_widths: tuple[int, ...]
    se: bool = False
    activation: str = "relu"

    def __post_init__(self):
        n = len(self.depths)
        if not n or any(len(x) != n for x in (self.widths, self.bottlenecks, self.group_widths)):
            raise ValueError("depths, widths, bottlenecks and group_widths need one value per stage")
        object.__setattr__(self, "depths", tuple(int(x) for x in self.depths))
        object.__setattr__(self, "widths", tuple(int(x) for x in self.widths))
        object.__setattr__(self, "bottlenecks", tuple(as_number(x) for x in self.bottlenecks))
        object.__setattr__(self, "group_widths", tuple(int(x) for x in self.group_widths))
        object.__setattr__(self, "se", bool(self.se))
        if min(self.depths) < 1 or min(self.widths) < 1 or min(self.group_widths) < 1:
            raise ValueError("depths, widths and group widths must be positive")
        if n > MAX_STAGES or max(self.depths) > MAX_STAGE_DEPTH or sum(self.depths) > MAX_DEPTH \
                or max(self.widths) > MAX_WIDTH or max(self.group_widths) > MAX_WIDTH:
            raise ValueError(f"too large to build: at most {MAX_STAGES} stages of depth <= {MAX_STAGE_DEPTH} "
                             f"(total <= {MAX_DEPTH}), widths and group widths <= {MAX_WIDTH}")
        for b in self.bottlenecks:
            _check_b(b)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} unknown; allowed: {', '.join(ACTIVATIONS)}")

    @property
    def stages(self) -> int:
        return len(self.depths)

    @property
    def depth(self) -> int:
        return sum(self.depths)

    def stage(self, p: str) -> tuple:
        """The per-stage values of parameter ``p`` (one of d, w, b, g): ``arch.stage("w") == arch.widths``."""
        return getattr(self, STAGE_FIELDS[p])

    def block_widths(self) -> list[int]:
        """Per-block output widths (the w_j of the RegNet fit)."""
        return [w for d, w in zip(self.depths, self.widths) for _ in range(d)]

    def compatible(self) -> "Arch":
        """The same Arch after the w/b/g compatibility rule (a fixed point: applying it twice changes nothing)."""
        w, g = adjust_compatibility(
            np.array([self.widths]), np.array([self.bottlenecks], float), np.array([self.group_widths])
        )
        return Arch(self.depths, tuple(w[0]), self.bottlenecks, group_widths=tuple(g[0]), se=self.se,
                    activation=self.activation)

    def key(self) -> str:
        """A canonical string naming the network (equal keys, equal networks)."""
        b = ",".join(_fmt(x) for x in self.bottlenecks)
        parts = [",".join(map(str, x)) for x in (self.depths, self.widths)]
        act = "" if self.activation == "relu" else f";act={self.activation}"  # relu keys predate the field
        return f"d={parts[0]};w={parts[1]};b={b};g={','.join(map(str, self.group_widths))};se={int(self.se)}{act}"

    def to_dict(self) -> dict:
        d = {
            "depths": list(self.depths),
            "widths": list(self.widths),
            "bottlenecks": [as_number(b) for b in self.bottlenecks],
            "group_widths": list(self.group_widths),
            "se": self.se,
        }
        if self.activation != "relu":  # omitted when relu, so archs stored before the field compare equal
            d["activation"] = self.activation
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Arch":
        return cls(d["depths"], d["widths"], d["bottlenecks"], group_widths=d["group_widths"], se=d.get("se", False),
                   activation=d.get("activation", "relu"))


SETTING_KEYS = tuple(SETTINGS)  # the non-network choices, in key order (dse.validate.SETTINGS)


def model_key(arch: Arch, settings: dict | None = None) -> str:
    """A model's canonical string: the network's key, then the design choices sampled beside it (resolution,
    lr, wd, ...), so two models differ in the key exactly when they differ in something sampled."""
    st = settings or {}
    return arch.key() + "".join(f";{k}={_fmt(st[k])}" for k in SETTING_KEYS if st.get(k) is not None)



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
