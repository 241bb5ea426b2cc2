"""Space files: parse and validate a TOML definition into a Space of discrete distributions."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from dse.errors import DseError, ParamError
from dse.params import CLASSIFY_ONLY, REGIME, TASK_REGIME
from dse.tasks import TASKS
from dse.models.arch import KERNELS, MAX_EXPANSION, STAGE_FIELDS, STEM_WIDTH, Design
from dse.models.blocks import BLOCK_PARAMS, BLOCK_TYPES, STEM_BY_PYCLS, STEM_TYPES, ensure_plugins
from dse.validate import (ACTIVATIONS, BLOCKS, DESIGN_CHOICES, MAX_BOTTLENECK, MAX_STAGE_DEPTH, MAX_STAGES,
                          MAX_WIDTH, MIN_BOTTLENECK)
from dse.validate import SETTINGS as LIMITS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FAMILY_BASE = {"anynet": ("d", "w"), "regnet": ("d", "w0", "wa", "wm")}  # then the block's own (b, g, k, e)
# design choices any space may sample per model (RegNet paper Fig. 14, App. B and C), beside its family's
# parameters: the network's activation, the input resolution it is counted and trained at, and optimiser
# settings that override the sweep's training protocol for that model (wd is the protocol's weight_decay)
SETTINGS = DESIGN_CHOICES  # activation, resolution, lr, wd, momentum, batch_size (dse.validate)
STAGE_PARAMS = tuple(STAGE_FIELDS) + ("k", "e", "groups")  # d, w, b, g, k, e; groups: g as a number of groups
DISTS = {
    "uniform": ({"low", "high"}, {"quantum"}),
    "log_uniform": ({"low", "high"}, {"quantum"}),
    "choice": ({"values"}, {"weights"}),
    "pow2": ({"low", "high"}, set()),
}
TOP_KEYS = {"name", "description", "task", "family", "block", "se", "stem", "stem_w", "strides", "head_w", "stages",
            "params", "constraints", "regime"}
CLASSIFY_DESIGN = ("stem", "stem_w", "strides", "head_w")  # the ends and strides of a classifier, not a restorer's
# [regime]: the space's own default regime, used for what a sample call does not give (NDS: CIFAR size)
REGIME_KEYS = tuple(REGIME)  # a space file's [regime] table: dse.params.REGIME's fields
CONSTRAINT_KEYS = {"shared", "non_decreasing", "max_flops", "max_params", "max_acts", "depth", "w0_eq_wa"}
MAX_VALUES = 1_000_000


@dataclass(frozen=True)
class Dist:
    """A discrete distribution: sorted support ``values`` and their probabilities ``probs``."""

    kind: str
    values: np.ndarray
    probs: np.ndarray

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Values drawn by inverse CDF (vectorised)."""
        idx = np.searchsorted(self.cdf, rng.random(shape), side="right")
        return self.values[np.minimum(idx, len(self.values) - 1)]

    @property
    def cdf(self) -> np.ndarray:
        c = np.cumsum(self.probs)
        return c / c[-1]


@dataclass(frozen=True)
class Space:
    """A validated design space; ``spec`` is the normalised definition stored with a sweep."""

    name: str
    description: str
    family: str
    block: str
    stages: int
    dists: dict
    shared: tuple = ()
    non_decreasing: tuple = ()
    max_params: float | None = None
    max_acts: float | None = None
    spec: dict = field(default_factory=dict)
    design: Design = Design()  # the registered block (and SE), stem, strides, stem and head widths
    max_flops: float | None = None
    depth: tuple | None = None  # total depth band [lo, hi]
    w0_eq_wa: bool = False  # RegNet: wa = w0 (the paper's finding)
    where: str = field(default="", compare=False)  # the file it was read from (for messages)
    regime: dict = field(default_factory=dict)  # its own default regime ([regime]: flops, resolution, stem, ...)
    task: str = "classify"  # dse.tasks: sr and denoise bodies keep one resolution (every stride 1)

    @property
    def settings(self) -> tuple:
        """The design choices this space samples besides the architecture (activation, resolution, lr, ...)."""
        return tuple(p for p in SETTINGS if p in self.dists)

    @property
    def se(self) -> bool:
        return self.design.se

    @property
    def uses(self) -> tuple:
        """The per-stage parameters beyond d and w that the space's block uses (of b, g, k, e)."""
        return BLOCK_TYPES[self.design.block].uses

    def _is_stage_param(self, p: str) -> bool:
        return self.family == "anynet" and p in STAGE_PARAMS

    @property
    def dof(self) -> int:
        """Degrees of freedom: free scalars (a parameter with one possible value is fixed)."""
        n = 0
        for p, dist in self.dists.items():
            if p == "wa" and self.w0_eq_wa:
                continue
            if len(dist.values) > 1:
                n += self.stages if self._is_stage_param(p) and p not in self.shared else 1
        return n

    @property
    def log10_size(self) -> float:
        """log10 of the number of distinct parameter settings (before the complexity window)."""
        total = 0.0
        for p, dist in self.dists.items():
            if p == "wa" and self.w0_eq_wa:
                continue
            k = len(dist.values)
            if not self._is_stage_param(p) or p in self.shared:
                total += math.log10(k)
            elif p in self.non_decreasing:  # multisets of size S from k values
                total += math.log10(math.comb(k + self.stages - 1, self.stages))
            else:
                total += self.stages * math.log10(k)
        return total


MAX_SPACE_BYTES = 1 << 20  # a space file is a page of TOML; anything larger is not one (or is endless: /dev/zero)


def load_space(path) -> Space:
    """Read and validate a space file (TOML, UTF-8, at most 1 MiB)."""
    path = Path(path)
    if path.is_dir():
        raise DseError(f"space file {path} is a folder; give a .toml file")
    if path.exists() and not path.is_file():  # a FIFO would block the read forever, /dev/zero never ends
        raise DseError(f"space file {path} is not a regular file (a device or a pipe); give a .toml file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SPACE_BYTES + 1)
    except OSError as e:
        raise DseError(f"cannot read space file {path}: {e.strerror or e}") from None
    if len(raw) > MAX_SPACE_BYTES:
        raise DseError(f"{path}: larger than 1 MiB, not a space file (a space file is a page of TOML)")
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark some editors write is not part of the TOML
    except UnicodeDecodeError as e:
        raise DseError(f"{path}: not a text file in UTF-8 (byte {e.start}: {raw[e.start:e.start + 1]!r}); a space "
                       f"file is TOML") from None
    if "\0" in text:
        raise DseError(f"{path}: holds NUL bytes, not a text file; a space file is TOML")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DseError(f"{path}: not valid TOML: {e}") from None
    except RecursionError:
        raise DseError(f"{path}: nested too deeply to be a space file (arrays or tables inside one another "
                       f"hundreds of times)") from None
    return parse_space(data, str(path), default_name=path.stem)


def parse_space(data: dict, where: str = "<space>", default_name: str = "space") -> Space:
    """Validate a space definition (the dict a TOML file holds); errors name ``where`` and the key."""

    def err(key, msg):
        raise DseError(f"{where}: {key}: {msg}")

    if not isinstance(data, dict):
        raise DseError(f"{where}: a space definition must be a table")
    _unknown(data, TOP_KEYS, "top level", err)
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        err("name", "must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        err("description", "must be a string")
    task_name = data.get("task", "classify")
    if task_name not in TASKS:
        err("task", f"got {_cut(task_name)}; allowed: " + ", ".join(f"{k} ({t.doc.split(':')[0]})"
                                                                  for k, t in TASKS.items()))
    if task_name != "classify":
        given = [k for k in CLASSIFY_DESIGN if k in data]
        if given:
            err(given[0], f"{TASKS[task_name].a} space's body keeps one resolution (every stride 1) between a "
                          f"head conv and {'an upsampler' if task_name == 'sr' else 'a tail conv'}; "
                          f"{', '.join(given)} belong to classification spaces")
        data = {**data, "strides": [1] * data["stages"] if _is_int(data.get("stages", 4)) else None}
    family = data.get("family")
    if family not in FAMILY_BASE:
        err("family", f"got {_cut(family)}; allowed: {', '.join(FAMILY_BASE)}")
    block = data.get("block", "x")
    stages = data.get("stages", 4)
    if not _is_int(stages) or not 1 <= stages <= MAX_STAGES:
        err("stages", f"got {_cut(stages)}; allowed: an integer from 1 to {MAX_STAGES}")
    design = _parse_design(data, block, family, stages, err)
    wanted = FAMILY_BASE[family] + tuple(p for p in BLOCK_PARAMS if p in BLOCK_TYPES[design.block].uses)
    params = data.get("params")
    if not isinstance(params, dict):
        err("params", f"missing table [params] with one sub-table per parameter: {', '.join(wanted)}")
    if family == "anynet" and "groups" in params and "g" in wanted:  # g given as a number of groups (NDS's ResNeXt)
        wanted = tuple("groups" if p == "g" else p for p in wanted)
        if "g" in params:
            err("[params]", "give either g (group width) or groups (number of groups), not both")
    _unknown(params, set(wanted) | set(SETTINGS), "[params]", err,
             f"the {family} family with {design.block} blocks has parameters {', '.join(wanted)}, and any space "
             f"may sample")
    missing = [p for p in wanted if p not in params]
    if missing:
        err("params",
            f"missing {', '.join('[params.' + p + ']' for p in missing)} (the {family} family with {design.block} "
            f"blocks needs {', '.join(wanted)})")
    wanted = wanted + tuple(p for p in SETTINGS if p in params)
    for p in ("lr", "wd", "momentum"):  # real-valued: the default quantum (1) would leave one value or none
        t = params.get(p)
        if isinstance(t, dict) and t.get("dist") in ("uniform", "log_uniform") and "quantum" not in t:
            err(f"[params.{p}]", "needs a 'quantum' (the grid step of the sampled values, e.g. 0.0001 for lr, "
                                 "1e-7 for wd)")
    dists = {p: _parse_activation(params[p], err) if p == "activation" else
             _parse_dist(params[p], f"[params.{p}]", err) for p in wanted}
    for p, dist in dists.items():
        _check_domain(p, dist.values, family, lambda m, p=p: err(f"[params.{p}]", m))

    cons = data.get("constraints", {})
    if not isinstance(cons, dict):
        err("constraints", "must be a table")
    _unknown(cons, CONSTRAINT_KEYS, "[constraints]", err)
    own = tuple(p for p in wanted if p in STAGE_PARAMS)  # the per-stage parameters this space samples
    shared = _param_list(cons, "shared", family, err, own=own, block=design.block)
    nondec = _param_list(cons, "non_decreasing", family, err, own=own, block=design.block)
    caps = {}
    for k in ("max_flops", "max_params", "max_acts"):
        v = cons.get(k)
        if v is not None and (not _is_num(v) or v <= 0):
            err(f"[constraints] {k}", f"got {_cut(v)}; allowed: a positive number")
        caps[k] = v
    depth = cons.get("depth")
    if depth is not None and not (isinstance(depth, list) and len(depth) == 2 and all(_is_int(x) for x in depth)
                                  and 1 <= depth[0] <= depth[1]):
        err("[constraints] depth",
            f"got {_cut(depth)}; allowed: [LO, HI], integers with 1 <= LO <= HI (total depth band)")
    eq = cons.get("w0_eq_wa", False)
    if not isinstance(eq, bool):
        err("[constraints] w0_eq_wa", f"got {_cut(eq)}; allowed: true or false")
    if eq and family != "regnet":
        err("[constraints] w0_eq_wa", "applies to the regnet family only")
    regime = _parse_regime(data.get("regime", {}), caps["max_flops"], err, task_name)
    spec = {
        "name": name, "description": description, **({"task": task_name} if task_name != "classify" else {}),
        "family": family, "block": block, "stages": stages,
        **{k: data[k] for k in ("se", "stem", "stem_w", "strides", "head_w") if k in data and task_name == "classify"
           or k == "se" and k in data},
        "params": {p: dict(params[p]) for p in wanted},
        "constraints": {k: v for k, v in (("shared", list(shared)), ("non_decreasing", list(nondec)), *caps.items(),
                                          ("depth", depth), ("w0_eq_wa", eq)) if v},
        **({"regime": dict(data["regime"])} if regime else {}),
    }
    return Space(name, description, family, block=block, stages=stages, dists=dists, shared=shared,
                 non_decreasing=nondec,
                 max_params=caps["max_params"], max_acts=caps["max_acts"], spec=spec,
                 depth=tuple(depth) if depth else None, w0_eq_wa=eq, where=where, design=design,
                 max_flops=caps["max_flops"], regime=regime, task=task_name)


def _parse_regime(reg, max_flops, err, task_name: str = "classify") -> dict:
    """A space's [regime] table, each value checked as the sample options check it; its flops window ("LO:HI")
    must reach below the space's own flops cap."""
    from dse.units import parse_window

    if not isinstance(reg, dict):
        err("regime", f"must be a table ({', '.join(REGIME)})")
    _unknown(reg, set(REGIME_KEYS), "[regime]", err)
    t = TASKS[task_name]
    for k in reg:
        if k in TASK_REGIME and k not in t.options or task_name != "classify" and k in CLASSIFY_ONLY:
            err(f"[regime] {k}", f"does not apply to {t.a} space"
                + (f" (it is counted at a {t.count_at[0]}x{t.count_at[1]} output)" if t.count_at else ""))
    out = {}
    for k, v in reg.items():
        try:
            if k == "flops":
                lo, hi = parse_window(v, "flops")
                if max_flops and lo > max_flops:
                    err("[regime] flops", f"the window {v!r} lies above the space's max_flops {max_flops:g}")
                out[k] = v.strip() if isinstance(v, str) else f"{lo}:{hi}"
            else:
                out[k] = REGIME[k].check.check(v, k)
        except ParamError as e:
            err(f"[regime] {k}", str(e))
    return out


def _parse_design(data, block, family, stages, err) -> Design:
    """The block (a registered name; x and y: res_bottleneck without and with SE), se, stem, stem_w, strides and
    head_w of a space file."""
    names = {**{k: k for k in ensure_plugins()}, "x": "res_bottleneck", "y": "res_bottleneck"}
    if not isinstance(block, str) or block not in names:
        err("block", f"got {_cut(block)}; allowed: " + ", ".join(f"{k} ({v})" for k, v in BLOCKS.items())
            + ", or a registered block: " + ", ".join(sorted(BLOCK_TYPES)))
    bt = BLOCK_TYPES[names[block]]
    se = data.get("se", block == "y")
    if not isinstance(se, bool):
        err("se", f"got {_cut(se)}; allowed: true or false")
    if "se" in data and block in ("x", "y"):
        err("se", f"block = {block!r} says it already (x: without SE, y: with); write block = "
                  f"\"res_bottleneck\" with se, or leave se out")
    if (bt.se == "never" and se) or (bt.se == "always" and "se" in data and not se):
        err("se", f"the {bt.name} block has SE {bt.se}")
    if family == "regnet" and not set(bt.uses) <= {"b", "g", "e"}:
        err("block", f"the regnet family draws one b, g and e per network; the {bt.name} block uses "
                     f"{', '.join(bt.uses)} (use the anynet family)")
    stem = data.get("stem")
    if stem is not None:
        if not isinstance(stem, str) or stem not in {**STEM_TYPES, **STEM_BY_PYCLS}:
            err("stem", f"got {_cut(stem)}; allowed: " + ", ".join(f"{k} ({v.doc})" for k, v in STEM_TYPES.items())
                + " (or pycls's names: " + ", ".join(STEM_BY_PYCLS) + ")")
        stem = STEM_BY_PYCLS.get(stem, stem)
    out = {}
    for k, lo, default in (("stem_w", 1, STEM_WIDTH), ("head_w", 0, 0)):
        v = data.get(k, default)
        if not _is_int(v) or not lo <= v <= MAX_WIDTH:
            err(k, f"got {_cut(v)}; allowed: an integer from {lo} to {MAX_WIDTH}")
        out[k] = v
    strides = data.get("strides")
    if strides is not None and not (isinstance(strides, list) and len(strides) == stages
                                    and all(_is_int(x) and x in (1, 2) for x in strides)):
        err("strides", f"got {_cut(strides)}; allowed: a list of {stages} strides (one per stage), each 1 or 2")
    return Design(bt.name, bt.se == "always" or se, stem=stem, stem_w=out["stem_w"],
                  strides=tuple(strides) if strides else None, head_w=out["head_w"])


def _unknown(table, allowed, where, err, what="allowed keys"):
    extra = sorted(set(table) - set(allowed))
    if extra:
        err(where,
            f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}; {what}: "
            f"{', '.join(sorted(allowed))}")


def _param_list(cons, key, family, err, *, own=STAGE_PARAMS, block=""):
    """A constraint's parameters: each one of the per-stage parameters the space itself samples (``own``)."""
    v = cons.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        err(f"[constraints] {key}", "must be a list of parameter names")
    if v and family != "anynet":
        err(f"[constraints] {key}", "applies to per-stage parameters of the anynet family only")
    bad = [x for x in v if x not in STAGE_PARAMS]
    if bad:
        err(f"[constraints] {key}", f"unknown parameter {bad[0]!r}; allowed: {', '.join(STAGE_PARAMS)}")
    absent = [x for x in v if x not in own]
    if absent:
        err(f"[constraints] {key}", f"{absent[0]!r} is not a parameter of this space ({block} blocks sample "
                                    f"{', '.join(own)} per stage)")
    return tuple(dict.fromkeys(v))


def _cut(v) -> str:
    """A value as a message shows it: at most 80 characters."""
    s = repr(v)
    return s if len(s) <= 80 else s[:80] + f"... ({len(s):,} characters)"


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x) -> bool:
    """A finite number that a float holds (a 400-digit integer is none: it would overflow on the way)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def _dec(x) -> Decimal:
    return Decimal(str(x))


def _grid(low, high, q, err, key):
    """Multiples of q in [low, high] (exact decimal arithmetic, so 0.1 steps stay exact)."""
    lo, hi, dq = _dec(low), _dec(high), _dec(q)
    try:
        first = (lo / dq).to_integral_value(rounding="ROUND_CEILING")
        last = (hi / dq).to_integral_value(rounding="ROUND_FLOOR")
    except InvalidOperation:
        err(key, "bounds and quantum out of range")
    if last < first:
        err(key, f"quantum {q} leaves no value in [{low}, {high}]; use a quantum that divides a number in that range")
    if last - first + 1 > MAX_VALUES:
        err(key, f"quantum {q} gives {last - first + 1} values in [{low}, {high}]; at most {MAX_VALUES} allowed")
    ks = np.arange(int(first), int(last) + 1, dtype=np.float64)
    return ks, float(q)


def _parse_dist(t, key, err) -> Dist:
    if not isinstance(t, dict):
        err(key, "must be a table with a 'dist' key")
    kind = t.get("dist")
    if kind not in DISTS:
        err(key, f"dist {kind!r} unknown; allowed: {', '.join(DISTS)}")
    need, opt = DISTS[kind]
    _unknown(t, need | opt | {"dist"}, key, err, f"dist = \"{kind}\" takes")
    for k in sorted(need - set(t)):
        err(key, f"missing {k!r} (dist = \"{kind}\" needs {', '.join(sorted(need))})")
    if kind == "choice":
        vals = t["values"]
        if not isinstance(vals, list) or not vals:
            err(key, "'values' must be a non-empty list of numbers")
        if not all(_is_num(v) for v in vals):
            err(key, f"'values' must be finite numbers, got {_cut(vals)}")
        if len(set(vals)) != len(vals):
            err(key, f"'values' has duplicates: {vals!r}")
        weights = t.get("weights", [1] * len(vals))
        if not isinstance(weights,
                          list) or len(weights) != len(vals) or not all(_is_num(w) and w > 0 for w in weights) \
                or not math.isfinite(sum(float(w) for w in weights)):  # (fsum raises on overflow; sum gives inf)
            err(key, "'weights' must be a list of positive numbers with a finite sum, one per value")
        order = np.argsort(vals)
        v = np.asarray(vals, dtype=np.float64)[order]
        p = np.asarray(weights, dtype=np.float64)[order]
        return Dist(kind, v, p / p.sum())
    low, high = t["low"], t["high"]
    for k, v in (("low", low), ("high", high)):
        if not _is_num(v):
            err(key, f"{k!r} must be a number, got {_cut(v)}")
    if low > high:
        err(key, f"'low' ({low}) > 'high' ({high})")
    if kind == "pow2":
        for k, v in (("low", low), ("high", high)):
            if v <= 0 or not math.log2(v).is_integer():
                err(key, f"{k!r} must be a power of two, got {_cut(v)}")
        e = np.arange(int(math.log2(low)), int(math.log2(high)) + 1, dtype=np.float64)
        v = np.power(2.0, e)
        return Dist(kind, v, np.full(len(v), 1.0 / len(v)))
    q = t.get("quantum", 1)
    if not _is_num(q) or q <= 0:
        err(key, f"'quantum' must be a positive number, got {_cut(q)}")
    if kind == "log_uniform" and low <= 0:
        err(key, f"'low' must be > 0 for a log-uniform distribution, got {low}")
    ks, qf = _grid(low, high, q, err, key)
    v = _values(ks, qf)
    if kind == "uniform":
        return Dist(kind, v, np.full(len(v), 1.0 / len(v)))
    # pycls log_uniform: f log-uniform on (lo - q*, hi], q* = min(q, lo/2), then rounded up to a multiple of q
    a = math.log(v[0] - min(qf, v[0] / 2))
    p = np.diff(np.concatenate([[a], np.log(v)]))
    return Dist(kind, v, p / p.sum())


def _parse_activation(t, err) -> Dist:
    """[params.activation]: dist = "choice" over names (relu, swish); a Dist over their indices in ACTIVATIONS."""
    key = "[params.activation]"
    if not isinstance(t, dict) or t.get("dist") != "choice":
        err(key, 'must be a table with dist = "choice" and values, e.g. values = ["relu", "swish"] (one value fixes '
                 'it)')
    vals = t.get("values")
    if not isinstance(vals, list) or not vals or not all(isinstance(v, str) for v in vals):
        err(key, f"'values' must be a non-empty list of names from {', '.join(ACTIVATIONS)}, got {_cut(vals)}")
    bad = [v for v in vals if v not in ACTIVATIONS]
    if bad:
        err(key, f"activation {bad[0]!r} unknown; allowed: {', '.join(ACTIVATIONS)}")
    if len(set(vals)) != len(vals):  # said with the names (the codes below are internal)
        err(key, f"'values' has duplicates: {vals!r}")
    codes = [ACTIVATIONS.index(v) for v in vals]
    return _parse_dist({**t, "values": codes}, key, err)


def _values(ks, q):
    """k * q, rounded to the quantum's decimals so 0.1 * 245 prints 24.5."""
    decimals = max(0, -_dec(q).normalize().as_tuple().exponent)
    return np.round(ks * q, decimals + 2) if decimals else ks * q


def _check_domain(p, values, family, err):
    """What each parameter may take (pycls rules)."""
    if p == "d" and (np.any(values < 1) or np.any(values != np.round(values)) or np.any(values > MAX_STAGE_DEPTH)):
        err(f"depths must be integers from 1 to {MAX_STAGE_DEPTH}, got {_span(values)}")
    if p in ("w", "g") and (np.any(values < 1) or np.any(values != np.round(values)) or np.any(values > MAX_WIDTH)):
        err(f"{'widths' if p == 'w' else 'group widths'} must be integers from 1 to {MAX_WIDTH}, got {_span(values)}")
    if p in ("w0", "wa") and np.any(values > MAX_WIDTH):
        err(f"{p} must be at most {MAX_WIDTH}, got {_span(values)}")
    if p == "w0" and (np.any(values < 8) or np.any(values % 8 != 0)):
        err("w0 must be a multiple of 8 (quantize with quantum = 8)")
    if p == "wa" and np.any(values < 0):
        err("wa must be >= 0")
    if p == "wm" and np.any(values <= 1):
        err("wm must be > 1")
    if p == "groups" and (np.any(values < 1) or np.any(values != np.round(values)) or np.any(values > MAX_WIDTH)):
        err(f"groups must be integers from 1 to {MAX_WIDTH}, got {_span(values)}")
    if p == "k" and not all(v in KERNELS for v in values):
        err(f"kernel sizes must be odd integers from 1 to {KERNELS[-1]}, got {_span(values)}")
    if p == "e" and (np.any(values < 1) or np.any(values > MAX_EXPANSION)):
        err(f"expansion ratios must be from 1 to {MAX_EXPANSION}, got {_span(values)}")
    if p == "b":
        for b in values:
            if not MIN_BOTTLENECK <= b <= MAX_BOTTLENECK or (b < 1 and not float(1 / b).is_integer()):
                err(f"bottleneck ratio {b:g} not allowed: b from 1 to {MAX_BOTTLENECK}, or b = 1/k for an integer k "
                    f"from 2 to 64")
    if p in LIMITS:  # a setting: the one range Protocol and import check too (dse.validate.SETTINGS)
        lim = LIMITS[p]
        if not all(lim.ok(float(v)) for v in values):
            err(f"{p} must be {lim.text()} ({lim.why}), got {_span(values)}")


def _span(values) -> str:
    return f"{values[0]:g}" if len(values) == 1 else f"values from {values[0]:g} to {values[-1]:g}"
