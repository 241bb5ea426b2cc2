"""Sampling: a Space + a Regime -> n distinct models, drawn in bulk (numpy arrays of candidates).

The draw is the space's distribution conditioned on its constraints and the complexity window:
independent parameters are drawn directly, shared ones once per model, non-decreasing ones from the
exact conditional law of i.i.d. draws given that they are sorted (a backward recursion, no rejection
needed), and everything else (RegNet stage count, compatibility rule, complexity window, caps) by
rejection. The stream of accepted models depends only on the seed, so topping up a sweep continues it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from dse.errors import DseError, ParamError
from dse.params import CLASSIFY_ONLY, REGIME_DEFAULTS as _R
from dse.tasks import TASKS
from dse.units import parse_window
from dse.validate import ACTIVATIONS, STEMS
from dse.models.arch import Arch, adjust_compatibility, model_key
from dse.models.blocks import STEM_TYPES, UNUSED
from dse.validate import as_number
from dse.models.complexity import complexity_arrays
from dse.models.regnet import regnet_arrays
from dse.models.runtime import SpeedFit
from dse.spaces.space import Dist, Space
from dse.units import human

CHUNK = 1 << 14

@dataclass(frozen=True)
class Regime:
    """The complexity regime: flops window at a resolution, stem, input channels, classes, optional caps (defaults:
    dse.params.REGIME, the paper's); the task (``dse.tasks``) and its own options: an SR scale, a noise sigma.
    A low-level task's flops are counted at its ``count_at`` output size (1280x720 for SR), not at a resolution."""

    flops: tuple = parse_window(_R["flops"])
    resolution: int = _R["resolution"]
    stem: str = _R["stem"]
    in_channels: int = _R["in_channels"]
    num_classes: int = _R["num_classes"]
    max_params: int | None = None
    max_acts: int | None = None
    ms_cap: dict | None = None  # {"max_ms", "device", "mode", "batch", "coef": [a, b], "intercept"}: a*flops+b*acts+c
    task: str = "classify"
    scale: int | None = None
    sigma: float | None = None
    network: str | None = None  # a fixed low-level network (dse sample --reference fsrcnn_x2, dncnn): its own ends
    bitops: tuple | None = None  # a window in bit operations (dse.models.precision) in place of the flops window

    def __post_init__(self):
        from dse.params import REGIME, TASK_REGIME
        from dse.tasks import task
        from dse.validate import check_choice, check_setting

        check_choice(self.stem, "stem", STEMS)
        for k in ("resolution", "in_channels", "num_classes"):  # the limits every entry point shares
            object.__setattr__(self, k, int(check_setting(k, getattr(self, k))))
        object.__setattr__(self, "flops", (int(self.flops[0]), int(self.flops[1])))
        if self.bitops is not None:
            object.__setattr__(self, "bitops", (int(self.bitops[0]), int(self.bitops[1])))
        t = task(self.task)
        for k in TASK_REGIME:
            v = getattr(self, k)
            if v is not None and k not in t.options:
                users = [n for n, o in TASKS.items() if k in o.options]
                raise ParamError(f"{{{k}}} applies to {' and '.join(users)} spaces; this one is {t.a} space", k)
            if k in t.options:
                v = REGIME[k].check.check(t.defaults[k] if v is None else v, k)
                object.__setattr__(self, k, v if k == "scale" else float(v))
        if self.network is not None:
            self._check_network()

    def _check_network(self) -> None:
        from dse.models.lowlevel import LOWLEVEL_REFERENCES

        ref = LOWLEVEL_REFERENCES.get(self.network)
        fixed = sorted(n for n, r in LOWLEVEL_REFERENCES.items() if r.fixed)
        if ref is None or not ref.fixed:
            raise ParamError(f"{{network}} {self.network!r} is not a fixed low-level network; allowed: "
                             f"{', '.join(fixed)}", "network")
        if (ref.task, ref.scale if ref.task == "sr" else None) != (self.task, self.scale):
            x = lambda t, s: t + (f" x{s}" if s else "")  # noqa: E731
            raise ParamError(f"{{network}} {self.network} is {x(ref.task, ref.scale if ref.task == 'sr' else None)}, "
                             f"not this regime's {x(self.task, self.scale)}", "network")

    @property
    def low_level(self) -> bool:
        """Whether the task is a low-level one (SR, denoising): flops counted at the task's output size."""
        return self.task != "classify"

    @property
    def count_scale(self) -> int:
        """The upsampler's factor: the SR scale, 1 for denoising."""
        return self.scale or 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["flops"] = list(self.flops)
        if d["ms_cap"] is None:  # absent unless used, so regimes stored before it existed compare equal
            del d["ms_cap"]
        for k in ("task", "scale", "sigma", "network", "bitops"):  # absent unless used: older regimes compare equal
            if d[k] is None or d[k] == "classify":
                del d[k]
        if self.low_level:  # what the task's count does not read is not stored as if it mattered
            for k in CLASSIFY_ONLY:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Regime":
        d = dict(d)
        d["flops"] = tuple(d["flops"])
        if d.get("bitops") is not None:
            d["bitops"] = tuple(d["bitops"])
        return cls(**d)

    def cx_kwargs(self) -> dict:
        return {"resolution": self.resolution, "stem": self.stem, "in_channels": self.in_channels,
                "num_classes": self.num_classes}

    def count(self, arch: Arch) -> dict:
        """{flops, params, acts} of one network as this regime counts it (classification: at the resolution;
        SR and denoising: at the task's output size, ``dse.models.lowlevel``)."""
        if self.network is not None:  # a fixed network's count is its own (arch: its middle layers only)
            from dse.models.lowlevel import LOWLEVEL_REFERENCES

            return LOWLEVEL_REFERENCES[self.network].count()
        if self.low_level:
            from dse.models.lowlevel import Restoration, restore_complexity

            return restore_complexity(Restoration(arch, self.count_scale, self.in_channels))
        from dse.models.complexity import complexity

        return complexity(arch, **self.cx_kwargs())

    def precision(self, archs, settings) -> dict:
        """{bitops, size_bytes, peak_bytes} (int64 arrays; -1 for a fixed network, not counted at a bit width) of
        networks ``archs`` at their ``settings``' bit widths and resolutions, as this regime counts them."""
        from dse.models.precision import COSTS, COUNTS, Precision, precision_cost, precision_many

        n = len(archs)
        if self.network is not None or not n:
            return {k: np.full(n, -1, dtype=np.int64) for k in COSTS}
        if self.low_level:
            from dse.models.lowlevel import restore_precision

            from dse.models.complexity import same_shape

            c = {k: np.zeros(n, dtype=np.int64) for k in COUNTS}
            for design, ix in same_shape(archs):
                sub = [archs[i] for i in ix]
                got = restore_precision([a.depths for a in sub], [a.widths for a in sub],
                                        {k: [a.stage(k) for a in sub] for k in sub[0].uses}, design, self.count_scale,
                                        in_channels=self.in_channels)
                for k in COUNTS:
                    c[k][ix] = got[k]
        else:
            kw = self.cx_kwargs()
            kw["resolution"] = [int((s or {}).get("resolution") or self.resolution) for s in settings]
            c = precision_many(archs, **kw)
        ps = [Precision.of(s) for s in settings]
        return precision_cost(c, [p.bits_w for p in ps], [p.bits_a for p in ps], [p.edge_bits for p in ps])


@dataclass
class SampledModel:
    """An accepted model: its Arch (after the compatibility rule), complexity, for RegNet spaces the
    sampled parameters {d, w0, wa, wm, b, g} (g before the rule, which may lower it in narrow stages), and
    the design choices the space samples besides the network ({resolution, lr, wd, momentum, batch_size})."""

    arch: Arch
    flops: int
    params: int
    acts: int
    regnet: dict | None = None
    settings: dict | None = None

    @property
    def key(self) -> str:
        return model_key(self.arch, self.settings)


def sample_sorted(dist: Dist, rng: np.random.Generator, n: int, s: int) -> np.ndarray:
    """n rows of s i.i.d. draws conditioned on x_1 <= ... <= x_s, exactly (backward recursion)."""
    p = dist.probs
    tails = [p / p.sum()]  # T_s(k) = p_k; T_i(k) = p_k * sum_{k' >= k} T_{i+1}(k')
    for _ in range(s - 1):
        t = p * np.cumsum(tails[0][::-1])[::-1]
        tails.insert(0, t / t.sum())
    idx = np.empty((n, s), dtype=np.int64)
    u = rng.random((n, s))
    k = len(p)
    for i, t in enumerate(tails):
        c = np.cumsum(t)
        start = np.zeros(n, dtype=np.int64) if i == 0 else idx[:, i - 1]
        below = np.where(start > 0, c[np.maximum(start - 1, 0)], 0.0)
        target = below + u[:, i] * (c[-1] - below)
        j = np.searchsorted(c, target, side="right")
        idx[:, i] = np.clip(j, start, k - 1)
    return dist.values[idx]


class Sampler:
    """Draws distinct models from a space under a regime; after ``sample`` the stats end in ``_``."""

    def __init__(self, space: Space, regime: Regime = Regime(), seed: int = 0,
                 max_candidates: int = 50_000_000, chunk: int = CHUNK):
        self.space, self.regime, self.seed = space, regime, int(seed)
        self.max_candidates, self.chunk = max_candidates, chunk
        if space.task != regime.task:
            raise DseError(f"space {space.name!r} is a {space.task} space and the regime's task is {regime.task}")
        if not regime.low_level:
            check_resolutions(space, regime.stem)

    def _draw(self, rng, n):
        """One chunk of candidates: the network's arrays, then the space's other design choices."""
        x, ok = self._draw_arch(rng, n)
        for p in self.space.settings:  # drawn after the network so that a space without them keeps its stream
            x[p] = self.space.dists[p].sample(rng, n)
        return x, ok

    def _draw_arch(self, rng, n):
        """One chunk of raw networks: dict of arrays, 'ok' marks the structurally valid ones."""
        sp, s = self.space, self.space.stages
        if sp.family == "anynet":
            x = {}
            # drawn in this order (d, w, b, g: the stream of the X/Y spaces before other blocks existed)
            for p in ("d", "w", "b", "g", "groups", "k", "e"):
                dist = sp.dists.get(p)
                if dist is None:  # b and g the block does not use hold their neutral values; k and e stay absent
                    if p in ("b", "g"):
                        x[p] = np.full((n, s), UNUSED[p])
                elif p in sp.shared:
                    x[p] = np.repeat(dist.sample(rng, (n, 1)), s, axis=1)
                elif p in sp.non_decreasing:
                    x[p] = sample_sorted(dist, rng, n, s)
                else:
                    x[p] = dist.sample(rng, (n, s))
            x["d"] = x["d"].astype(np.int64)
            if "k" in x:
                x["k"] = x["k"].astype(np.int64)
            ok = np.ones(n, dtype=bool)
            if "groups" in x:  # a number of groups: the group width is w_b / groups, which must divide w_b
                w_b = np.round(x["w"] / x["b"]).astype(np.int64)
                ok &= np.all(w_b % x["groups"] == 0, axis=1)
                x["g"] = np.maximum(w_b // x["groups"].astype(np.int64), 1)
            if {"b", "g"} <= set(sp.uses):
                x["w"], x["g"] = adjust_compatibility(x["w"], x["b"], x["g"].astype(np.int64))
            else:
                x["w"], x["g"] = x["w"].astype(np.int64), x["g"].astype(np.int64)
            for p in sp.shared:  # constraints hold for the network after the compatibility rule
                ok &= np.all(x[p] == x[p][:, :1], axis=1)
            for p in sp.non_decreasing:
                ok &= np.all(np.diff(x[p], axis=1) >= 0, axis=1)
            if sp.depth:
                tot = x["d"].sum(axis=1)
                ok &= (tot >= sp.depth[0]) & (tot <= sp.depth[1])
            return x, ok
        r = {p: sp.dists[p].sample(rng, n) if p in sp.dists else np.full(n, UNUSED[p])
             for p in ("d", "w0", "wa", "wm", "b", "g")}
        if "e" in sp.uses:  # one expansion per network, drawn after the others (their streams stay as they were)
            r["e"] = sp.dists["e"].sample(rng, n)
        if sp.w0_eq_wa:
            r["wa"] = r["w0"].copy()
        depths, widths, ok = regnet_arrays(r["d"].astype(np.int64), r["w0"], r["wa"], r["wm"], s)
        if sp.depth:
            ok &= (r["d"] >= sp.depth[0]) & (r["d"] <= sp.depth[1])
        b = np.repeat(r["b"][:, None], s, axis=1)
        g = np.repeat(r["g"][:, None].astype(np.int64), s, axis=1)
        if {"b", "g"} <= set(sp.uses):
            w, g = adjust_compatibility(np.where(ok[:, None], widths, 8), b, g)
        else:
            w = np.where(ok[:, None], widths, 8)
        out = {"d": depths, "w": w, "b": b, "g": g, "g0": r["g"], "w0": r["w0"], "wa": r["wa"], "wm": r["wm"]}
        if "e" in r:
            out["e"] = np.repeat(r["e"][:, None].astype(np.float64), s, axis=1)
        return out, ok

    def sample(self, n: int, exclude=()) -> list[SampledModel]:
        """The next n distinct models of this seed's stream whose keys are not in ``exclude``."""
        if n < 0:
            raise DseError("the number of models must be positive")
        t0 = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        seen, out, seen_rows = set(exclude), [], set()
        self.tried_ = self.valid_ = self.accepted_ = 0
        size = 10 ** self.space.log10_size
        if size < 1e9 and n + len(seen) > round(size):
            raise DseError(f"space {self.space.name!r} holds at most {round(size):,} distinct models (before the flops "
                           f"window) and {n + len(seen):,} were asked for"
                           + (f" ({len(seen):,} already in the sweep)" if seen else "")
                           + "; ask for fewer models or widen the space")
        flops_seen, (lo, hi) = [], self.regime.bitops or self.regime.flops
        caps = [(c, k) for c, k in ((self.regime.max_params, "params"), (self.regime.max_acts, "acts"),
                                    (self.space.max_params, "params"), (self.space.max_acts, "acts"),
                                    (self.space.max_flops, "flops")) if c]
        last_new = 0
        while len(out) < n:
            x, ok = self._draw(rng, self.chunk)
            self.tried_ += self.chunk
            sel = np.flatnonzero(ok)
            self.valid_ += len(sel)
            if len(sel):
                f, p, a = self._count(x, sel)
                cost = f  # what the window bounds: flops, or bit operations at each model's bit widths
                if self.regime.bitops is not None:
                    cost = np.where(f >= 0, self._bitops(x, sel, f >= 0), -1)
                if len(flops_seen) < 64:
                    flops_seen.append(cost[:4096])
                keep = (cost >= lo) & (cost <= hi) & (f >= 0)  # -1: too large to count
                for cap, k in caps:
                    keep &= {"params": p, "acts": a, "flops": f}[k] <= cap
                ms = self.regime.ms_cap
                if ms:  # the predicted time of the stored flops + acts fit
                    keep &= SpeedFit.from_json(ms).predict({"flops": f, "acts": a}) <= ms["max_ms"]
                kidx = np.flatnonzero(keep)
                stop = None
                if not len(kidx):
                    self._check_progress(n, len(out), last_new, flops_seen, len(exclude))
                    continue
                # repeats are dropped on the arrays (a row's bytes name its model) before any Python object is
                # built: a small space repeats itself millions of times before it is known to be exhausted
                sig = self._signatures(x, sel[kidx])
                _, first = np.unique(sig, return_index=True)
                for j in np.sort(first):
                    b = sig[j].tobytes()
                    if b in seen_rows:
                        continue
                    seen_rows.add(b)
                    i = kidx[j]
                    m = self._model(x, sel[i], int(f[i]), int(p[i]), int(a[i]))
                    key = m.key
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append(m)
                    last_new = self.tried_
                    if len(out) == n:
                        stop = j
                        break
                self.accepted_ += len(kidx) if stop is None else int(stop) + 1
            if len(out) < n:
                self._check_progress(n, len(out), last_new, flops_seen, len(exclude))
        self.seconds_ = time.perf_counter() - t0
        return out

    def _count(self, x, sel):
        """flops, params, acts of candidates ``sel``, as the regime's task counts them."""
        rg = self.regime
        extra = {p: x[p][sel] for p in ("k", "e") if p in x}
        if rg.low_level:
            from dse.models.lowlevel import restore_arrays

            p = {k: x[k][sel] for k in self.space.uses}
            cx = restore_arrays(x["d"][sel], x["w"][sel], p, self.space.design, rg.count_scale,
                                in_channels=rg.in_channels, too_large="mark")
            return cx["flops"], cx["params"], cx["acts"]
        return complexity_arrays(x["d"][sel], x["w"][sel], x["b"][sel], x["g"][sel], self.space.design,
                                 **self._cx_kwargs(x, sel), too_large="mark", extra=extra)

    def _cx_kwargs(self, x, rows) -> dict:
        """The regime's counting keywords for candidates ``rows``: each at its own input size where sampled."""
        kw = self.regime.cx_kwargs()
        if "resolution" in x:
            kw["resolution"] = x["resolution"][rows].astype(np.int64)
        return kw

    def _bitops(self, x, sel, ok) -> np.ndarray:
        """BitOps of candidates ``sel`` (0 where not ``ok``: too large to count) at their bit widths (the space's
        sampled bits_w, bits_a, edge_bits; float and 8 where it samples none)."""
        from dse.models.precision import EDGE_BITS, FLOAT_BITS, precision_arrays, precision_cost

        rows = sel[ok]
        rg = self.regime
        if rg.low_level:
            from dse.models.lowlevel import restore_precision

            c = restore_precision(x["d"][rows], x["w"][rows], {k: x[k][rows] for k in self.space.uses},
                                  self.space.design, rg.count_scale, in_channels=rg.in_channels)
        else:
            c = precision_arrays(x["d"][rows], x["w"][rows], x["b"][rows], x["g"][rows], self.space.design,
                                 **self._cx_kwargs(x, rows), extra={p: x[p][rows] for p in ("k", "e") if p in x})
        bits = {k: x[k][rows].astype(np.int64) if k in x else d for k, d in (
            ("bits_w", FLOAT_BITS), ("bits_a", FLOAT_BITS), ("edge_bits", EDGE_BITS))}
        out = np.zeros(len(sel), dtype=np.int64)
        out[ok] = precision_cost(c, **bits)["bitops"]
        return out

    def _signatures(self, x, rows) -> np.ndarray:
        """One opaque value per candidate in ``rows``: equal exactly when the models (network and design choices)
        are equal."""
        cols = [np.asarray(x[k][rows], dtype=np.float64).reshape(len(rows), -1) for k in ("d", "w", "b", "g", "k", "e")
                if k in x]
        cols += [np.asarray(x[k][rows], dtype=np.float64).reshape(len(rows), 1) for k in self.space.settings]
        a = np.ascontiguousarray(np.concatenate(cols, axis=1))
        return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()

    def _model(self, x, i, f, p, a) -> SampledModel:
        act = ACTIVATIONS[int(x["activation"][i])] if "activation" in x else "relu"
        dz = self.space.design
        arch = Arch(tuple(x["d"][i]), tuple(x["w"][i]), tuple(x["b"][i]), group_widths=tuple(x["g"][i]),
                    se=dz.se, activation=act, block=dz.block,
                    kernels=tuple(x["k"][i]) if "k" in x else None, expansions=tuple(x["e"][i]) if "e" in x else None,
                    strides=dz.strides, stem=dz.stem, stem_w=dz.stem_w, head_w=dz.head_w)
        rp = None
        if self.space.family == "regnet":
            rp = {"d": int(arch.depth), "w0": float(x["w0"][i]), "wa": float(x["wa"][i]), "wm": float(x["wm"][i]),
                  "b": as_number(x["b"][i][0]), "g": int(x["g0"][i])}
            if "e" in x:
                rp["e"] = as_number(x["e"][i][0])
        st = {k: as_number(x[k][i]) for k in self.space.settings if k != "activation"}
        return SampledModel(arch, f, p, acts=a, regnet=rp, settings=st or None)

    def _check_progress(self, n, got, last_new, flops_seen, n_excl=0):
        if self.accepted_ == 0 and self.tried_ >= 1 << 20:
            raise DseError(self._infeasible(flops_seen))
        stalled = got and self.tried_ - last_new >= max(1 << 22, 20 * last_new)
        if self.tried_ >= self.max_candidates or stalled:
            rate = self.accepted_ / self.tried_
            raise DseError(
                f"only {got} of {n} distinct models found after {self.tried_:,} candidates "
                f"(acceptance {100 * rate:.4f}%, {self.accepted_ - got} repeats)"
                + (f": no new one in the last {self.tried_ - last_new:,}, so the space and window hold about "
                   f"{got + n_excl:,} distinct models" + (f" ({n_excl:,} already in the sweep)" if n_excl else "")
                   if stalled else "")
                + "; widen the flops window (--flops, or the window in --regimes) or the space, or ask for fewer "
                  "models")

    def _infeasible(self, flops_seen) -> str:
        lo, hi = self.regime.bitops or self.regime.flops
        unit = "BitOps" if self.regime.bitops else "flops"
        head = (f"no model of space {self.space.name!r} falls in the {unit} window {_h(lo)}:{_h(hi)} "
                f"after {self.tried_:,} candidates")
        if not flops_seen:
            return head + " (no candidate passed the space's structural constraints)"
        f = np.concatenate(flops_seen)
        caps = " and the flops/params/acts caps" if (self.regime.max_params or self.regime.max_acts
                                                     or self.space.max_params or self.space.max_acts
                                                     or self.space.max_flops) else ""
        if self.regime.ms_cap:
            caps += f" and --max-ms {self.regime.ms_cap['max_ms']:g}"
        stem = self.space.design.stem_of(self.regime.stem)
        at = (f"counted at a {'x'.join(map(str, TASKS[self.regime.task].count_at))} output"
              + (f" (x{self.regime.scale})" if self.regime.scale else "") if self.regime.low_level
              else f"at resolution {self.regime.resolution} ({stem} stem)")
        seen = (f"Candidates {at} range from {_h(f.min())} to "
                f"{_h(f.max())} {unit} (median {_h(np.median(f))})")
        own = "".join(f" --{k.replace('_', '-')} {v}" for k, v in self.space.regime.items())
        if self.space.max_flops and not self.regime.bitops:
            caps += f" (the space caps flops at {_h(self.space.max_flops)})"
            f = f[f <= self.space.max_flops]  # advice never points above the space's own cap
            if not len(f):
                return (head + f"{caps}. {seen}: none under the cap at this size; sample smaller images"
                        + (f" (the space's own regime:{own})" if own else " (a smaller --resolution)"))
        q = np.percentile(f, [40, 60])
        return (head + f"{caps}. {seen}; try e.g. the window {_h(q[0])}:{_h(q[1])} "
                + ("(as --bitops)" if self.regime.bitops else "(as --flops, or as one window of --regimes)")
                + (f"; the space's own regime:{own}" if own else ""))



def min_resolution(stem: str, stages: int, strides: tuple | None = None) -> int:
    """The smallest input the stem and stages take: their total stride (the stem's, then each stage's: 2 unless
    given), so that the last stage still sees image content and not only padding."""
    return STEM_TYPES[stem].total_stride * int(np.prod(strides if strides is not None else (2,) * stages))


def check_resolutions(space: Space, stem: str) -> None:
    """A space that samples the resolution must not go below what its stem and stages take."""
    if "resolution" not in space.dists:
        return
    stem = space.design.stem_of(stem)
    r, lo = space.dists["resolution"].values, min_resolution(stem, space.stages, space.design.strides)
    if r[0] < lo:
        raise DseError(f"{space.where or space.name}: [params.resolution]: {int(r[0])} px is below what the {stem} "
                       f"stem "
                       f"and {space.stages} stages take ({lo} px, their total stride); use resolutions >= {lo}"
                       + (" or the cifar stem (stride 1)" if stem == "simple" else ""))


def _h(x) -> str:
    return human(x, sep="")
