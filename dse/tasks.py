"""Tasks as a registry (like the blocks): what a population is trained to do, and how its results are read.

A ``Task`` says what its metric is (name, unit, and which direction is better: the analyses sort and compare by
``Metric.better``), its loss, how its field counts a network's cost (the output size multiply-adds are counted
at), its own options (an SR scale, a noise level) and which of the paper's findings apply to it. ``classify`` is
dse's behaviour since the start (top-1 error in %, lower is better, counted at the input resolution);
``sr`` (super-resolution, bicubic degradation, x2/x3/x4) and ``denoise`` (additive white Gaussian noise) are the
low-level vision tasks, whose networks (``dse.models.lowlevel``) keep one resolution through the body, have no
BatchNorm by default and end in an upsampler (SR) or a residual (denoising).

    >>> task("sr").metric.text, task("sr").metric.better(31.2, 30.9), task("classify").metric.better(31.2, 30.9)
    ('PSNR (dB, higher is better)', True, False)
    >>> task("sr").count_at
    (1280, 720)

Pure Python, so every layer may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dse.errors import DseError


@dataclass(frozen=True)
class Metric:
    """What a result is: its name and unit, and whether higher is better (PSNR) or lower (error)."""

    name: str
    unit: str
    higher_is_better: bool
    label: str = ""

    @property
    def text(self) -> str:
        return f"{self.label or self.name} ({self.unit}, {'higher' if self.higher_is_better else 'lower'} is better)"

    def fmt(self, v: float, digits: int = 2) -> str:
        """A value with its unit: '43.75%', '31.20 dB'."""
        return f"{v:.{digits}f}{'%' if self.unit == '%' else ' ' + self.unit}"

    def better(self, a: float, b: float) -> bool:
        """Whether result ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b

    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is: multiply to sort best first by descending value."""
        return 1 if self.higher_is_better else -1

    def loss(self, v):
        """A result as the analyses decide on it, lower is better: the value itself (an error), or its negation (a
        PSNR); its own inverse, so ``loss`` also turns a decided value back into the metric's (``shown``).

        >>> PSNR.loss(31.5), ERROR.loss(31.5)
        (-31.5, 31.5)
        """
        return -v if self.higher_is_better else v

    shown = loss  # (negation is its own inverse)

    def results(self, d: dict) -> dict:
        """A dict of oriented results keyed by 'error' (``mean_error_satisfy``, ``min_error_other``) in the
        measure's own words and values: ``mean_psnr_satisfy``, ``best_psnr_other`` (a PSNR's best is its max).

        >>> PSNR.results({"n": 3, "min_error_a": -31.5, "mean_error_a": None})
        {'n': 3, 'best_psnr_a': 31.5, 'mean_psnr_a': None}
        """
        if not self.higher_is_better:
            return dict(d)
        return {(k.replace("min_error", f"best_{self.name}").replace("error", self.name) if "error" in k else k):
                (self.shown(v) if "error" in k and v is not None else v) for k, v in d.items()}

    @property
    def noun(self) -> str:
        """The result's word in a sentence or a column: 'error', 'PSNR'."""
        return "error" if self.name == "error" else (self.label or self.name)

    @property
    def points(self) -> str:
        """The unit of a difference of results: 'points' (of error %), 'dB'."""
        return "points" if self.unit == "%" else self.unit

    @property
    def column(self) -> str:
        """A column's header for the values: 'error (%)', 'PSNR (dB)'."""
        return f"{self.noun} ({self.unit})"

    @property
    def best_word(self) -> str:
        """How the best end of a distribution is named: 'min' (an error) or 'best' (a PSNR: its maximum)."""
        return "best" if self.higher_is_better else "min"


@dataclass(frozen=True)
class Task:
    """One task: its metric, loss, the output size its field counts multiply-adds at (None: at the input
    resolution, as classification does), its own options ({name: allowed values}) and the findings that apply."""

    name: str
    doc: str
    metric: Metric
    loss: str
    count_at: tuple | None = None
    options: dict = field(default_factory=dict)  # {name: allowed values}
    defaults: dict = field(default_factory=dict)  # {name: the value a sweep takes when it gives none}
    findings: tuple = ()
    protocol: dict = field(default_factory=dict)  # the training settings this task uses in place of the declared
    # (classification's) defaults, where a call leaves them out

    @property
    def low_level(self) -> bool:
        return self.name != "classify"

    @property
    def a(self) -> str:
        """The name with its article, as a message says it: "an sr", "a denoise"."""
        return ("an " if self.name[0] in "aeiou" or self.name in ("sr",) else "a ") + self.name


ERROR = Metric("error", "%", False, "top-1 error")
PSNR = Metric("psnr", "dB", True, "PSNR")
SR_SCALES = (2, 3, 4)
NOISE_SIGMAS = (15, 25, 50)  # on the 0-255 scale, the denoising literature's levels

TASKS: dict[str, Task] = {}


def scales_text() -> str:
    """The SR scales as a sentence says them: '2, 3 or 4'."""
    return f"{', '.join(map(str, SR_SCALES[:-1]))} or {SR_SCALES[-1]}"


def register_task(t: Task) -> Task:
    """Add a task to the registry (its name must be new)."""
    if t.name in TASKS:
        raise DseError(f"task {t.name!r} is registered already")
    TASKS[t.name] = t
    return t


register_task(Task("classify", "image classification: top-1 error of a classifier head", ERROR, "cross-entropy",
                   findings=("depth", "b", "wm", "w0", "g", "runtime", "inverted", "depthwise", "resolution", "se",
                             "lrwd")))
# Adam (momentum = beta1) at 1e-3 without weight decay, 16 patches a step (EDSR trains at 1e-4 for 300 epochs of
# 1,000 steps; at the short budgets of a population study 1e-3 converges further), on the offline photographs
LOW_LEVEL_PROTOCOL = {"dataset": "photos", "lr": 1e-3, "weight_decay": 0.0, "batch_size": 16, "nesterov": False}

register_task(Task("sr", "super-resolution: bicubic-downscaled input, x2/x3/x4 output, PSNR on the Y channel "
                         "shaving `scale` pixels at each border", PSNR, "L1", count_at=(1280, 720),
                   options={"scale": SR_SCALES}, defaults={"scale": 2},
                   findings=("depth", "b", "wm", "w0", "runtime", "se"),
                   protocol=LOW_LEVEL_PROTOCOL))
register_task(Task("denoise", "denoising: additive white Gaussian noise of sigma (0-255 scale), PSNR on the "
                              "image", PSNR, "L1", count_at=(256, 256), options={"sigma": NOISE_SIGMAS},
                   defaults={"sigma": 25.0},
                   findings=("depth", "b", "wm", "w0", "runtime", "se"), protocol=LOW_LEVEL_PROTOCOL))


def task_of(regime: dict | None) -> Task:
    """The task a sweep's stored regime names (classification when it names none: stores made before tasks)."""
    return task((regime or {}).get("task", "classify"))


def task(name: str) -> Task:
    """The registered task ``name``; unknown names are a DseError listing them."""
    t = TASKS.get(name) if isinstance(name, str) else None
    if t is None:
        raise DseError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
    return t
