"""Counts for people and from people: 397678568 <-> '397.7M'."""

from __future__ import annotations

import re

from dse.errors import ParamError

_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def parse_count(text, param: str = "value") -> int:
    """'360M', '0.36G', '360MF', '3.6e8' (or a number) -> int; errors name ``param``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)[fF]?\s*", str(text))
    v = float(m.group(1)) * _SUFFIX[m.group(2).upper()] if m else float("nan")
    if not m or not v < 2**62:
        raise ParamError(f"{{{param}}}: cannot read {text!r}; write a number with an optional K/M/G suffix, "
                         f"e.g. 360M or 0.4G", param)
    return int(round(v))


def parse_window(text, param: str = "flops") -> tuple[int, int]:
    """'360M:400M' (or a pair of numbers) -> (360000000, 400000000); errors name ``param``."""
    parts = [repr(x) for x in text] if isinstance(text, (tuple, list)) else str(text).split(":")
    if len(parts) != 2:
        raise ParamError(f"{{{param}}}: expected LO:HI such as 360M:400M or 0.36G:0.4G, got {text!r}", param)
    lo, hi = (parse_count(p, param) for p in parts)
    if lo > hi:
        raise ParamError(f"{{{param}}}: LO ({parts[0]}) is larger than HI ({parts[1]})", param)
    return lo, hi


def human(x, unit: str = "", sep: str = " ") -> str:
    """397678568 -> '397.7 M' ('397.7 MF' with unit 'F'; sep='' gives '397.7M', as --flops reads it)."""
    x = float(x)
    for s, v in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= v:
            return f"{x / v:.{1 if sep else 4}{'f' if sep else 'g'}}{sep}{s}{unit}"
    return f"{x:.0f}{sep}{unit}".rstrip()
