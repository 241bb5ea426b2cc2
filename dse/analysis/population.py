"""A sweep's trained models as arrays for the analyses: errors and every per-model parameter.

Pure: a Population is built from store records (``Population.from_records``) and never writes back.
RegNet fits that are not stored are computed in memory when a parameter needs them (``dse fit``, or
``Study.fit``, stores them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dse.analysis.fit import fit_regnet
from dse.models.precision import BITS, PRECISION_SETTINGS
from dse.errors import DseError, ParamError
from dse.models.arch import STAGE_FIELDS
from dse.validate import ACTIVATIONS, COUNTS, METRIC_COLUMN
from dse.store.records import Fit, ModelRecord, SweepRecord
from dse.tasks import ERROR, Metric, task_of

COMPLEXITY = COUNTS  # (re-exported: the name analyses use)
STAGE_PARAMS = (*STAGE_FIELDS, "k", "e")  # per-stage parameters: d, w, b, g, and the block's kernels and expansions
SPEEDS = ("infer_ms", "train_ms")  # measured by dse speed (one device), where measured
# cost at the models' bit widths (dse.models.precision): listed where a sweep samples bit widths or was drawn in a
# BitOps window; any population has them (a float model's bitops: flops x 32 x 32)
PRECISION_COSTS = ("bitops", "size_bytes", "peak_bytes")
FIT_PARAMS = ("w0", "wa", "wm", "e_fit")
# design choices sampled beside the network (activation as its index in ACTIVATIONS: relu 0, swish 1), and the
# derived lr_wd = lr * wd (RegNet App. C: good models share the product)
SETTING_PARAMS = ("activation", "resolution", "lr", "wd", "lr_wd", "momentum", "batch_size", *PRECISION_SETTINGS)


def stage_index(name: str) -> int | None:
    """'w3' -> 2 (the 0-based stage of a per-stage parameter d1.., w1.., b1.., g1.., and k1.., e1.. of blocks that
    use them); None otherwise (w0 is the RegNet initial width, not a stage)."""
    if len(name) > 1 and name[0] in STAGE_PARAMS and name[1:].isdigit() and int(name[1:]) >= 1:
        return int(name[1:]) - 1
    return None


def check_metric(metric: str) -> str:
    if metric not in METRIC_COLUMN:
        raise ParamError(f"{{metric}} {metric!r} unknown; allowed: final, best", "metric")
    return metric


@dataclass
class Population:
    """The models of one sweep that have the chosen result (``metric``: final or best epoch). ``errors`` are
    oriented lower-is-better whatever the task measures (``measure``, dse.tasks: an error as stored, a PSNR
    negated), so every analysis decides the same way on any task; what it shows goes through
    ``measure.shown``."""

    sweep: str
    metric: str
    space: dict | None  # the sweep's space spec (None when imported)
    space_name: str
    models: list[ModelRecord]
    errors: np.ndarray
    _fits: dict = field(default_factory=dict, repr=False)
    speeds: dict = field(default_factory=dict, repr=False)  # {"infer_ms"|"train_ms": {idx: ms}}
    resolution: int | None = None  # the sweep's regime resolution (a model without its own is counted at it)
    protocol: dict | None = None   # the sweep's training protocol (a model without its own lr, wd, ... used it)
    measure: Metric = ERROR        # what the results are (the task's metric): errors = measure.loss(results)
    regime: dict | None = None     # the sweep's regime (what the bit-operation counts read)
    _costs: dict = field(default_factory=dict, repr=False)  # precision costs, counted when first asked for

    @classmethod
    def from_records(cls, sweep: SweepRecord, models: list[ModelRecord], metric: str = "final",
                     speeds: dict | None = None) -> "Population":
        """The models of ``sweep`` with a ``metric`` error; ``speeds`` {name: {idx: ms}} adds infer_ms/train_ms."""
        col = METRIC_COLUMN[check_metric(metric)]
        ms = [m for m in models if getattr(m, col) is not None]
        measure = task_of(sweep.regime).metric
        return cls(sweep.name, metric, sweep.space, space_name=sweep.space_name, models=ms,
                   errors=measure.loss(np.array([getattr(m, col) for m in ms], dtype=np.float64)), speeds={
                       k: v for k, v in (speeds or {}).items() if any(m.idx in v for m in ms)},
                   resolution=(sweep.regime or {}).get("resolution"), protocol=sweep.protocol, measure=measure,
                   regime=sweep.regime)

    @property
    def n(self) -> int:
        return len(self.errors)

    @property
    def ids(self) -> np.ndarray:
        return np.array([m.idx for m in self.models], dtype=np.int64)

    def require(self, n: int = 2, what: str = "this analysis") -> "Population":
        """Raise unless at least ``n`` models have errors."""
        if self.n < n:
            which = "a best-epoch error (--metric best)" if self.metric == "best" else "errors"
            hint = ("; try --metric final" if self.metric == "best" else
                    " (train it with `dse train`, or import a trained population)")
            raise DseError(f"sweep {self.sweep!r} has {self.n} model(s) with {which}; {what} needs at least {n}{hint}")
        return self

    def _shared(self, p) -> bool:
        space = self.space or {}
        if space.get("family") == "regnet":
            return True
        if p in (space.get("constraints") or {}).get("shared", []):
            return True
        if space:
            return False
        vals = [m.arch.stage(p) for m in self.models]
        return bool(vals) and all(len(set(v)) == 1 for v in vals)

    def param_names(self) -> list[str]:
        """The parameters this population has: d1..dS, w1..wS, b1..bS, g1..gS, depth, flops, params, acts,
        w0, wa, wm, e_fit, and b / g where they are shared by all stages."""
        smax = max((m.arch.stages for m in self.models), default=4)
        own = [p for p in ("k", "e") if any(p in m.arch.uses for m in self.models)]  # the block's kernels, expansions
        names = [f"{p}{i}" for p in (*STAGE_FIELDS, *own) for i in range(1, smax + 1)]
        names += ["depth", *COMPLEXITY, *(PRECISION_COSTS if self.precise() else ()),
                  *[k for k in SPEEDS if k in self.speeds], *FIT_PARAMS]
        names += [p for p in ("b", "g", *own) if self._shared(p)]
        return names + self.setting_names()

    def precise(self) -> bool:
        """Whether precision is part of this population: sampled bit widths, a BitOps window, or models with bits."""
        return bool((self.regime or {}).get("bitops")) or any(
            k in (m.settings or {}) for m in self.models for k in BITS) or bool(
            set(BITS) & set(((self.space or {}).get("params") or {})))

    def costs(self) -> dict:
        """{bitops, size_bytes, peak_bytes} per model (float arrays; NaN where not counted: a fixed network)."""
        if not self._costs:
            from dse.spaces.sampling import Regime

            rg = Regime.from_dict(self.regime) if self.regime else Regime((0, 0), self.resolution or 224)
            got = rg.precision([m.arch for m in self.models], [m.settings for m in self.models])
            self._costs.update({k: np.where(v < 0, np.nan, v.astype(np.float64)) for k, v in got.items()})
        return self._costs

    def setting_names(self) -> list[str]:
        """The design choices this population varies or samples: those its space samples, and any a model
        carries (imported tables); lr_wd whenever lr and wd are both there."""
        sampled = set(((self.space or {}).get("params") or {}))
        sampled |= {k for m in self.models for k in (m.settings or {})}
        if any(m.arch.activation != "relu" for m in self.models):
            sampled.add("activation")
        out = [p for p in SETTING_PARAMS if p in sampled]
        if "lr" in out and "wd" in out:
            out.insert(out.index("wd") + 1, "lr_wd")
        return out

    def _setting(self, m: ModelRecord, name: str):
        """A model's value of a design choice: what it trained with, else what it sampled, else the sweep's."""
        if name == "activation":
            return float(ACTIVATIONS.index(m.arch.activation))
        if name == "lr_wd":
            lr, wd = self._setting(m, "lr"), self._setting(m, "wd")
            return np.nan if np.isnan(lr) or np.isnan(wd) else lr * wd
        v = m.used(name, {"resolution": self.resolution}, self.protocol)
        return np.nan if v is None else float(v)

    def fits(self) -> dict[int, Fit]:
        """{idx: Fit} for every model: the stored fit, else one computed here (kept in memory only)."""
        for m in self.models:
            if m.idx not in self._fits:
                self._fits[m.idx] = m.fit or Fit.from_dict(fit_regnet(m.arch.block_widths()))
        return self._fits

    def values(self, name: str) -> np.ndarray:
        """Per-model values of parameter ``name`` (NaN where a model lacks it, e.g. d4 of a 3-stage model)."""
        if name in PRECISION_COSTS:  # every population has them (normalising a float sweep by BitOps too)
            return self.costs()[name]
        known = self.param_names()
        if name not in known:
            raise ParamError(f"unknown {{param}} {name!r} for sweep {self.sweep!r}; valid: {', '.join(known)}",
                             "param")
        ms = self.models
        if name in ("b", "g", "k", "e"):  # a RegNet's sampled g (the compatibility rule may lower it in narrow stages)
            return np.array([(m.regnet or {}).get(name) or m.arch.stage(name)[0] for m in ms], dtype=np.float64)
        i = stage_index(name)
        if i is not None:
            return np.array([m.arch.stage(name[0])[i] if i < m.arch.stages else np.nan for m in ms],
                            dtype=np.float64)
        if name == "depth":
            return np.array([m.arch.depth for m in ms], dtype=np.float64)
        if name in COMPLEXITY:
            return np.array([getattr(m, name) for m in ms], dtype=np.float64)
        if name in SETTING_PARAMS:
            return np.array([self._setting(m, name) for m in ms], dtype=np.float64)
        if name in SPEEDS:
            t = self.speeds[name]
            return np.array([t.get(m.idx, np.nan) for m in ms], dtype=np.float64)
        if name in ("w0", "wa", "wm") and all(getattr(m, name) is not None for m in ms):
            return np.array([getattr(m, name) for m in ms], dtype=np.float64)
        fits = self.fits()
        return np.array([getattr(fits[m.idx], name) for m in ms], dtype=np.float64)

    def to_frame(self):
        """One row per model: sweep, id, the result (error, or the task's: psnr), and every parameter of
        ``param_names`` but the fitted ones."""
        import pandas as pd

        cols = {"sweep": [self.sweep] * self.n, "id": self.ids, self.measure.name: self.measure.shown(self.errors)}
        for p in self.param_names():
            if p not in FIT_PARAMS or all(m.fit for m in self.models) or (
                    p != "e_fit" and all(getattr(m, p) is not None for m in self.models)):
                cols[p] = self.values(p)
        return pd.DataFrame(cols)
