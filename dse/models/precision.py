"""Cost at a bit width: bit operations, model size and peak activation memory, vectorised over many networks.

Conventions (the low-bit literature's, stated once here and in docs/precision.md):

- a network has a weight bit width ``bits_w`` and an activation bit width ``bits_a``; 32 means float;
- its first layer (the stem's conv; SR: the head conv) and its last (the classifier; SR: the tail conv) keep
  ``edge_bits`` (8) where the network is quantised below that: an end layer's bits are max(b, edge_bits), or 32
  for a float network;
- BitOps = sum over conv and linear layers of multiply-adds x weight bits x activation bits (multiply-adds as
  dse counts them: pycls's, a bias add included; SR's without); a float layer counts 32 x 32;
- size (bytes) = conv and linear weights at their bit widths, every other parameter of the network (biases,
  BN) at 32 bits, rounded up to whole bytes (the quantisers' step sizes, one per output channel and one per
  layer, are not counted: a deployed network folds them into its integer kernels' rescaling);
- peak activation memory (bytes per image) = the largest input a conv or linear layer reads, at that layer's
  activation bits, rounded up to whole bytes.

Counting goes through the same layer functions as flops (``dse.models.layers.tally("weights")``: weights only,
and the largest input instead of the sum of outputs). No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dse.errors import DseError
from dse.models.layers import tally

FLOAT_BITS = 32   # "32 bits" means float: not quantised
EDGE_BITS = 8     # the first and last layers' bits in a quantised network (declared per space: [params.edge_bits])
MAX_EXACT = 2**53  # flops x 32 x 32 must stay below 2^63 (int64)
BITS = ("bits_w", "bits_a")  # the settings that make a model quantised; with edge_bits, its precision
PRECISION_SETTINGS = (*BITS, "edge_bits")
COUNTS = ("flops", "edge_flops", "weights", "edge_weights", "params", "peak", "edge_peak")
COSTS = ("bitops", "size_bytes", "peak_bytes")


def edge_bits_of(bits, edge_bits=EDGE_BITS):
    """An end layer's bits: max(b, edge_bits) for a quantised network, 32 (float) for a float one."""
    b = np.asarray(bits, dtype=np.int64)
    return np.where(b >= FLOAT_BITS, FLOAT_BITS, np.maximum(b, edge_bits))


def precision_cost(counts: dict, bits_w=FLOAT_BITS, bits_a=FLOAT_BITS, edge_bits=EDGE_BITS) -> dict:
    """{bitops, size_bytes, peak_bytes} (int64 arrays) from element ``counts`` (COUNTS, as the count functions
    return them) at ``bits_w``/``bits_a`` (one for all or one per network; 32: float).

    BitOps = (flops - edge_flops) x bw x ba + edge_flops x ew x ea, ew = max(bw, edge_bits) (32 when bw = 32).

    >>> c = {"flops": 100, "edge_flops": 10, "weights": 50, "edge_weights": 5, "params": 60, "peak": 40,
    ...      "edge_peak": 30}
    >>> {k: int(v) for k, v in precision_cost(c, 4, 4).items()}
    {'bitops': 2080, 'size_bytes': 68, 'peak_bytes': 30}
    """
    c = {k: np.asarray(counts[k], dtype=np.int64) for k in COUNTS}
    if np.any(c["flops"] >= MAX_EXACT):
        raise DseError(f"too large to count in bit operations: {int(np.max(c['flops'])):.3g} multiply-adds (at most "
                       f"2^53)")
    bw, ba = (np.asarray(b, dtype=np.int64) for b in (bits_w, bits_a))
    ew, ea = edge_bits_of(bw, edge_bits), edge_bits_of(ba, edge_bits)
    bitops = (c["flops"] - c["edge_flops"]) * bw * ba + c["edge_flops"] * ew * ea
    size_bits = (c["weights"] - c["edge_weights"]) * bw + c["edge_weights"] * ew \
        + (c["params"] - c["weights"]) * FLOAT_BITS
    peak_bits = np.maximum(c["peak"] * ba, c["edge_peak"] * ea)
    return {"bitops": bitops, "size_bytes": -(-size_bits // 8), "peak_bytes": -(-peak_bits // 8)}


def precision_arrays(d, w, b, g, se=False, *, resolution, stem, in_channels, num_classes, extra=None) -> dict:
    """The element counts (COUNTS) of N classification networks given as complexity_arrays takes them: flops,
    the first and last layers' flops, conv and linear weights, theirs, all parameters, the largest input of a
    body layer and of an end layer (elements per image)."""
    from dse.models.complexity import _count, _prepare

    st, res, design = _prepare(d, w, b, g, se, resolution=resolution, extra=extra)
    kw = dict(design=design, stem=stem, in_channels=in_channels, num_classes=num_classes)
    params = sum(p[2] for p in _count(st, res=res, parts=True, **kw))
    with tally("weights"):
        first, body, last = _count(st, res=res, parts=True, **kw)
    return {"flops": first[1] + body[1] + last[1], "edge_flops": first[1] + last[1],
            "weights": first[2] + body[2] + last[2], "edge_weights": first[2] + last[2], "params": params,
            "peak": body[3], "edge_peak": np.maximum(first[3], last[3])}


def precision_many(archs, *, resolution, stem, in_channels, num_classes) -> dict:
    """precision_arrays of a list of Archs of any stage counts and designs (grouped, then counted in bulk);
    ``resolution``: one size, or one per Arch."""
    from dse.models.complexity import _arrays, same_shape

    out = {k: np.zeros(len(archs), dtype=np.int64) for k in COUNTS}
    res = np.broadcast_to(np.asarray(resolution, dtype=np.int64), (len(archs),))
    for design, ix in same_shape(archs):
        core, extra = _arrays([archs[i] for i in ix])
        got = precision_arrays(*core, design, resolution=res[ix], stem=stem, in_channels=in_channels,
                               num_classes=num_classes, extra=extra)
        for k in COUNTS:
            out[k][ix] = got[k]
    return out


@dataclass(frozen=True)
class Precision:
    """A network's bit widths: weights, activations (32: float) and its end layers' floor (``edge_bits``)."""

    bits_w: int = FLOAT_BITS
    bits_a: int = FLOAT_BITS
    edge_bits: int = EDGE_BITS

    @classmethod
    def of(cls, settings: dict | None) -> "Precision":
        """A model's precision from its sampled settings (bits_w, bits_a, edge_bits; float where absent)."""
        st = settings or {}
        return cls(*(int(st.get(k) or d) for k, d in (("bits_w", FLOAT_BITS), ("bits_a", FLOAT_BITS),
                                                      ("edge_bits", EDGE_BITS))))

    @property
    def quantised(self) -> bool:
        return self.bits_w < FLOAT_BITS or self.bits_a < FLOAT_BITS

    def __str__(self) -> str:
        return "float" if not self.quantised else f"w{self.bits_w}a{self.bits_a} (ends {self.edge_bits} bits)"
