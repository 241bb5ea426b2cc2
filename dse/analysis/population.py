"""A sweep's trained models as arrays for the analyses: errors and every per-model parameter."""

from __future__ import annotations

import json

import numpy as np

from dse.analysis.fit import fit_regnet
from dse.errors import DseError

METRICS = {"final": "error", "best": "best_error"}


def population(store, sweep: str, metric: str = "final") -> dict:
    """{'sweep', 'ids', 'errors', 'models', 'space'} for the models of ``sweep`` that have the metric."""
    if metric not in METRICS:
        raise DseError(f"--metric {metric!r} unknown; allowed: final, best")
    row = store.sweep(sweep)
    col = METRICS[metric]
    ms = [m for m in store.models(sweep) if m[col] is not None]
    return {"sweep": sweep, "metric": metric, "space": row["space"], "space_name": row["space_name"], "models": ms,
            "ids": np.array([m["idx"] for m in ms], dtype=np.int64),
            "errors": np.array([m[col] for m in ms], dtype=np.float64)}


def require(pop: dict, n: int = 2, what: str = "this analysis") -> None:
    if len(pop["errors"]) < n:
        which = "a best-epoch error (--metric best)" if pop.get("metric") == "best" else "errors"
        hint = ("; try --metric final" if pop.get("metric") == "best" else
                " (train it with `dse train`, or import a trained population)")
        raise DseError(f"sweep {pop['sweep']!r} has {len(pop['errors'])} model(s) with {which}; {what} needs at "
                       f"least {n}{hint}")


def _shared(pop, p) -> bool:
    space = pop["space"] or {}
    if space.get("family") == "regnet":
        return True
    if p in (space.get("constraints") or {}).get("shared", []):
        return True
    if space:
        return False
    vals = [getattr(m["arch"], {"b": "bottlenecks", "g": "group_widths"}[p]) for m in pop["models"]]
    return bool(vals) and all(len(set(v)) == 1 for v in vals)


def param_names(pop: dict) -> list[str]:
    """The parameters this population has: d1..dS, w1..wS, b1..bS, g1..gS, depth, flops, params, acts,
    w0, wa, wm, e_fit, and b / g where they are shared by all stages."""
    smax = max((m["arch"].stages for m in pop["models"]), default=4)
    names = [f"{p}{i}" for p in "dwbg" for i in range(1, smax + 1)]
    names += ["depth", "flops", "params", "acts", "w0", "wa", "wm", "e_fit"]
    names += [p for p in ("b", "g") if _shared(pop, p)]
    return names


def ensure_fits(store, pop: dict) -> None:
    """Fit the RegNet form to every model without a stored fit, and store the fits."""
    todo = [m for m in pop["models"] if "fit" not in m["extra"]]
    if not todo:
        return
    for m in todo:
        m["extra"]["fit"] = fit_regnet(m["arch"].block_widths())
    with store.write() as c:
        c.executemany("UPDATE models SET extra = ? WHERE sweep = ? AND idx = ?",
                      [(json.dumps(m["extra"]), pop["sweep"], m["idx"]) for m in todo])


def values(store, pop: dict, name: str) -> np.ndarray:
    """Per-model values of parameter ``name`` (NaN where a model lacks it, e.g. d4 of a 3-stage model)."""
    known = param_names(pop)
    if name not in known:
        raise DseError(f"unknown parameter {name!r} for sweep {pop['sweep']!r}; valid: {', '.join(known)}")
    ms = pop["models"]
    attr = {"d": "depths", "w": "widths", "b": "bottlenecks", "g": "group_widths"}
    if name in ("b", "g"):  # a RegNet's sampled g (the compatibility rule may lower it in narrow stages)
        return np.array([(m["extra"].get("regnet") or {}).get(name) or getattr(m["arch"], attr[name])[0] for m in ms],
                        dtype=np.float64)
    if name[0] in attr and name[1:].isdigit():
        i = int(name[1:]) - 1
        return np.array([getattr(m["arch"], attr[name[0]])[i] if i < m["arch"].stages else np.nan for m in ms],
                        dtype=np.float64)
    if name == "depth":
        return np.array([m["arch"].depth for m in ms], dtype=np.float64)
    if name in ("flops", "params", "acts"):
        return np.array([m[name] for m in ms], dtype=np.float64)
    if name in ("w0", "wa", "wm") and all(m[name] is not None for m in ms):
        return np.array([m[name] for m in ms], dtype=np.float64)
    ensure_fits(store, pop)
    key = "e_fit" if name == "e_fit" else name
    return np.array([m["extra"]["fit"][key] for m in ms], dtype=np.float64)
