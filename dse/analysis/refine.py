"""Refinement: from a trained sweep, evidence for narrower parameter ranges and structural constraints,
and the refined space that follows (the step of the RegNet paper that closes the loop)."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dse.analysis.bootstrap import bootstrap
from dse.analysis.edf import ks_test
from dse.analysis.results import Drawable
from dse.errors import write_error
from dse.validate import as_number
from dse.validate import check_output
from dse.validate import ACTIVATIONS
from dse.spaces.space import STAGE_PARAMS, Space, parse_space
from dse.tasks import ERROR, Metric


@dataclass
class Evidence:
    """How the models that satisfy a proposal compare with the others (counts, errors, KS between them)."""

    n_satisfy: int
    n_other: int
    ks_statistic: float | None
    pvalue: float | None
    mean_error_satisfy: float | None
    mean_error_other: float | None
    min_error_satisfy: float | None
    min_error_other: float | None
    median_error_satisfy: float | None
    median_error_other: float | None


@dataclass
class Vote:
    """One regime's verdict on a proposal, from its own models only."""

    sweep: str
    accepted: bool
    why: str
    evidence: Evidence

    def to_json(self, measure: Metric = ERROR) -> dict:
        ev = self.evidence
        return {"sweep": self.sweep, "accepted": self.accepted, "why": self.why, "n_satisfy": ev.n_satisfy,
                "n_other": ev.n_other, **measure.results({"mean_error_satisfy": ev.mean_error_satisfy,
                                                          "mean_error_other": ev.mean_error_other}),
                "pvalue": ev.pvalue}


@dataclass
class Proposal:
    """A proposed range (kind 'range') or structural constraint (kind 'constraint'), with its evidence."""

    kind: str
    param: str
    rule: str
    low: float | None
    high: float | None
    accepted: bool
    why: str
    evidence: Evidence
    was: list | None = None     # ranges: the bounds before
    median: float | None = None  # ranges: the bootstrap median of the best models' value
    votes: list | None = None   # several regimes: each one's Vote (None for one sweep)

    @property
    def label(self) -> str:
        return _label(self)

    @property
    def vote_summary(self) -> str:
        """'200MF yes, 400MF no' (each regime's verdict, named by the part of its sweep name after '@'), else ''."""
        return ", ".join(f"{v.sweep.rsplit('@', 1)[-1]} {'yes' if v.accepted else 'no'}" for v in self.votes or [])

    @property
    def bounds(self) -> str:
        """'[lo, hi]', '>= lo' or ''."""
        if self.low is None:
            return ""
        return f">= {self.low}" if self.high is None else f"[{self.low}, {self.high}]"

    def to_json(self, measure: Metric = ERROR) -> dict:
        d = {"kind": self.kind, "param": self.param, "rule": self.rule, "low": self.low, "high": self.high}
        if self.kind == "range":
            d.update(was=self.was, median=self.median)
        d = {**d, "accepted": self.accepted, "why": self.why, "evidence": measure.results(asdict(self.evidence))}
        if self.votes:
            d["votes"] = [v.to_json(measure) for v in self.votes]
        return d


@dataclass
class RefineResult(Drawable):
    """Proposals (accepted ones first, by error gap) and the refined space they give."""

    base_space: str
    n: int  # trained models behind the evidence
    log10_size_before: float
    log10_size_after: float
    proposals: list  # [Proposal]
    spec: dict
    space: Space = field(repr=False)
    base: Space = field(repr=False)
    regimes: list = field(default_factory=list)  # the sweeps that voted, when several
    measure: Metric = ERROR  # what the evidence's errors are (oriented; shown in the measure's own values)

    @property
    def accepted(self) -> list:
        return [q for q in self.proposals if q.accepted]

    def to_json(self, out=None) -> dict:
        return {"base_space": self.base_space, "out": None if out is None else str(out),
                **({"regimes": self.regimes} if self.regimes else {}),
                **({"measure": self.measure.name, "unit": self.measure.unit} if self.measure != ERROR else {}),
                "log10_size_before": self.log10_size_before, "log10_size_after": self.log10_size_after,
                "proposals": [q.to_json(self.measure) for q in self.proposals]}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([{"kind": q.kind, "param": q.param, "rule": q.rule, "proposal": q.bounds,
                              **self.measure.results(asdict(q.evidence)), "accepted": q.accepted, "why": q.why,
                              **({"votes": q.vote_summary} if self.regimes else {})} for q in self.proposals])

    def to_toml(self, header=()) -> str:
        """The refined space file: ``header`` comment lines, then the definition with a comment beside every
        changed line."""
        return to_toml(self.spec, list(header), notes_for(self, self.base))

    def write(self, path, header=()) -> Path:
        """Write the refined space file; it must load as written."""
        from dse.spaces import load_space

        p = check_output(path, "path", (".toml",), "space file")
        try:
            p.write_text(self.to_toml(header))
        except OSError as e:
            raise write_error(p, e) from None
        load_space(p)
        return p

    def _draw(self, axes):
        from dse.report.plots import draw_refine

        v = lambda x: None if x is None else self.measure.shown(x)  # noqa: E731
        draw_refine(axes[0], [(f"{q.label} ({q.kind})", v(q.evidence.mean_error_satisfy),
                               v(q.evidence.mean_error_other), q.accepted) for q in self.proposals],
                    self.measure.column)


def _evidence(errors, satisfy) -> Evidence:
    es, eo = errors[satisfy], errors[~satisfy]
    ev = {"n_satisfy": int(satisfy.sum()), "n_other": int((~satisfy).sum()), "ks_statistic": None, "pvalue": None,
          "mean_error_satisfy": float(es.mean()) if len(es) else None,
          "mean_error_other": float(eo.mean()) if len(eo) else None,
          "min_error_satisfy": float(es.min()) if len(es) else None,
          "min_error_other": float(eo.min()) if len(eo) else None,
          "median_error_satisfy": float(np.median(es)) if len(es) else None,
          "median_error_other": float(np.median(eo)) if len(eo) else None}
    if len(es) and len(eo):
        ev["ks_statistic"], ev["pvalue"] = ks_test(es, eo)
    return Evidence(**ev)


def _acceptable(ev, min_support, alpha) -> tuple[bool, str]:
    """Enough support, and the satisfying models not significantly worse than the others."""
    if ev.n_satisfy < min_support:
        return False, f"only {ev.n_satisfy} models satisfy it (--min-support {min_support})"
    if not ev.n_other:
        return False, "every model satisfies it already: no evidence"
    if ev.mean_error_satisfy > ev.mean_error_other and ev.pvalue < alpha:
        return False, f"the models that satisfy it are worse (KS p = {ev.pvalue:.3g})"
    return True, "at least as good"


def _snap(values: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The support values bracketing [lo, hi] outward: largest value <= lo, smallest value >= hi."""
    i = max(0, int(np.searchsorted(values, lo + 1e-9, side="right")) - 1)
    j = min(len(values) - 1, int(np.searchsorted(values, hi - 1e-9, side="left")))
    return float(values[i]), float(values[j])



def model_values(space: Space, models: list) -> dict:
    """Per-model values of the space's parameters: {p: [n, S] (anynet per stage) or [n] arrays}. Models are
    anything with ``arch`` and ``regnet`` (the sampled RegNet parameters): store records, sampled models."""
    out = {}
    if space.family == "anynet":
        for p in STAGE_PARAMS:
            if p == "groups" and p in space.dists:  # the number of groups: w_b / g
                out[p] = np.array([[round(w / b) / g for w, b, g in zip(m.arch.widths, m.arch.bottlenecks,
                                                                        m.arch.group_widths)] for m in models])
            elif p in space.dists or p in ("d", "w", "b", "g"):
                out[p] = np.array([m.arch.stage(p) for m in models], dtype=np.float64)
        return _with_settings(out, space, models)
    rp = [m.regnet or {} for m in models]
    out["d"] = np.array([m.arch.depth for m in models], dtype=np.float64)
    for p in ("w0", "wa", "wm"):
        out[p] = np.array([r.get(p, np.nan) if r.get(p) is not None else np.nan for r in rp], dtype=np.float64)
    out["b"] = np.array([m.arch.bottlenecks[0] for m in models], dtype=np.float64)
    out["g"] = np.array([r.get("g") or max(m.arch.group_widths) for r, m in zip(rp, models)], dtype=np.float64)
    return _with_settings(out, space, models)


def _with_settings(out: dict, space: Space, models: list) -> dict:
    """Add the design choices the space samples (activation as its index in ACTIVATIONS)."""
    for p in space.settings:
        if p == "activation":
            out[p] = np.array([ACTIVATIONS.index(m.arch.activation) for m in models], dtype=np.float64)
        else:
            out[p] = np.array([np.nan if (m.settings or {}).get(p) is None else m.settings[p] for m in models],
                              dtype=np.float64)
    return out


def refine(space: Space, models: list, errors, min_support: int = 20, n_boot: int = 10_000, ci: float = 95.0,
           frac: float = 0.25, alpha: float = 0.05, seed: int = 0, w0_wa_tol: float = 0.1) -> RefineResult:
    """Proposals (ranges and constraints) with their evidence, and the refined space.

    ``models`` have ``arch`` and ``regnet`` (store records or sampled models); ``errors`` align with them."""
    return refine_regimes(space, [(None, models, errors)], min_support, n_boot=n_boot, ci=ci, frac=frac, alpha=alpha,
                          seed=seed, w0_wa_tol=w0_wa_tol)


def refine_regimes(space: Space, regimes: list, min_support: int = 20, n_boot: int = 10_000, ci: float = 95.0,
                   frac: float = 0.25, alpha: float = 0.05, seed: int = 0, w0_wa_tol: float = 0.1) -> RefineResult:
    """``refine`` over several regimes of one space: ``regimes`` is a list of (sweep, models, errors).

    A range covers the union of the regimes' bootstrap intervals, so the refined space keeps every regime's good
    models; a proposal is accepted only if it is acceptable at every regime (each regime votes on its own
    models: errors of different regimes are never compared). The evidence shown pools the regimes."""
    es = [np.asarray(e, dtype=np.float64) for _, _, e in regimes]
    vals = [model_values(space, ms) for _, ms, _ in regimes]
    e_all = np.concatenate(es)
    props = []
    spec = copy.deepcopy(space.spec)

    def judge(masks):
        """(accepted, why, pooled evidence, votes) of a proposal given each regime's satisfy mask."""
        votes = []
        for (name, _, _), e, m in zip(regimes, es, masks):
            ev = _evidence(e, m)
            votes.append(Vote(name, *_acceptable(ev, min_support, alpha), ev))
        bad = [v for v in votes if not v.accepted]
        why = "at least as good" if not bad else bad[0].why if len(votes) == 1 else \
            f"at {bad[0].sweep.rsplit('@', 1)[-1]}: {bad[0].why}" + (f" (and {len(bad) - 1} more "
                                                                     f"regime(s))" if len(bad) > 1 else "")
        return not bad, why, _evidence(e_all, np.concatenate(masks)), votes if len(votes) > 1 else None

    for p, dist in space.dists.items():
        if p == "wa" and space.w0_eq_wa:
            continue
        xs = [v[p] for v in vals]
        if any(np.isnan(x).any() for x in xs):
            continue
        per_stage = xs[0].ndim == 2 and p not in space.shared
        boots, masks = [], []
        for x, e in zip(xs, es):
            cols = [x[:, i] for i in range(x.shape[1])] if per_stage else [x[:, 0] if x.ndim == 2 else x]
            boots += [bootstrap(c, e, n_boot, frac=frac, ci=ci, seed=seed) for c in cols]
        lo, hi = _snap(dist.values, min(b["low"] for b in boots), max(b["high"] for b in boots))
        old_lo, old_hi = float(dist.values[0]), float(dist.values[-1])
        for x in xs:
            ok = (x >= lo - 1e-9) & (x <= hi + 1e-9)
            masks.append(np.all(ok, axis=1) if x.ndim == 2 else ok)
        narrower = lo > old_lo or hi < old_hi
        ok, why, ev, votes = judge(masks)
        props.append(Proposal("range", p, "range", low=as_number(lo), high=as_number(hi),
                              accepted=bool(ok and narrower),
                              why=why if narrower else "already as narrow", evidence=ev, was=[as_number(old_lo),
                                                                                              as_number(old_hi)],
                              median=as_number(float(np.median([b["median"] for b in boots]))), votes=votes))
    per = [list(_constraints(space, v, e, tol=w0_wa_tol, n_boot=n_boot, frac=frac, ci=ci, seed=seed)) for v,
           e in zip(vals, es)]
    for items in zip(*per):
        rule, param, _, applies = items[0]
        masks = [it[2] for it in items]
        if rule["name"] == "depth_band" and space.family == "anynet" and len(items) > 1:
            lo, hi = min(it[0]["low"] for it in items), max(it[0]["high"] for it in items)
            cur = space.spec.get("constraints", {}).get("depth") or [1, 10**9]
            rule, applies = {"name": "depth_band", "low": lo, "high": hi}, lo > cur[0] or hi < cur[1]
            masks = [(d >= lo) & (d <= hi) for d in (v["d"].sum(axis=1) for v in vals)]
        if not applies:
            continue
        ok, why, ev, votes = judge(masks)
        props.append(Proposal("constraint", param, rule["name"], low=rule.get("low"), high=rule.get("high"),
                              accepted=ok, why=why, evidence=ev,
                              votes=votes))
    props.sort(key=lambda q: (not q.accepted, -_gain(q.evidence)))
    for q in props:
        if q.accepted:
            _apply(spec, space, q)
    spec["name"] = f"{space.name}_refined"
    spec["description"] = f"{space.name} refined by dse refine: " + (
        ", ".join(_label(q) for q in props if q.accepted) or "no change")
    new = parse_space(spec, "<refined>")
    return RefineResult(space.name, len(e_all), space.log10_size, log10_size_after=new.log10_size, proposals=props,
                        spec=new.spec, space=new, base=space,
                        regimes=[name for name, _, _ in regimes] if len(regimes) > 1 else [])


def _on_param(q) -> bool:
    """Whether a proposal narrows a parameter's table (ranges, wm >= 2, b = 1, a RegNet depth band)."""
    return q.kind == "range" or q.rule in ("wm_ge_2", "b_eq_1") or (q.rule == "depth_band" and q.param == "d")


def _gain(ev: Evidence) -> float:
    if ev.mean_error_other is None or ev.mean_error_satisfy is None:
        return 0.0
    return ev.mean_error_other - ev.mean_error_satisfy


def _label(q) -> str:
    if q.kind == "range" and q.param == "activation":
        names = ACTIVATIONS[int(q.low):int(q.high) + 1]
        return f"activation = {names[0]}" if len(names) == 1 else f"activation in {{{', '.join(names)}}}"
    if q.kind == "range":
        return f"{q.param} in [{q.low}, {q.high}]"
    return {"shared": f"shared {q.param}", "non_decreasing": f"non-decreasing {q.param}",
            "w0_eq_wa": "w0 = wa", "depth_band": f"depth in [{q.low}, {q.high}]", "wm_ge_2": "wm >= 2",
            "b_eq_1": "b = 1"}.get(q.rule, q.rule)


def _constraints(space, vals, e, tol, n_boot, frac, ci, seed):
    """(rule, param, satisfy mask, applies) for each structural constraint the space does not have yet."""
    cons = space.spec.get("constraints", {})
    if space.family == "anynet":
        for p in ("b", "g"):
            x = vals[p]
            yield {"name": "shared"}, p, np.all(x == x[:, :1], axis=1), p not in space.shared
        for p in ("w", "d"):
            x = vals[p]
            yield {"name": "non_decreasing"}, p, np.all(np.diff(x, axis=1) >= 0, axis=1), p not in space.non_decreasing
        depth = vals["d"].sum(axis=1)
        b = bootstrap(depth, e, n_boot, frac=frac, ci=ci, seed=seed)
        lo, hi = int(math.floor(b["low"])), int(math.ceil(b["high"]))
        cur = cons.get("depth") or [1, 10**9]
        lo, hi = max(lo, cur[0]), min(hi, cur[1])
        yield ({"name": "depth_band", "low": lo, "high": hi}, "depth", (depth >= lo) & (depth <= hi),
               lo > cur[0] or hi < cur[1])
        return
    w0, wa, wm = vals["w0"], vals["wa"], vals["wm"]
    if not np.isnan(w0).any() and not np.isnan(wa).any():
        yield {"name": "w0_eq_wa"}, "wa", np.abs(wa - w0) <= tol * w0, not space.w0_eq_wa
    # the paper's RegNetX restrictions: wm >= 2, b = 1, 12 <= d <= 28
    if not np.isnan(wm).any():
        yield {"name": "wm_ge_2", "low": 2, "high": None}, "wm", wm >= 2, space.dists["wm"].values[0] < 2
    bv = space.dists["b"].values
    yield {"name": "b_eq_1", "low": 1, "high": 1}, "b", vals["b"] == 1, bool(np.any(bv != 1)) and 1 in bv
    dv = space.dists["d"].values
    lo, hi = as_number(max(12.0, dv[0])), as_number(min(28.0, dv[-1]))
    yield ({"name": "depth_band", "low": lo, "high": hi}, "d", (vals["d"] >= lo) & (vals["d"] <= hi),
           lo <= hi and (lo > dv[0] or hi < dv[-1]))


def _restrict(t: dict, lo, hi) -> None:
    """Narrow a parameter table to [lo, hi] (None: unbounded), intersecting with what it allows now."""
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    if t["dist"] == "choice":
        code = (lambda v: ACTIVATIONS.index(v)) if any(isinstance(v, str) for v in t["values"]) else (lambda v: v)
        keep = [i for i, v in enumerate(t["values"]) if lo - 1e-9 <= code(v) <= hi + 1e-9]
        t["values"] = [t["values"][i] for i in keep]
        if "weights" in t:
            t["weights"] = [t["weights"][i] for i in keep]
    else:
        t["low"], t["high"] = max(t["low"], lo), min(t["high"], hi)


def _apply(spec, space, q):
    """Write an accepted proposal into the spec (parameter table or constraints)."""
    if _on_param(q):
        _restrict(spec["params"][q.param], q.low, q.high)
        return
    c = spec.setdefault("constraints", {})
    if q.rule in ("shared", "non_decreasing"):
        c[q.rule] = sorted(set(c.get(q.rule, [])) | {q.param}, key=STAGE_PARAMS.index)
    elif q.rule == "depth_band":
        c["depth"] = [q.low, q.high]
    elif q.rule == "w0_eq_wa":
        c["w0_eq_wa"] = True


def _fmtv(v) -> str:
    return ", ".join(map(str, v)) if isinstance(v, list) else str(v)


def to_toml(spec: dict, header: list[str], notes: dict) -> str:
    """The space file: a comment header, then the definition; ``notes`` maps 'params.w' or
    'constraints.shared' to a comment written beside that line."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v) if isinstance(v, float) else str(v)

    def line(k, v, note=None):
        s = f"{k} = {val(v)}"
        return f"{s:<34} # {note}" if note else s

    out = [f"# {h}" for h in header] + [""]
    for k in ("name", "description", "family", "block", "se", "stem", "stem_w", "strides", "head_w", "stages"):
        if k in spec:  # (the design keys only when the base space has them)
            out.append(line(k, spec[k]))
    for p, t in spec["params"].items():
        out += ["", f"[params.{p}]"]
        for k, v in t.items():
            out.append(line(k, v, notes.get(f"params.{p}.{k}")))
    cons = spec.get("constraints") or {}
    if cons:
        out += ["", "[constraints]"]
        for k, v in cons.items():
            out.append(line(k, v, notes.get(f"constraints.{k}")))
    return "\n".join(out) + "\n"


def notes_for(result: RefineResult, base: Space) -> dict:
    """Comments for the changed lines of the refined file."""
    notes = {}
    for q in result.accepted:
        ev = q.evidence
        tail = (f"{ev.n_satisfy} models, mean error {ev.mean_error_satisfy:.2f} vs "
                f"{ev.mean_error_other:.2f}" if ev.mean_error_other is not None else f"{ev.n_satisfy} models")
        if _on_param(q):
            t = base.spec["params"][q.param]
            new = result.spec["params"][q.param]
            why = f"bootstrap of the best: {tail}" if q.kind == "range" else f"{_label(q)}: {tail}"
            if t["dist"] == "choice":
                keys = ["values"] if new["values"] != t["values"] else []
            else:  # the bounds this proposal itself moves
                keys = [k for k, v, moves in (("low", q.low, lambda v: v > t["low"]),
                                              ("high", q.high, lambda v: v < t["high"]))
                        if v is not None and moves(v)]
            for k in keys:
                key = f"params.{q.param}.{k}"
                notes[key] = (notes[key] + " | " if key in notes else f"was {_fmtv(t[k])}; ") + why
        else:
            key = {"shared": "shared", "non_decreasing": "non_decreasing", "depth_band": "depth",
                   "w0_eq_wa": "w0_eq_wa"}[q.rule]
            k = f"constraints.{key}"
            notes[k] = (notes[k] + " | " if k in notes else "") + f"added: {_label(q)}; {tail}"
    return notes
