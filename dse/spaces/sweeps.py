"""Sweeps: sample a space into the store (create or top up) and import populations trained elsewhere."""

from __future__ import annotations

import dataclasses

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dse.errors import DseError, ParamError
from dse.validate import COUNTS, MAX_NAME, check_name, shown
from dse.models.arch import model_key
from dse.models.precision import BITS
from dse.spaces.sampling import Regime, Sampler
from dse.spaces.space import SETTINGS, Space
from dse.store.db import Store
from dse.store.table import import_rows
from dse.units import regime_label


@dataclass
class SampleResult:
    """What ``sample_sweep`` did: models added and totals, with the sampler's statistics."""

    sweep: str
    added: int
    total: int
    tried: int = 0
    accepted: int = 0
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)  # what the user should know about how it was sampled

    def to_dict(self) -> dict:
        return {"sweep": self.sweep, "added": self.added, "total": self.total, "candidates": self.tried,
                "accepted": self.accepted, "acceptance": self.accepted / self.tried if self.tried else None,
                "seconds": round(self.seconds, 4), "complexity": self.stats, "warnings": self.warnings}


def sample_sweep(store: Store, space: Space, regime: Regime, n: int, sweep: str | None = None,
                 seed: int | None = None) -> SampleResult:
    """Sample ``space`` into sweep ``sweep`` until it holds ``n`` models (a new sweep, or a top-up)."""
    if n <= 0:
        raise ParamError(f"{{n}} must be a positive number of models, got {n}", "n")
    name = check_name(space.name if sweep is None else sweep, "sweep",
                      "sweep name" if sweep is not None else "sweep name (the space's name; "
                      "pass --sweep NAME)")
    return _sample_all(store, space, [(name, regime, seed)], n)[0]


def _sample_all(store: Store, space: Space, plan: list, n: int) -> list[SampleResult]:
    """Sample every (sweep, regime, seed) of ``plan`` to ``n`` models, then write them all in one transaction: a
    regime that cannot be filled (or any other error) leaves the store as it was."""
    for _ in range(100):  # a concurrent top-up or creation of one of the sweeps: look again and redo
        drawn = []
        for name, regime, seed in plan:
            existing = name in store.sweep_names()
            if existing:
                seed = _check_top_up(store, name, space, regime, seed)
            seed = 0 if seed is None else int(seed)
            keys = store.model_keys(name) if existing else []
            sampler = Sampler(space, regime, seed)
            models = sampler.sample(n - len(keys), exclude=keys) if len(keys) < n else []
            if not models:
                sampler.tried_ = sampler.accepted_ = sampler.seconds_ = 0
            drawn.append((name, regime, seed, existing, keys, sampler, models))
        with store.write() as c:
            # under the write lock: did another process create or top up one of these sweeps since we looked?
            if any((name in store.sweep_names()) != existing or store.model_keys(name) != keys
                   for name, _, _, existing, keys, _, _ in drawn):
                continue
            for name, regime, seed, existing, keys, _, models in drawn:
                if not models:
                    continue
                if not existing:
                    store.create_sweep(c, name, space.name, space=space.spec, regime=regime.to_dict(), seed=seed,
                                       source="sampled")
                store.add_models(c, name, [vars(m) for m in models], store.next_index(c, name))
        return [SampleResult(name, len(models), len(keys) + len(models), tried=sm.tried_, accepted=sm.accepted_,
                             seconds=sm.seconds_,
                             stats=_stats(store, name)) for name, _, _, _, keys, sm, models in drawn]
    names = ", ".join(repr(p[0]) for p in plan)
    raise DseError(f"sweep {names} kept changing while it was sampled (other processes writing to it); try again")


def reference_sweep(store: Store, ref, regime: Regime, sweep: str | None = None) -> SampleResult:
    """A one-model sweep (``source`` "reference") holding the reference network ``ref`` counted at ``regime``, to
    train and time beside populations; the same network again is a no-op, another one under its name an error."""
    name = check_name(ref.name if sweep is None else sweep, "sweep", "sweep name" if sweep is not None else
                      "sweep name (the network's name; pass --sweep NAME)")
    cx = regime.count(ref.arch)  # (classification at its resolution; SR and denoising at the task's output)
    model = {"arch": ref.arch, **cx, "regnet": ref.regnet}
    regime = dataclasses.replace(regime, flops=(cx["flops"], cx["flops"]), max_params=None, max_acts=None,
                                 ms_cap=None)
    with store.write() as c:
        if name in store.sweep_names():
            row = store.sweep(name)
            if row.source != "reference" or row.space_name != ref.name or row.regime != _canon(regime.to_dict()):
                raise DseError(f"sweep {name!r} already exists in {store.path} and is not {ref.name} at this regime; "
                               f"choose another --sweep name")
            return SampleResult(name, 0, 1, stats=_stats(store, name))
        store.create_sweep(c, name, ref.name, space=None, regime=regime.to_dict(), seed=None, source="reference")
        store.add_models(c, name, [model], 0)
    return SampleResult(name, 1, 1, stats=_stats(store, name))


def _check_top_up(store: Store, name: str, space: Space, regime: Regime, seed: int | None) -> int:
    """An existing sweep can be topped up only from the same space, regime and seed; returns its seed."""
    row = store.sweep(name)
    if row.source != "sampled":
        how = {"imported": "imported", "reference": "made by dse sample --reference"}.get(row.source,
                                                                                         "made by dse budget-check")
        raise DseError(f"sweep {name!r} was {how}, not sampled; choose another --sweep name")
    if row.space != _canon(space.spec):
        raise DseError(f"sweep {name!r} was sampled from a different space definition "
                       f"({row.space_name}); use another --sweep name for this space")
    if row.regime != _canon(regime.to_dict()):
        raise DseError(f"sweep {name!r} was sampled under another regime ({_regime_str(row.regime)}); "
                       f"use another --sweep name, or the same options to top it up")
    if seed is not None and seed != row.seed:
        raise DseError(f"sweep {name!r} was sampled with seed {row.seed}; top it up with that seed "
                       f"(omit --seed) or use another --sweep name")
    return row.seed


def regime_seed(seed: int, window: tuple[int, int]) -> int:
    """The seed of one regime of a multi-regime sample: an independent stream per window, fixed by (seed, window)
    so that adding regimes later leaves the existing ones' streams (and top-ups) unchanged."""
    return int(np.random.SeedSequence([int(seed), int(window[0]), int(window[1])]).generate_state(1)[0])


def sample_regimes(store: Store, space: Space, regimes: list[Regime], n: int, prefix: str | None = None,
                   seed: int | None = None) -> list[SampleResult]:
    """Sample ``space`` at each regime into sweep ``<prefix>@<regime>`` (``regnetx@400MF``), ``n`` models each.

    Every sweep is checked before any is written, so a conflict (another space, regime or seed under one of
    the names) changes nothing."""
    prefix = check_name(space.name if prefix is None else prefix, "sweep",
                        "sweep name prefix" if prefix is not None else
                        "sweep name prefix (the space's name; pass --sweep NAME)")
    if "@" in prefix:
        raise ParamError(f"{{sweep}} {prefix!r}: with several regimes the name is a prefix and must not hold '@' "
                         f"(sweeps are named PREFIX@REGIME)", "sweep")
    labels = [regime_label(r.flops[1]) for r in regimes]
    same = sorted({lb for lb in labels if labels.count(lb) > 1})
    if same:  # one name for two windows: the second would be refused as "another regime" after the first was kept
        raise ParamError(f"{{regimes}}: several windows end at the same label {same[0]} (the sweep name "
                         f"{prefix}@{same[0]}); give windows whose upper ends differ in their first 4 significant "
                         f"digits", "regimes")
    longest = max((f"{prefix}@{lb}" for lb in labels), key=len)
    if len(longest) > MAX_NAME:  # each full name, not only the prefix, must be a name dse accepts later
        raise ParamError(f"{{sweep}} prefix {shown(prefix)} makes sweep names such as {shown(longest)} of "
                         f"{len(longest)} characters; names hold at most {MAX_NAME}: use a prefix of at most "
                         f"{MAX_NAME - (len(longest) - len(prefix))} characters", "sweep")
    plan = []
    for r in regimes:
        name = f"{prefix}@{regime_label(r.flops[1])}"
        s = regime_seed(0 if seed is None else seed, r.flops)
        if name in store.sweep_names():
            stored = _check_top_up(store, name, space, r, None)
            if seed is not None and s != stored:
                raise DseError(f"sweep {name!r} was sampled with another --seed; omit --seed to top it up, or use "
                               f"another --sweep prefix")
            s = stored
        plan.append((name, r, s))
    if n <= 0:
        raise ParamError(f"{{n}} must be a positive number of models, got {n}", "n")
    return _sample_all(store, space, plan, n)


def import_sweep(store: Store, path, name: str, regime: Regime) -> int:
    """Read a population (CSV/Parquet) into a new sweep ``name``; returns the number of models."""
    check_name(name, "sweep", "sweep name" if name != Path(path).stem else "sweep name (the file's name; pass --sweep "
               "NAME)")
    if name in store.sweep_names():
        raise DseError(f"sweep {name!r} already exists in {store.path}; import into a new --sweep name")
    models, space_name, regime = import_rows(path, regime)
    seen = set()
    for i, m in enumerate(models):  # populations may repeat an architecture (several runs): keep each row
        k = model_key(m["arch"], m.get("settings"))
        m["key"] = k if k not in seen else f"{k}#{i}"
        seen.add(k)
    with store.write() as c:
        if name in store.sweep_names():  # created by another process while the file was read
            raise DseError(f"sweep {name!r} was created in {store.path} by another process meanwhile; import into "
                           f"a new --sweep name")
        store.create_sweep(c, name, space_name, space=None, regime=regime.to_dict(), seed=None, source="imported")
        store.add_models(c, name, models, 0)
    return len(models)


def import_pycls_sweep(store: Store, path, name: str) -> int:
    """Read a pycls sweep.json (``dse.store.pycls``) into a new sweep ``name``: all jobs checked, then written in
    one transaction with their per-epoch rows and the protocol read from their configs."""
    from dse.store.pycls import protocol_of, read_sweep_json

    if name in store.sweep_names():
        raise DseError(f"sweep {name!r} already exists in {store.path}; import into a new --sweep name")
    jobs = read_sweep_json(path)
    # a network with its own stem (ResNet-50's, EfficientNet's, the NDS spaces') keeps it: only the others share one
    regs = {(j["regime"]["stem"] if j["arch"].stem is None else None, j["regime"]["num_classes"]) for j in jobs}
    if len({c for _, c in regs}) > 1 or len({s for s, _ in regs} - {None}) > 1:
        raise DseError(f"{path}: the jobs use different stems or class counts "
                       f"({sorted(regs, key=str)}): not one population")
    stem = next((s for s, _ in regs if s is not None), jobs[0]["regime"]["stem"])
    classes = next(iter(regs))[1]
    sizes = sorted({j["regime"]["resolution"] for j in jobs})
    res = max(sizes, key=[j["regime"]["resolution"] for j in jobs].count)
    protocol, own = protocol_of(jobs)
    regime = Regime((0, 0), res, stem, 3, classes)
    seen = set()
    for i, (j, o) in enumerate(zip(jobs, own)):
        st = dict(o)
        if j["regime"]["resolution"] != res:
            st["resolution"] = j["regime"]["resolution"]
        j["settings"] = st or None
        k = model_key(j["arch"], j["settings"])
        j["key"] = k if k not in seen else f"{k}#{i}"
        seen.add(k)
    with store.write() as c:
        if name in store.sweep_names():
            raise DseError(f"sweep {name!r} was created in {store.path} by another process meanwhile; import into "
                           f"a new --sweep name")
        store.create_sweep(c, name, "pycls", space=None, regime=regime.to_dict(), seed=None, source="imported")
        store.add_models(c, name, jobs, 0)
        if protocol:
            store.set_protocol_of_import(c, name, protocol)
    return len(jobs)


def _stats(store: Store, name: str) -> dict:
    """Complexity (min, median, max) of a sweep's models, and how its sampled design choices came out:
    {"settings": {name: {value: count}}} for few distinct values, else {name: {min, median, max}}."""
    models = store.models(name)
    a = np.array([(m.flops, m.params, m.acts) for m in models], dtype=np.float64).reshape(-1, 3)
    if not len(a):
        return {}
    out = {k: {"min": int(a[:, i].min()), "median": float(np.median(a[:, i])), "max": int(a[:, i].max())}
           for i, k in enumerate(COUNTS)}
    rec = store.sweep(name)
    sampled = [p for p in SETTINGS if p in ((rec.space or {}).get("params") or {})]
    if rec.nominal_bitops or set(BITS) & set(sampled):  # cost at the bit widths too
        cost = Regime.from_dict(rec.regime).precision([m.arch for m in models], [m.settings for m in models])
        out.update({k: {"min": int(v.min()), "median": float(np.median(v)), "max": int(v.max())}
                    for k, v in cost.items()})
    st = {}
    for p in sampled:
        vals = [m.setting(p) for m in models]
        if len(set(vals)) <= 8:
            st[p] = {str(v): vals.count(v) for v in sorted(set(vals), key=lambda v: (str(type(v)), v))}
        else:
            v = np.array(vals, dtype=np.float64)
            st[p] = {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}
    if st:
        out["settings"] = st
    return out


def _canon(d):
    return json.loads(json.dumps(d, sort_keys=True))


def _regime_str(r: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in r.items() if v is not None)
