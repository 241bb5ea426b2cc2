"""One place for every rule about input: the limits of each setting and of networks, the names dse knows, and
the checks of numbers, seeds, names and output paths. Space files, import, ``Protocol``, the API and the CLI
all read these; a limit changed here changes everywhere (``tests/test_validate.py`` checks that they agree).

Pure Python (no numpy, no torch), so every layer may import it.

    >>> SETTINGS["wd"].check(5e-5, "wd")
    5e-05
    >>> SETTINGS["wd"].check(2, "wd")
    Traceback (most recent call last):
    dse.errors.ParamError: wd must be a finite number >= 0 and <= 1, got 2
"""

from __future__ import annotations

import math
import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dse.errors import ParamError

# ---- what a network may be: far beyond any network of the papers (the largest RegNet has d = 40 and
# w < 4096), but small enough that it can be counted in int64 and built in memory
MAX_STAGE_DEPTH, MAX_DEPTH, MAX_STAGES, MAX_WIDTH = 1024, 4096, 16, 65536
MIN_BOTTLENECK, MAX_BOTTLENECK = 1 / 64, 64  # the inner width w/b is at most 64x wider or narrower
MIN_RESOLUTION, MAX_RESOLUTION = 8, 4096     # below 8 px the stride-2 stages of a 4-stage net reach 0 px
MAX_IN_CHANNELS, MAX_CLASSES = 1024, 1_000_000
MAX_BATCH = 65536  # images per SGD step (a protocol's, a space's or a timing's batch)
# ---- what a study may be: beyond these a value is a typo that would fill memory or never end
MAX_MODELS = 1_000_000                 # models per sweep
MAX_EPOCHS, MAX_STEPS = 100_000, 10**9  # a budget
MAX_IMAGES = 10**9                     # a train or test subset
MAX_SEED = 2**63 - 1                   # the store keeps seeds as SQLite INTEGERs (signed 64 bits)
MAX_LR = 1e10  # beyond it lr * gradient overflows float32 at once; 1e8 still studies divergence
MAX_NAME = 100
NOISY_TIMING = 0.2  # a timing whose repeats spread (IQR / median) by more than this was made on a busy machine
NAME_CHARS = "letters, digits and _ - . @ ~ + = :"
_NAME_CHARS = "A-Za-z0-9_.@~+=:-"  # the same, as a regular expression's class

# ---- the names dse knows (each list typed once; everything else imports it)
STEMS = ("simple", "cifar", "resnet")  # dse.models.blocks.STEM_TYPES (7x7/2 + max pool: resnet)
# the paper's default and its App. B alternative (SiLU), each with pycls's name (MODEL.ACTIVATION_FUN)
PYCLS_ACTIVATION = {"relu": "relu", "swish": "silu"}
ACTIVATIONS = tuple(PYCLS_ACTIVATION)
DATASETS = ("fashion-mnist", "cifar10", "imagefolder", "synthetic", "photos")  # photos: SR and denoising only
FIXED_SIZE_DATASETS = ("fashion-mnist", "cifar10")  # images of one size: --resolution does not apply
STATUSES = ("pending", "running", "done", "failed", "diverged")
IMPORT_STATUSES = ("pending", "done", "failed", "diverged")  # 'running' means a live worker: never imported
SOURCES = ("sampled", "imported", "budget", "reference")  # how a sweep was made: dse sample, dse import,
# dse budget-check's copies, dse sample --reference (one named network)
NORMALIZE_BY = ("flops", "params", "acts", "bitops", "size_bytes", "infer_ms", "train_ms")
SPEED_MODES = ("infer", "train")
CHECKPOINT = ("auto", "on", "off")
EXECUTORS = ("local", "ray")
GRAPH_MODES = ("auto", "on", "off", "emulate")  # the CUDA-graph training step (emulate: its code path on a CPU)
METRIC_COLUMN = {"final": "error", "best": "best_error"}  # which error a metric reads: the final or best epoch's
METRICS = tuple(METRIC_COLUMN)
COUNTS = ("flops", "params", "acts")  # a network's complexity, counted as pycls counts it
BANDS = ("none", "dkw", "bootstrap")  # the simultaneous bands of an EDF
SPEED_CHOICES = (*SPEED_MODES, "both")  # what dse speed may time in one run
BLOCKS = {"x": "X block", "y": "X block + squeeze-excitation"}  # a space file's block (Y = X with SE)


@dataclass(frozen=True)
class Limit:
    """A setting's allowed values: a finite number (an integer when ``integer``) in [low, high], open ends as
    given. ``check`` raises a ParamError naming the parameter; ``text`` says the range in words."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    why: str = ""

    def ok(self, v) -> bool:
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
            return False
        if self.integer and not float(v).is_integer():
            return False
        above = v > self.low if self.low_open else v >= self.low
        return above and (v < self.high if self.high_open else v <= self.high)

    def text(self) -> str:
        """'an integer >= 1 and <= 65536' or 'a finite number > 0 and <= 1e+10' (``range_text``)."""
        return range_text(self.low, self.high, self.low_open, self.high_open, self.integer)

    def check(self, v, param: str):
        if not self.ok(v):
            raise ParamError(f"{{{param}}} must be {self.text()}, got {shown(v)}", param)
        return v


# Every setting a space file may sample, an import row may carry and a Protocol holds: one range each.
SETTINGS = {
    "resolution": Limit(MIN_RESOLUTION, MAX_RESOLUTION, integer=True, why="input pixels per side"),
    "lr": Limit(0, MAX_LR, low_open=True, why="the learning rate"),
    "wd": Limit(0, 1, why="weight decay; above 1 the decay term alone shrinks the weights faster than SGD moves them"),
    "momentum": Limit(0, 1, high_open=True, why="SGD momentum; 1 never forgets a gradient"),
    "batch_size": Limit(1, MAX_BATCH, integer=True, why="images per SGD step"),
    # precision (dse.models.precision): 32 means float; the first and last layers keep edge_bits when quantised
    "bits_w": Limit(2, 32, integer=True, why="weight bits; 32 is float"),
    "bits_a": Limit(2, 32, integer=True, why="activation bits; 32 is float"),
    "edge_bits": Limit(2, 32, integer=True, why="the first and last layers' bits in a quantised network"),
}
# the design choices a model may sample beside its network: the activation, then the numeric settings
DESIGN_CHOICES = ("activation", *SETTINGS)
# a model's sampled optimiser settings and the protocol field each overrides (wd is the protocol's weight_decay)
PROTOCOL_FIELD = {"lr": "lr", "wd": "weight_decay", "momentum": "momentum", "batch_size": "batch_size"}
# The regime's and data's other numbers
LIMITS = {
    **SETTINGS,
    "in_channels": Limit(1, MAX_IN_CHANNELS, integer=True),
    "num_classes": Limit(1, MAX_CLASSES, integer=True),
    "train_size": Limit(1, MAX_IMAGES, integer=True),
    "test_size": Limit(1, MAX_IMAGES, integer=True),
    "n": Limit(1, MAX_MODELS, integer=True),
}


def is_number(v) -> bool:
    """A finite real number, not a bool (True is an int in Python, never a count or an error here)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def as_number(x):
    """An int when the value is integral (b = 2, not 2.0; pycls's BOT_MUL 1.0 -> 1), else a float."""
    x = float(x)
    return int(x) if x.is_integer() else x


def usable_cpus() -> int:
    """The CPU cores this process may run on (its affinity: a container's or taskset's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


def check_setting(name: str, v, param: str | None = None):
    """``v`` within the range of setting ``name`` (see SETTINGS, LIMITS); else a ParamError naming ``param``."""
    return LIMITS[name].check(v, param or name)


def check_choice(v, param: str, allowed) -> str:
    """``v`` one of ``allowed``; else a ParamError listing them."""
    if isinstance(v, str) and v in allowed:
        return v
    raise ParamError(f"{{{param}}} {shown(v)} unknown; allowed: {', '.join(allowed)}", param)


def _bound(x, integer: bool) -> str:
    """A range's end as the messages write it: whole numbers from 100,000 with thousands separators."""
    return f"{int(x):,}" if integer and abs(x) >= 10**5 else f"{x:g}"


def range_text(low=None, high=None, low_open: bool = False, high_open: bool = False, integer: bool = False) -> str:
    """A range in the words of every message that refuses a number (one wording: Limit, check_int, check_number
    and dse.params' Int and Real all say it so).

    >>> range_text(1, 65536, integer=True), range_text(0, 1, high_open=True), range_text(1, 10**6, integer=True)
    ('an integer >= 1 and <= 65536', 'a finite number >= 0 and < 1', 'an integer >= 1 and <= 1,000,000')
    """
    lo = "" if low is None else f"{'>' if low_open else '>='} {_bound(low, integer)}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {_bound(high, integer)}"
    return f"{'an integer' if integer else 'a finite number'} " + " and ".join(x for x in (lo, hi) if x)


def check_int(v, param: str, low: int = 1, high: int | None = None):
    """An integer (not a bool) in [low, high]; numpy integers pass. Returns it as int."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low and (high is None or v <= high):
        return int(v)
    raise ParamError(f"{{{param}}} must be {range_text(low, high, integer=True)}, got {shown(v)}", param)


def check_seed(seed, param: str = "seed"):
    """A random seed must be an integer in 0..2^63-1 (numpy refuses negatives, the store larger ones); None passes
    (the default)."""
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED):
        return seed
    if not isinstance(seed, (int, float, str, bool)) and hasattr(seed, "random"):  # a numpy Generator
        return seed
    raise ParamError(f"{{{param}}} must be an integer from 0 to 2^63-1, got {shown(seed)}", param)


def check_number(v, param: str, low=None, high=None, low_open: bool = False, high_open: bool = False,
                 integer: bool = False):
    """A finite number (an integer when ``integer``) within [low, high] (open ends as given); else a ParamError
    naming ``param`` and the allowed range. Returns it."""
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (not integer or float(v).is_integer())
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        raise ParamError(f"{{{param}}} must be {range_text(low, high, low_open, high_open, integer)}, got "
                         f"{shown(v)}", param)
    return v


def check_output(path, param: str = "path", exts=None, what: str = "file"):
    """An output file we can write, checked before any work: a known extension (``exts``), not a folder, in a
    folder that exists, and writable (tried by opening it for appending, which changes nothing; a file that
    did not exist is removed again). Else a ParamError naming ``param``. Returns the Path.

    >>> check_output("/no/such/folder/x.csv", "path")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    dse.errors.ParamError: path /no/such/folder/x.csv: folder /no/such/folder does not exist
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ParamError(f"{{{param}}} must be a file path, got {shown(path)}", param)
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


def check_name(name, param: str = "sweep", what: str = "sweep name"):
    """A sweep name: 1 to 100 characters, letters, digits and ``_ - . @ ~ + = :``, starting with a letter or
    digit (names are shown in tables, typed in shells and used in file names). Returns it.

    >>> check_name("regnetx@400MF")
    'regnetx@400MF'
    """
    if isinstance(name, str) and re.fullmatch(f"[A-Za-z0-9][{_NAME_CHARS}]*", name) and len(name) <= MAX_NAME:
        return name
    raise ParamError(f"{{{param}}} {shown(name)} is not a valid {what}: use 1 to {MAX_NAME} characters, {NAME_CHARS}, "
                     f"starting with a letter or digit", param)


def as_name(text: str, fallback: str) -> str:
    """``text`` made a valid sweep name (other characters become _, cut to the limit), or ``fallback``.

    >>> as_name("my refined", "refined")
    'my_refined'
    """
    name = re.sub(f"[^{_NAME_CHARS}]", "_", text).lstrip("_.@~+=:-")[:MAX_NAME]
    return name or fallback


def name_list(x, param: str) -> list[str]:
    """A name or names (sweeps, parameters) as a list without repeats; None or empty: [].

    >>> name_list("a", "sweeps"), name_list(["a", "b", "a"], "sweeps")
    (['a'], ['a', 'b'])
    """
    items = [x] if isinstance(x, str) else x
    try:
        items = list(items or [])
    except TypeError:
        items = [x]
    if not all(isinstance(i, str) for i in items):
        raise ParamError(f"{{{param}}} must be a name or a list of names, got {shown(x)}", param)
    return list(dict.fromkeys(items))


def shown(v) -> str:
    """A value as an error message shows it: its repr, cut to 60 characters."""
    if isinstance(v, str) and len(v) > 60:
        return repr(v[:60]) + f"... ({len(v):,} characters)"
    s = repr(v)
    return s if len(s) <= 80 else s[:80] + "..."


def parse_budget(text: str) -> tuple[int, str]:
    """'10ep' -> (10, 'ep'); '500it' -> (500, 'it').

    >>> parse_budget("10ep"), parse_budget("500it")
    ((10, 'ep'), (500, 'it'))
    """
    m = re.fullmatch(r"\s*(\d+)\s*(ep|it)\s*", str(text))
    if not m or int(m.group(1)) < 1:
        raise ParamError(f"{{budget}}: cannot read {str(text)[:60]!r}; write Nep (epochs, e.g. 10ep) or Nit "
                         f"(optimizer steps, e.g. 500it)", "budget")
    n, unit = int(m.group(1)), m.group(2)
    top = MAX_EPOCHS if unit == "ep" else MAX_STEPS
    if n > top:
        raise ParamError(f"{{budget}} {text!r}: at most {top:,} {'epochs' if unit == 'ep' else 'steps'} per model",
                         "budget")
    return n, unit
