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


def check_output(path, param: str = "path", exts=None, what: str = "file"):
    """An output file we can write, checked before any work: a known extension (``exts``), not a folder, in a
    folder that exists, and writable (tried by opening it for appending, which changes nothing; a file that
    did not exist is removed again). Else a ParamError naming ``param``. Returns the Path.

    >>> check_output("/no/such/folder/x.csv", "path")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    dse.errors.ParamError: path /no/such/folder/x.csv: folder /no/such/folder does not exist
    """
    import os
    from pathlib import Path

    p = Path(path)
    if exts and p.suffix.lower() not in exts:
        raise ParamError(f"{{{param}}} {path}: unknown {what} type {p.suffix or '(none)'!r}; use "
                         f"{' or '.join(exts)}", param)
    try:
        if p.is_dir():
            raise ParamError(f"{{{param}}} {path} is a folder; give a file name", param)
        parent = p.parent
        if not parent.exists():
            raise ParamError(f"{{{param}}} {path}: folder {parent} does not exist", param)
        if not parent.is_dir():
            raise ParamError(f"{{{param}}} {path}: {parent} is a file, not a folder", param)
        existed = p.exists()
        with open(p, "ab"):
            pass
    except OSError as e:  # permission denied, a name too long, a read-only file system, ...
        raise ParamError(f"{{{param}}} {str(path)[:200]}: cannot write there ({e.strerror or e})", param) from None
    if not existed:
        try:
            os.unlink(p)
        except OSError:
            pass
    return p


def write_error(path, e: OSError) -> "DseError":
    """The user-facing error of a failed write (disk full, folder removed meanwhile)."""
    return DseError(f"cannot write {path}: {e.strerror or e}")


NAME_CHARS = "letters, digits and _ - . @ ~ + = :"
MAX_NAME = 100


def check_name(name, param: str = "sweep", what: str = "sweep name"):
    """A sweep name: 1 to 100 characters, letters, digits and ``_ - . @ ~ + = :``, starting with a letter or
    digit (names are shown in tables, typed in shells and used in file names). Returns it.

    >>> check_name("regnetx@400MF")
    'regnetx@400MF'
    """
    import re

    if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@~+=:-]*", name) and len(name) <= MAX_NAME:
        return name
    shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60]) + f"... ({len(name):,} characters)"
    raise ParamError(f"{{{param}}} {shown} is not a valid {what}: use 1 to {MAX_NAME} characters, {NAME_CHARS}, "
                     f"starting with a letter or digit", param)
