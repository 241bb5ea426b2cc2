"""The exception types for user mistakes (bad input); the CLI prints them and exits with code 2."""

from __future__ import annotations


class DseError(Exception):
    """A user-facing error: the message says what is wrong, where, and what is allowed."""


class ParamError(DseError):
    """A bad argument of a library function, named as the function names it (``bins must be >= 1``).

    ``template`` may name parameters as ``{bins}``; ``str(e)`` fills in the plain names, and the CLI
    fills in its own flags with ``e.render({"bins": "--bins"})``. ``param`` is the first one named.

    >>> str(ParamError("{bins} must be at least 1, got 0", "bins"))
    'bins must be at least 1, got 0'
    """

    def __init__(self, template: str, *params: str):
        self.template, self.params = template, params
        self.param = params[0] if params else None
        super().__init__(self.render({}))

    def render(self, names: dict) -> str:
        """The message with each named parameter written as ``names[p]`` (default: p itself)."""
        out = self.template
        for p in self.params:  # plain replacement: other braces in the text (a sweep's name) stay as they are
            out = out.replace("{" + p + "}", names.get(p, p))
        return out


MAX_SEED = 2**63 - 1  # the store keeps seeds as SQLite INTEGERs (signed 64 bits)


def check_seed(seed, param: str = "seed"):
    """A random seed must be an integer in 0..2^63-1 (numpy refuses negatives, the store larger ones); None passes
    (the default)."""
    import numbers

    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED):
        return seed
    if not isinstance(seed, (int, float, str, bool)) and hasattr(seed, "random"):  # a numpy Generator
        return seed
    raise ParamError(f"{{{param}}} must be an integer from 0 to 2^63-1, got {seed!r}", param)


def check_number(v, param: str, low=None, high=None, low_open: bool = False, high_open: bool = False,
                 integer: bool = False):
    """A finite number (an integer when ``integer``) within [low, high] (open ends as given); else a ParamError
    naming ``param`` and the allowed range. Returns it."""
    import math
    import numbers

    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (not integer or float(v).is_integer())
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        what = "an integer" if integer else "a finite number"
        raise ParamError(f"{{{param}}} must be {what} {' and '.join(x for x in (lo, hi) if x)}, got {v!r}".replace(
            "  ", " "), param)
    return v
