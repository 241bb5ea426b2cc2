"""Counts for people and from people: 397678568 <-> '397.7M'."""

from __future__ import annotations

import math
import re

from dse.errors import ParamError
from dse.validate import shown

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


def parse_regimes(text, param: str = "regimes") -> list[tuple[int, int]]:
    """'200MF,400MF' -> [(180000000, 200000000), (360000000, 400000000)]: a regime F is the paper's window
    [0.9*F, F]; an item LO:HI is an explicit window. Sorted by flops; overlapping windows are an error."""
    items = list(text) if isinstance(text, (tuple, list)) else str(text).split(",")
    items = [x.strip() if isinstance(x, str) else x for x in items]
    if not items or any(x == "" for x in items):
        raise ParamError(f"{{{param}}}: expected a comma-separated list such as 200MF,400MF,800MF or "
                         f"180M:200M,360M:400M, got {text!r}", param)
    wins = []
    for x in items:
        if isinstance(x, (tuple, list)) or (isinstance(x, str) and ":" in x):
            wins.append(parse_window(x, param))
        else:
            f = parse_count(x, param)
            if f < 1:
                raise ParamError(f"{{{param}}}: a regime must be a positive number of flops, got {x!r}", param)
            wins.append((int(round(0.9 * f)), f))
    wins.sort(key=lambda w: (w[1], w[0]))
    for a, b in zip(wins, wins[1:]):
        if b[0] <= a[1]:
            raise ParamError(f"{{{param}}}: the windows {human(a[0], sep='')}:{human(a[1], sep='')} and "
                             f"{human(b[0], sep='')}:{human(b[1], sep='')} overlap; regimes must be disjoint", param)
    return wins


def regime_label(flops: int) -> str:
    """400000000 -> '400MF', 1600000000 -> '1.6GF': a regime's name, as sweep names carry it."""
    return human(flops, "F", sep="")


def human(x, unit: str = "", sep: str = " ") -> str:
    """397678568 -> '397.7 M' ('397.7 MF' with unit 'F'; sep='' gives '397.7M', as --flops reads it; T above 1e12)."""
    x = float(x)
    for s, v in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= v:
            return f"{x / v:.{1 if sep else 4}{'f' if sep else 'g'}}{sep}{s}{unit}"
    return f"{x:.0f}{sep}{unit}".rstrip()


def duration(s: float) -> str:
    """Seconds in words: 4.2 s, 42 s, 3.5 min, 2.1 h.

    >>> duration(4.2), duration(42), duration(210), duration(7560), duration(1.086e8)
    ('4.2 s', '42 s', '3.5 min', '2.1 h', '30,167 h')
    """
    if s < 10:
        return f"{s:.1f} s"
    if s >= 100 * 3600:
        return f"{s / 3600:,.0f} h"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min" if s < 5400 else f"{s / 3600:.1f} h"


def parse_factors(factors, param: str = "factors") -> list:
    """'2,4' or [2, 4] (or one number) -> [2.0, 4.0]: budget multipliers, each a finite number > 1; errors name
    ``param``.

    >>> parse_factors("2,4"), parse_factors(3)
    ([2.0, 4.0], [3.0])
    """
    if isinstance(factors, str):
        items = factors.split(",")
    elif isinstance(factors, (int, float)) and not isinstance(factors, bool):
        items = [factors]  # one factor
    elif isinstance(factors, (bytes, bytearray, dict)) or isinstance(factors, bool):
        raise ParamError(f"{{{param}}} must be numbers > 1 such as [2, 4] or '2,4', got {shown(factors)}", param)
    else:
        try:
            items = list(factors)
        except TypeError:
            raise ParamError(f"{{{param}}} must be numbers > 1 such as [2, 4] or '2,4', got {factors!r}",
                             param) from None
    out = []
    for x in items:
        try:
            if isinstance(x, bool):
                raise TypeError
            v = float(x)
        except (TypeError, ValueError):
            raise ParamError(f"{{{param}}}: cannot read {shown(x)}; write numbers > 1 such as 2,4", param) from None
        if not math.isfinite(v) or v <= 1:
            raise ParamError(f"{{{param}}}: {x!r} is not a longer budget; each factor must be > 1 (e.g. 2,4)",
                             param)
        out.append(v)
    if not out:
        raise ParamError("{" + param + "}: name at least one factor, e.g. 2,4", param)
    return out
