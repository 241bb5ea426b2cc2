"""Parameters declared once: what each keyword of the public API accepts, checked before a method does any work.

A ``Check`` says what a value must be (``check``), in words (``text``), and which values it must refuse (``bad``:
a wrong type and the values just outside its range, which ``tests/test_declared.py`` feeds to every method). The
table ``PARAMS`` declares the checks of the keywords many methods share (``seed``, ``metric``, ``lr``,
``device``, ...); ``@checked`` applies to a method the check of each of its keywords found there, and the
method-specific ones given to it, before the method runs: a wrong value raises a ``ParamError`` naming the
keyword (the CLI names its flag) and nothing is read or written.

    >>> Int(1, 10).check(3, "k"), Choice(("a", "b")).text
    (3, 'one of a, b')
    >>> Int(1, 10).check(11, "k")
    Traceback (most recent call last):
    dse.errors.ParamError: k must be an integer >= 1 and <= 10, got 11

Pure Python (no numpy, no torch), so every layer may import it.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from dataclasses import dataclass
from types import SimpleNamespace

from dse.errors import ParamError
from dse.tasks import SR_SCALES, TASKS, scales_text
from dse.units import parse_count, parse_factors, parse_window
from dse.validate import (CHECKPOINT, DATASETS, EXECUTORS, GRAPH_MODES, LIMITS, METRICS, SETTINGS, STEMS,
                          check_choice, check_int, check_name, check_number, check_seed, name_list, parse_budget,
                          range_text, shown)


class Check:
    """What a parameter accepts. ``check(v, param)`` returns v or raises a ParamError naming ``param``."""

    text = "anything"

    def check(self, v, param: str):
        return v

    def bad(self) -> list:
        """Values ``check`` must refuse: a wrong type first, then values just outside the range."""
        return []


class Int(Check):
    """An integer (not a bool) in [low, high]; ``what`` names it in the words of an error ("a number of models")."""

    def __init__(self, low: int = 1, high: int | None = None, what: str | None = None):
        self.low, self.high, self.what = low, high, what
        if what and high is not None:
            self.text = f"{what} from {low:,} to {high:,}"
        else:
            self.text = range_text(low, high, integer=True)

    def check(self, v, param):
        try:
            return check_int(v, param, self.low, self.high)
        except ParamError:
            if not self.what:
                raise
            raise ParamError(f"{{{param}}} must be {self.text}, got {shown(v)}", param) from None

    def bad(self):
        return ["1", 2.5, True, self.low - 1] + ([self.high + 1] if self.high is not None else [])


class Real(Check):
    """A finite number (not a bool) within [low, high], open ends as given."""

    def __init__(self, low=None, high=None, low_open: bool = False, high_open: bool = False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        self.text = range_text(low, high, low_open, high_open)

    def check(self, v, param):
        return check_number(v, param, self.low, high=self.high, low_open=self.low_open, high_open=self.high_open)

    def bad(self):
        out = ["1", True, float("nan"), float("inf")]
        if self.low is not None:
            out.append(self.low if self.low_open else self.low - max(1e-9, abs(self.low) * 1e-9) - 1e-9)
        if self.high is not None:
            out.append(self.high if self.high_open else self.high + max(1e-9, abs(self.high) * 1e-9) + 1e-9)
        return out


class Setting(Check):
    """A setting of ``dse.validate.LIMITS`` (lr, wd, batch_size, resolution, train_size, ...): its one range."""

    def __init__(self, name: str):
        self.name = name

    @property
    def limit(self):  # looked up when used: the one table (dse.validate.SETTINGS, then LIMITS) decides
        return SETTINGS.get(self.name) or LIMITS[self.name]

    @property
    def text(self):
        return self.limit.text()

    def check(self, v, param):
        return self.limit.check(v, param)

    def bad(self):
        lim = self.limit
        step = 1 if lim.integer else max(1e-9, abs(lim.high) * 1e-9)
        out = ["1", True, float("nan")] + ([] if lim.integer else [float("inf")])
        out.append(lim.low if lim.low_open else lim.low - step)
        out.append(lim.high if lim.high_open else lim.high + step)
        if lim.integer:
            out.append(lim.low + 0.5)
        return out


class Choice(Check):
    """One of a list of names."""

    def __init__(self, values):
        self.values = tuple(values)
        self.text = f"one of {', '.join(self.values)}"

    def check(self, v, param):
        return check_choice(v, param, self.values)

    def bad(self):
        return [5, [self.values[0]], "no-such-" + self.values[0]]


class Bool(Check):
    text = "True or False"

    def check(self, v, param):
        if isinstance(v, bool) or type(v).__name__ == "bool_":  # numpy's bool too
            return bool(v)
        raise ParamError(f"{{{param}}} must be True or False, got {shown(v)}", param)

    def bad(self):
        return ["yes", 2]


class Seed(Check):
    text = "an integer from 0 to 2^63-1"

    def check(self, v, param):
        return check_seed(v, param)

    def bad(self):
        return [-1, 2**63, "1", 1.5]


class Name(Check):
    """A sweep name (dse.validate.check_name)."""

    text = "a sweep name"

    def check(self, v, param):
        return check_name(v, param)

    def bad(self):
        return [5, "", "a b"]


class Names(Check):
    """A name or a list of names (None: the default, e.g. every sweep)."""

    text = "a name or a list of names"

    def check(self, v, param):
        name_list(v, param)
        return v

    def bad(self):
        return [5, [1]]


class FilePath(Check):
    """A file or folder path (str or os.PathLike)."""

    text = "a file path"

    def check(self, v, param):
        if isinstance(v, (str, os.PathLike)) and str(v):
            return v
        raise ParamError(f"{{{param}}} must be a file path, got {shown(v)}", param)

    def bad(self):
        return [5, b"x", ""]


class Func(Check):
    text = "a function"

    def check(self, v, param):
        if callable(v):
            return v
        raise ParamError(f"{{{param}}} must be a function, got {shown(v)}", param)

    def bad(self):
        return [5, "x"]


class Text(Check):
    text = "a string"

    def check(self, v, param):
        if isinstance(v, str):
            return v
        raise ParamError(f"{{{param}}} must be a string, got {shown(v)}", param)

    def bad(self):
        return [5, b"x"]


class Numbers(Check):
    """A list of numbers, each passing ``each``."""

    def __init__(self, each: Check):
        self.each = each
        self.text = f"a list of numbers, each {each.text}"

    def check(self, v, param):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise ParamError(f"{{{param}}} must be a list of numbers, got {shown(v)}", param)
        for x in v:
            self.each.check(x, param)
        return v

    def bad(self):
        return [5, ["x"], [self.each.bad()[-1]]]


class Errors(Check):
    """{model index: top-1 error in %}: integer keys, finite numbers in 0..100 (not bools)."""

    text = "a dict {model index: error in % (0..100)}"

    def check(self, v, param):
        if not isinstance(v, dict):
            raise ParamError(f"{{{param}}} must be a dict {{model index: error in %}}, got {shown(v)}", param)
        for k, e in v.items():
            if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
                raise ParamError(f"{{{param}}}: key {shown(k)} is not a model index (an integer >= 0)", param)
            ok = isinstance(e, numbers.Real) and not isinstance(e, bool) and math.isfinite(e) and 0 <= e <= 100
            if not ok:
                raise ParamError(f"{{{param}}}: model {k}: error {shown(e)} is not a top-1 error in % (a finite number "
                                 f"from 0 to 100)", param)
        return v

    def bad(self):
        return [5, {0: True}, {0: float("nan")}, {0: 101.0}, {"a": 3.0}]


class Instance(Check):
    """An object of a given type (a Protocol, a RunOptions)."""

    def __init__(self, kind: type):
        self.kind = kind
        self.text = f"a {kind.__name__}"

    def check(self, v, param):
        if isinstance(v, self.kind):
            return v
        raise ParamError(f"{{{param}}} must be a {self.kind.__module__}.{self.kind.__name__}, got {shown(v)}", param)

    def bad(self):
        return [5, "x"]


class Opt(Check):
    """None, or what ``inner`` accepts."""

    def __init__(self, inner: Check):
        self.inner = inner
        self.text = f"None or {inner.text}"

    def check(self, v, param):
        return None if v is None else self.inner.check(v, param)

    def bad(self):
        return [x for x in self.inner.bad() if x is not None]


class Device(Check):
    """auto, cpu, cuda or cuda:N (whether the device exists is asked when training starts, before any write)."""

    text = "auto, cpu, cuda or cuda:N"

    def check(self, v, param):
        if isinstance(v, str) and (v in ("auto", "cpu", "cuda") or (v.startswith("cuda:") and v[5:].isdigit())):
            return v
        if isinstance(v, str):
            raise ParamError(f"{{{param}}} {shown(v)} unknown; allowed: auto, cpu, cuda, cuda:N", param)
        raise ParamError(f"{{{param}}} must be auto, cpu, cuda or cuda:N, got {shown(v)}", param)

    def bad(self):
        return [0, "gpu"]


class Workers(Check):
    """auto (chosen by model size: dse.train.allocation), or a number of worker processes >= 1 (None: auto)."""

    text = "auto or an integer >= 1"

    def check(self, v, param):
        if v is None or v == "auto":
            return v
        if isinstance(v, str):
            raise ParamError(f"{{{param}}} {shown(v)} unknown; give auto or a number of workers such as 2", param)
        return check_int(v, param, 1, None)

    def bad(self):
        return ["many", 2.5, True, 0]


class Budget(Check):
    """Nep (epochs) or Nit (optimizer steps) within dse's limits (dse.train.protocol.parse_budget)."""

    text = "Nep or Nit, e.g. 10ep or 500it"

    def check(self, v, param):
        if not isinstance(v, str):
            raise ParamError(f"{{{param}}} must be a budget such as '10ep' or '500it', got {shown(v)}", param)
        try:
            parse_budget(v)
        except ParamError as e:
            raise ParamError(e.template.replace("{budget}", "{" + param + "}"), param) from None
        return v

    def bad(self):
        return [10, "10", "0ep", "100001ep"]


class Window(Check):
    """A complexity window LO:HI in multiply-adds ('360M:400M', '0.36G:0.4G') or a pair (lo, hi), lo <= hi."""

    text = "a window LO:HI such as 360M:400M"

    def check(self, v, param):
        parse_window(v, param)
        return v

    def bad(self):
        return ["400M", "400M:360M", "x:y"]


class Count(Check):
    """A positive count with an optional K/M/G suffix ('6M', '0.4G', 4000000): a cap on params or activations."""

    text = "a positive count such as 6M"

    def check(self, v, param):
        if not parse_count(v, param) > 0:  # 0 is no model at all, not "no cap" (omit it for that)
            raise ParamError(f"{{{param}}} must be positive, got {shown(v)}; omit it for no cap", param)
        return v

    def bad(self):
        return ["x", "0", -5, "6Q"]


class Factors(Check):
    """Budget multipliers: '2,4', [2, 4] or one number, each a finite number > 1 (dse.units.parse_factors)."""

    text = "numbers > 1 such as 2,4"

    def check(self, v, param):
        parse_factors(v, param)
        return v

    def bad(self):
        return [b"x", [True], "1", "x", [], {"a": 2}]


@dataclass(frozen=True)
class Param:
    """One setting, declared once: what it accepts, its default, its help, and its CLI flag (default
    ``--name-with-dashes``; ``--x/--no-x`` for a switch). Study's keywords, the dataclasses (Protocol,
    RunOptions) and the click options of every command that takes it are made from this."""

    check: Check
    default: object = None
    help: str = ""
    flag: str | None = None
    metavar: str | None = None

    def cli_flag(self, name: str) -> str:
        return self.flag or "--" + name.replace("_", "-")


# What an error means: the training protocol (dse.train.protocol.Protocol's fields and their defaults)
PROTOCOL = {
    "budget": Param(Budget(), "10ep", "Nep epochs or Nit optimizer steps per model."),
    "dataset": Param(Choice(DATASETS), "fashion-mnist",
                     "fashion-mnist: Debian's IDX files or --data-dir; cifar10: python batches in --data-dir; "
                     "imagefolder: --data-dir with train/ and val/ class folders; synthetic: random (benchmarks); "
                     "photos (SR and denoising sweeps, their default): 8-bit RGB photographs in --data-dir (train/ "
                     "and val/, or one folder), else Debian's mate-backgrounds and scikit-image's."),
    "train_size": Param(Opt(Setting("train_size")), None,
                        "Train on a fixed, seeded subset of this many images (synthetic: generate this many)."),
    "test_size": Param(Opt(Setting("test_size")), None, "Evaluate on a fixed subset of this many."),
    "resolution": Param(Opt(Setting("resolution")), None,
                        "Image size for imagefolder (resize + centre crop) and synthetic data; super-resolution and "
                        "denoising: the training patch in input pixels (default 48, or what the smallest image "
                        "holds)."),
    "batch_size": Param(Setting("batch_size"), 128, "Images per SGD step."),
    "lr": Param(Setting("lr"), 0.05, "Peak learning rate (half-period cosine to 0)."),
    "weight_decay": Param(Setting("wd"), 5e-5, "L2 weight decay on all parameters."),
    "momentum": Param(Setting("momentum"), 0.9, "SGD momentum (Nesterov unless --no-nesterov)."),
    "nesterov": Param(Bool(), True, "Nesterov momentum (--no-nesterov: plain momentum).", "--nesterov/--no-nesterov"),
    "augment": Param(Bool(), True, "Augmentation: pad-and-crop + flip for small images, random-resized-crop + flip "
                                   "for image folders (--no-augment: none).", "--augment/--no-augment"),
}
# The protocol settings a task may give its own default (dse.tasks: Task.protocol): left out of a train call (None),
# they are the task's, else the declared one above (dse train's help says both)
TASK_PROTOCOL = tuple(TASKS["sr"].protocol)

# The regime: what a model is counted and built at (dse.spaces.Regime's fields). Its defaults are the paper's
# (ImageNet: 360-400 MF at 224 px, RGB, 1,000 classes); a space's own [regime] table and a call's keywords come
# first. A task adds its own fields here (every sample-like method, dse model and the CLI take them from this).
REGIME = {
    "flops": Param(Window(), "360M:400M", "Complexity window in multiply-adds, e.g. 360M:400M, 0.36G:0.4G or plain "
                                          "numbers.", metavar="LO:HI"),
    "resolution": Param(Setting("resolution"), 224, "Input image size in pixels (square)."),
    "stem": Param(Choice(STEMS), "simple", "simple: 3x3 conv stride 2 (ImageNet); cifar: stride 1 (small images); "
                                           "resnet: 7x7 stride 2 + max pool. A network with its own stem (ResNet-50, "
                                           "the NDS spaces) keeps it."),
    "in_channels": Param(Setting("in_channels"), 3, "Input channels (3 for RGB, 1 for Fashion-MNIST)."),
    "num_classes": Param(Setting("num_classes"), 1000, "Classes of the classifier head."),
    "scale": Param(Opt(Int(min(SR_SCALES), max(SR_SCALES))), None,
                   f"Super-resolution (an sr space): the scale, {scales_text()}; the input is the "
                   f"image downscaled bicubically by it [default: {TASKS['sr'].defaults['scale']}]."),
    "sigma": Param(Opt(Real(0, 255, low_open=True)), None,
                   f"Denoising (a denoise space): the noise's standard deviation on the 0-255 scale [default: "
                   f"{TASKS['denoise'].defaults['sigma']:g}]."),
}
TASK_REGIME = ("scale", "sigma")  # the regime's fields a low-level task reads (dse.tasks: Task.options)
CLASSIFY_ONLY = ("resolution", "stem", "num_classes")  # the regime's fields a low-level task's count does not read
# How to run training (dse.train.options.RunOptions's fields): not part of what an error means
RUN = {
    "device": Param(Device(), "auto", "auto (all GPUs, else CPU), cpu, cuda, cuda:N."),
    "workers_per_device": Param(Workers(), "auto", "Worker processes per device: auto chooses by model size and "
                                                   "cores (on a CPU, single-threaded workers for small models; 4 "
                                                   "per GPU) and says why; a number overrides it.",
                                "--workers-per-gpu", metavar="auto|N"),
    "data_dir": Param(Opt(FilePath()), None, "Where the dataset lies (default for fashion-mnist: "
                                             "/usr/share/datasets/fashion-mnist; budget-check and compare: where the "
                                             "sweep's training found it)."),
    "checkpoint": Param(Choice(CHECKPOINT), "auto", "Save a resumable checkpoint after every epoch [default: on when "
                                                    "an epoch takes over a minute].",
                        "--checkpoint-every-epoch/--no-checkpoint-every-epoch"),
    "graph": Param(Choice(GRAPH_MODES), "auto", "CUDA graph capture of the training step (GPU only; auto falls back "
                                                "to eager, logged; emulate runs that code path on a CPU, for tests)."),
    "executor": Param(Choice(EXECUTORS), "local",
                      "local: worker processes on this machine; ray: Ray actors (pip install 'dse[ray]')."),
    "address": Param(Opt(Text()), None, "Ray: the cluster to join (auto: the one `ray start --head` runs here) "
                                        "[default: a local Ray instance].", metavar="auto|HOST:PORT"),
    "gpus_per_model": Param(Opt(Real(0, 64, low_open=True)), None,
                            "Ray: GPU fraction per model, e.g. 0.25 packs four per GPU [default: 1/workers-per-gpu]."),
    "max_concurrent": Param(Opt(Int(1)), None,
                            "Ray: at most this many models at once [default: what the cluster's resources allow]."),
    "progress": Param(Opt(Func())), "on_start": Param(Opt(Func())),
}
# The keywords many methods share, with what each accepts (a method may declare its own in @checked)
PARAMS: dict[str, Param] = {
    "sweeps": Param(Names(), None, "Sweep (repeatable; default: every sweep)."),
    "sweep": Param(Text(), None, "The sweep."),  # a sweep read: any name the store holds (one a method creates
    # declares Name())
    "metric": Param(Choice(METRICS), "final", "Which error: of the final epoch, or the best epoch."),
    "seed": Param(Seed(), 0, "Seed."),
    "n_boot": Param(Int(1, 10**8), 10_000, "Bootstrap resamples."),
    "frac": Param(Real(0, 1, low_open=True), 0.25, "Fraction of each resample that counts as good models."),
    "ci": Param(Real(0, 100, low_open=True, high_open=True), 95.0, "Interval in percent."),
    "alpha": Param(Real(0, 1, low_open=True, high_open=True), 0.05, "The KS test's level."),
    "level": Param(Real(0, 1, low_open=True, high_open=True), 0.95, "Confidence of the EDF bands."),
    **PROTOCOL, **RUN,
    "retry_failed": Param(Bool(), False, "Put failed and diverged models back to pending first."),
    "reset_protocol": Param(Bool(), False, "Forget the protocol stored by an earlier (mistaken) run and store this "
                                           "one; refused while any model has results under the old one, unless "
                                           "--discard-results."),
    "discard_results": Param(Bool(), False, "With --reset-protocol: delete every model's results (errors, epochs, "
                                            "checkpoints) and retrain."),
}
# the defaults as attributes, for signatures: def train(self, *, budget=DEFAULTS.budget, ...)
DEFAULTS = SimpleNamespace(**{k: p.default for k, p in PARAMS.items()})
# the regime's defaults: {flops: '360M:400M', resolution: 224, stem: 'simple', in_channels: 3, num_classes: 1000}
REGIME_DEFAULTS = {k: p.default for k, p in REGIME.items()}


def checked(**own: Check):
    """Check a method's keywords before it runs: each keyword declared in ``PARAMS`` (or in ``own``, which wins
    for this method) and given by the caller. The checks are kept as ``method.checks`` ({keyword: Check}), which
    the generated bad-input tests walk."""
    def deco(f):
        sig = inspect.signature(f)
        checks = {p: own[p] if p in own else PARAMS[p].check for p in sig.parameters if p in own or p in PARAMS}

        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            for p, c in checks.items():
                if p in bound.arguments:
                    c.check(bound.arguments[p], p)
            return f(*args, **kwargs)

        wrapper.checks = checks
        return wrapper
    return deco
