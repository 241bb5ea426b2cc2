"""What a model's error means: the training protocol (data, budget, optimiser) and how a budget is read.

Pure data (no torch), so commands that only read results (status, budget-check planning) import it fast.

    >>> Protocol(budget="2ep", batch_size=64).schedule(1000)
    (64, 15, 30)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from dse.errors import DseError, ParamError
from dse.params import DEFAULTS as D
from dse.params import PROTOCOL
from dse.validate import PROTOCOL_FIELD, check_seed, parse_budget


@dataclass(frozen=True)
class Protocol:
    """What a model's error means: dataset (and subset), budget and optimisation regime. Stored per sweep.

    Each field's default and check are its declaration in ``dse.params.PROTOCOL`` (whose numbers use the one table
    of limits, ``dse.validate.SETTINGS``, that space files and import read too: a value a space may sample is a
    value a protocol accepts)."""

    dataset: str = D.dataset
    train_size: int | None = D.train_size
    test_size: int | None = D.test_size
    subset_seed: int = 0
    budget: str = D.budget
    batch_size: int = D.batch_size
    lr: float = D.lr
    momentum: float = D.momentum
    nesterov: bool = D.nesterov
    weight_decay: float = D.weight_decay
    augment: bool = D.augment
    resolution: int | None = D.resolution
    seed: int = D.seed

    def __post_init__(self):
        for k, param in PROTOCOL.items():  # each setting's one declaration (dse.params); the memory the images
            param.check.check(getattr(self, k), k)  # need is checked when they are made
        check_seed(self.seed)
        check_seed(self.subset_seed, "subset_seed")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str | None = None) -> "Protocol":
        """The protocol a sweep stored (keys this version does not know are left out). ``where`` (e.g. "sweep 's'"):
        the dict was read from a store, so a value out of range is a damaged store, said as such (not as an option
        the user typed)."""
        try:
            return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})
        except (ParamError, TypeError) as e:
            if where is None:
                raise
            raise DseError(f"{where}: its stored protocol is damaged ({e}); the store was written by another tool or "
                           f"changed by hand. Sample a new sweep, or retrain this one with dse train --reset-protocol "
                           f"--discard-results") from None

    def schedule(self, n_train: int) -> tuple[int, int, int]:
        """(batch, steps per epoch, total steps); the last partial batch of an epoch is dropped."""
        b = min(self.batch_size, n_train)
        spe = n_train // b
        n, unit = parse_budget(self.budget)
        return b, spe, n * spe if unit == "ep" else n

    def for_model(self, settings: dict | None) -> "Protocol":
        """This protocol with a model's sampled optimiser settings (lr, wd, momentum, batch_size) in place of
        the sweep's: the stored protocol is the base, a model's own values override it for that model. A value
        outside the limits raises a ParamError (the worker marks that model failed with it)."""
        over = {PROTOCOL_FIELD[k]: v for k, v in (settings or {}).items() if k in PROTOCOL_FIELD}
        if "batch_size" in over and isinstance(over["batch_size"], float) and over["batch_size"].is_integer():
            over["batch_size"] = int(over["batch_size"])
        return replace(self, **over) if over else self

    def model_seed(self, idx: int) -> int:
        """The seed of model ``idx`` (its initialisation and data order): seed * 1,000,003 + idx (mod 2^63, which
        changes nothing for seeds below 9 * 10^12 and keeps larger ones in torch's range)."""
        return (self.seed * 1_000_003 + idx) % 2**63

    def lr_at(self, t: int, total: int) -> float:
        """Half-period cosine from lr to 0 over the run, per step, no warm-up."""
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * t / total))
