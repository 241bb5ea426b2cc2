"""Typed records the store hands out: a sweep, a model, a RegNet fit, an epoch. No SQL, no JSON here."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dse.models.arch import Arch
from dse.validate import PROTOCOL_FIELD


@dataclass(frozen=True)
class Fit:
    """The RegNet form fitted to a model's per-block widths: w0, wa, wm and e_fit = mean |ln(w_hat/w)|."""

    w0: int
    wa: float
    wm: float
    e_fit: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Fit":
        return cls(int(d["w0"]), float(d["wa"]), float(d["wm"]), float(d["e_fit"]))


@dataclass(frozen=True)
class SweepRecord:
    """A sweep: its space definition as used (None when imported), regime, seed, source and protocol."""

    name: str
    space_name: str
    space: dict | None  # the space spec (parse with dse.spaces.parse_space)
    regime: dict        # flops window, resolution, stem, in_channels, num_classes, caps
    seed: int | None
    source: str         # 'sampled' or 'imported'
    protocol: dict | None  # the training protocol, fixed by the first training run
    created: str
    dse_version: str

    @property
    def family(self) -> str | None:
        """'anynet' or 'regnet' for sampled sweeps; None for imported ones."""
        return (self.space or {}).get("family")

    @property
    def nominal_flops(self) -> int | None:
        """The regime's nominal flops: the upper end of the sampled window (None for imported sweeps)."""
        hi = (self.regime or {}).get("flops", [0, 0])[1]
        return int(hi) if self.source == "sampled" and hi else None

    @property
    def nominal_bitops(self) -> int | None:
        """A sweep drawn in a BitOps window (dse sample --bitops): that window's upper end; else None."""
        w = (self.regime or {}).get("bitops")
        return int(w[1]) if w else None


@dataclass(frozen=True)
class ModelRecord:
    """One model of a sweep: architecture, complexity, training status and results."""

    sweep: str
    idx: int
    key: str
    arch: Arch
    flops: int
    params: int
    acts: int
    status: str = "pending"
    error: float | None = None       # final-epoch top-1 test error (%)
    best_error: float | None = None  # best epoch's
    epochs: int | None = None
    train_seconds: float | None = None
    images_per_s: float | None = None
    device: str | None = None
    reason: str | None = None        # why it failed or diverged
    attempts: int = 0
    worker: str | None = None        # host:pid of the process that holds (or last held) it
    train_flops: int | None = None   # complexity at the training protocol's resolution
    train_params: int | None = None
    train_acts: int | None = None
    regnet: dict | None = None       # the sampled RegNet parameters {d, w0, wa, wm, b, g}, when it came from one
    fit: Fit | None = None           # the stored RegNet fit (dse fit)
    settings: dict | None = None     # design choices sampled beside the network: resolution, lr, wd, momentum, ...
    trained: dict | None = None      # what it was trained with: lr, wd, momentum, batch_size, resolution, activation

    def setting(self, name: str):
        """A design choice of this model: its activation, else its sampled value (resolution, lr, wd, ...), else
        None (the sweep's regime or protocol decides)."""
        if name == "activation":
            return self.arch.activation
        return (self.settings or {}).get(name)

    def used(self, name: str, regime: dict | None, protocol: dict | None):
        """The value of a design choice this model was counted or trained with: for lr, wd, momentum and
        batch_size what it trained with, else what it sampled, else the sweep's ``protocol``; for resolution its
        own, else the sweep's ``regime``'s; None when none is known."""
        if name == "resolution":
            return self.setting(name) or (regime or {}).get("resolution") or None
        if name in PROTOCOL_FIELD:
            for v in ((self.trained or {}).get(name), self.setting(name), (protocol or {}).get(PROTOCOL_FIELD[name])):
                if v is not None:
                    return v
            return None
        return self.setting(name)

    @property
    def w0(self):
        return (self.regnet or {}).get("w0")

    @property
    def wa(self):
        return (self.regnet or {}).get("wa")

    @property
    def wm(self):
        return (self.regnet or {}).get("wm")


@dataclass
class EpochRow:
    """One epoch of training: train loss and error, test error (%), lr at its end, seconds, images/s."""

    epoch: int
    train_loss: float
    train_error: float
    test_error: float
    lr: float
    seconds: float
    images_per_s: float


@dataclass
class EpochRecord(EpochRow):
    """An EpochRow as stored: of model ``idx`` of ``sweep``."""

    sweep: str = ""
    idx: int = -1


@dataclass(frozen=True)
class SpeedRecord:
    """One timing of a model: milliseconds per batch on a device in a mode (infer or train)."""

    sweep: str
    idx: int
    device: str
    mode: str
    batch: int
    ms: float
    torch: str
    measured: str
    spread: float | None = None  # (q75 - q25) / median of the timed repeats
