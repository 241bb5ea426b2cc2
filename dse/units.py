"""Counts for people and from people: 397678568 <-> '397.7M'."""

from __future__ import annotations

import re

from dse.errors import DseError

_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def parse_count(text: str, what: str = "value") -> int:
    """'360M', '0.36G', '360MF', '3.6e8' -> int."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)[fF]?\s*", str(text))
    if not m:
        raise DseError(f"{what}: cannot read {text!r}; write a number with an optional K/M/G suffix, e.g. 360M or 0.4G")
    return int(round(float(m.group(1)) * _SUFFIX[m.group(2).upper()]))


def parse_window(text: str, what: str = "--flops") -> tuple[int, int]:
    """'360M:400M' -> (360000000, 400000000)."""
    parts = str(text).split(":")
    if len(parts) != 2:
        raise DseError(f"{what}: expected LO:HI such as 360M:400M or 0.36G:0.4G, got {text!r}")
    lo, hi = (parse_count(p, what) for p in parts)
    if lo > hi:
        raise DseError(f"{what}: LO ({parts[0]}) is larger than HI ({parts[1]})")
    return lo, hi


def human(x, unit: str = "", sep: str = " ") -> str:
    """397678568 -> '397.7 M' ('397.7 MF' with unit 'F'; sep='' gives '397.7M', as --flops reads it)."""
    x = float(x)
    for s, v in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= v:
            return f"{x / v:.{1 if sep else 4}{'f' if sep else 'g'}}{sep}{s}{unit}"
    return f"{x:.0f}{sep}{unit}".rstrip()
