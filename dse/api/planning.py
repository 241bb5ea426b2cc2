"""How many models? The power of a comparison from two pilot sweeps, and comparisons that train in rounds and
stop when decided (``dse.analysis.power`` holds the statistics)."""

from __future__ import annotations

import numbers

import numpy as np

from dse.analysis.power import (MIN_PILOT, PowerResult, SequentialDecision, check_power_options, check_sequential,
                                plan_sequential, power_analysis, sequential_decision)
from dse.api.common import same_task
from dse.api.costs import Costs
from dse.errors import DseError, ParamError
from dse.validate import shown
from dse.analysis.power import MAX_REPS, MAX_SEQUENTIAL
from dse.params import DEFAULTS as D
from dse.params import TASK_PROTOCOL, Check, Instance, Int, Opt, Real, checked
from dse.train.options import RunOptions


def _ns(ns) -> list[int]:
    """'25,50,100' or [25, 50, 100] -> [25, 50, 100]: whole model counts (25.7 is refused, not rounded)."""
    if isinstance(ns, str):
        items = [x.strip() for x in ns.split(",")]
    elif isinstance(ns, (numbers.Integral, numbers.Real)) and not isinstance(ns, bool):
        items = [ns]
    else:
        try:
            items = list(ns)
        except TypeError:
            items = [ns]
    out = []
    for x in items:
        try:
            v = int(x) if isinstance(x, str) else x
        except ValueError:
            v = None
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise ParamError(f"{{n}}: cannot read {shown(x)} in {shown(ns)}; write whole model counts such as "
                             f"25,50,100,200", "n")
        out.append(int(v))
    return out


class Planning(Costs):
    """Power and sequential comparisons: how many models a comparison needs, and training until it is decided."""

    def _pair(self, sweeps, metric: str = D.metric):
        names = self._compared(sweeps, "power", 2, 2)
        pops = self._pops(names, metric, need=1)
        with self.store() as s:
            protos = {n: s.sweep(n).protocol for n in names}
        if protos[names[0]] != protos[names[1]]:
            raise DseError(f"sweeps {names[0]!r} and {names[1]!r} were trained under different protocols: their errors "
                           f"are not comparable (dse train stores each sweep's protocol)")
        return names, pops, protos[names[0]]

    @checked(n=Check(), target=Real(0, 1, low_open=True, high_open=True),
             effect=Opt(Real(0, 1, low_open=True, high_open=True)), reps=Int(100, MAX_REPS))
    def power(self, sweeps, *, n="25,50,100,200", alpha: float = D.alpha, target: float = 0.8,
              effect: float | None = None, reps: int = 2000, seed: int = D.seed, sequential: tuple | None = None,
              metric: str = D.metric) -> PowerResult:
        """For each n models per space, the probability that the KS test ``edf`` reports rejects at ``alpha``,
        from the two trained pilot sweeps (or, with ``effect``, for a shift of the first pilot to that KS
        distance); the smallest n reaching ``target``, the models and hours beyond those trained, and the
        uncertainty the pilots add. ``sequential=(step, max)`` simulates ``compare(until_decided)`` as well.

        >>> Study("s.sqlite").power(["anynet_a", "anynet_e"]).n_needed                     # doctest: +SKIP
        """
        ns = _ns(n)
        check_power_options(alpha, target, reps, ns, effect)
        if sequential is not None:
            if not isinstance(sequential, (tuple, list)) or len(sequential) != 2:
                raise ParamError(f"{{sequential}} must be (step, max), got {shown(sequential)}", "sequential")
            check_sequential(*sequential)
        names, pops, _ = self._pair(sweeps, metric)
        r = power_analysis(pops[names[0]].errors, pops[names[1]].errors, names, ns=ns, alpha=alpha, target=target,
                           effect=effect, reps=reps, seed=seed, sequential=sequential)
        if r.more_models:
            est = self.cost_of_more(names, r.more_models)
            if est is not None:
                r.hours, r.hours_range = est.seconds / 3600, (est.low / 3600, est.high / 3600)
        return r

    def cost_of_more(self, names, k: int):
        """The time ``k`` more models in each of the sweeps ``names`` take to train here (dse.api.costs's estimate
        from the store's trained models, with the workers dse train would choose), or None when none is timed."""
        with self.store() as s:
            recs = {n: s.sweep(n) for n in names}
            ms = [m for n in names for m in s.models(n) if m.status == "done"]
        timings = self.stored_timings(list(names), device=next((m.device for m in ms if m.device), "cpu"))
        proto = next((r.protocol for r in recs.values() if r.protocol), None)
        if not timings or not proto:
            return None
        from dse.analysis.cost import fit_cost
        from dse.api.costs import sizes
        from dse.train.protocol import Protocol

        p = Protocol.from_dict(proto, f"sweep {names[0]!r}")
        n_train, n_test = sizes(proto)
        n_test = n_test or 0
        if not n_train:
            return None
        batch, spe, total = p.schedule(n_train)
        flops = float(np.median([m.train_flops or m.flops for m in ms]))
        cost = fit_cost(timings, f"the {len(timings)} trained models of {' and '.join(names)}")
        est, _, _ = self.estimate([(flops, total / spe, n_train, n_test)] * (k * len(names)),
                                  (1, 1, 1), cost=cost)
        return est

    @checked(step=Int(1, MAX_SEQUENTIAL), max=Int(1, MAX_SEQUENTIAL),
             futility=Opt(Real(0, 1, low_open=True, high_open=True)), run=Opt(Instance(RunOptions)))
    def compare(self, sweeps, *, step: int = 10, max: int = 200, alpha: float = D.alpha,
                futility: float | None = 0.1, seed: int = D.seed, metric: str = D.metric, protocol=None, run=None,
                progress=None) -> SequentialDecision:
        """Compare two sweeps in rounds until decided: look (KS with O'Brien-Fleming alpha spending over the looks,
        see dse.analysis.power), and while undecided sample ``step`` more models into each (the seeded top-up of
        ``sample``, same regime) and train them (``protocol``: a dse.train.protocol.Protocol, default the sweeps'
        stored one; ``run``: RunOptions). Each round is sample + train + test on the store, so a crash or Ctrl-C
        loses nothing: call again to continue. ``progress(decision)`` is called after each look. Every option is
        checked (devices, data, protocol) before the first model is added. The decision's ``n`` is the models per
        space its last look used (at most ``max``).

        >>> Study("s.sqlite").compare(["anynet_a", "anynet_e"], step=10, max=100).decision    # doctest: +SKIP
        """
        from dse.spaces import parse_space
        from dse.train.protocol import Protocol
        from dse.train.worker import load_data

        check_sequential(step, max)
        if protocol is not None and not isinstance(protocol, (Protocol, dict)):
            raise ParamError(f"{{protocol}} must be a dse.train.protocol.Protocol, a dict of its settings, or None, "
                             f"got {shown(protocol)}", "protocol")
        if isinstance(protocol, dict):
            unknown = sorted(set(protocol) - set(Protocol().to_dict()))
            if unknown:
                raise ParamError(f"{{protocol}}: unknown setting(s) {', '.join(map(repr, unknown))}; a protocol has "
                                 f"{', '.join(Protocol().to_dict())}", "protocol")
        run = run or RunOptions()
        names = self._compared(sweeps, "compare", 2, 2)
        with self.store() as s:
            recs = {n: s.sweep(n) for n in names}
            t = same_task(s, names)  # one task, one scale or noise: their results are one comparison
        for n, r in recs.items():
            if r.source != "sampled":
                raise DseError(f"sweep {n!r} was {r.source}: compare --until-decided samples more models into it, "
                               f"which "
                               f"needs a sampled sweep")
            if r.regime.get("ms_cap"):
                raise DseError(f"sweep {n!r} was sampled with --max-ms: compare tops sweeps up by their regime alone")
        for n, r in recs.items():  # a damaged stored protocol is said as such, before they are compared
            if r.protocol:
                Protocol.from_dict(r.protocol, f"sweep {n!r}")
        stored = [r.protocol for r in recs.values()]
        if stored[0] != stored[1] and None not in stored:
            raise DseError(f"sweeps {names[0]!r} and {names[1]!r} were trained under different protocols")
        known = next((p for p in stored if p), None)
        if isinstance(protocol, dict):  # settings over the stored protocol (or, before training, the defaults)
            given = protocol
            if known is None and not given:
                raise ParamError("{protocol}: the sweeps have no stored protocol yet; give the training options "
                                 "(at least {budget})", "protocol", "budget")
            own = {k: v for k, v in t.protocol.items() if k in TASK_PROTOCOL}  # (SR: photos, Adam 1e-3, ...)
            protocol = Protocol(**{**(Protocol.from_dict(known, f'sweep {names[0]!r}').to_dict() if known else own),
                                   **given})
        if protocol is None:
            if known is None:
                raise ParamError("{protocol}: the sweeps have no stored protocol yet; give the training options "
                                 "(at least {budget})", "protocol", "budget")
            protocol = Protocol.from_dict(known, f"sweep {names[0]!r}")
        elif known is not None and any(k in known and known[k] != v for k, v in protocol.to_dict().items()):
            diff = ", ".join(f"{k} {known.get(k)!r} (stored) vs {v!r} (now)" for k, v in protocol.to_dict().items()
                             if k in known and known[k] != v)
            raise DseError(f"the sweeps were trained under another protocol: {diff}; compare continues under the "
                           f"stored one: leave those options out")
        # before the first write: the devices answer, the data is there and the batch fits it
        run.devices()
        if t.low_level:  # an SR or denoising pair: its clean images are there and hold its patches
            from dse.train.restore import check_patch, clean_for, patch_of

            clean = clean_for(protocol, run.data_dir)
            for r in recs.values():
                scale = int(r.regime.get("scale") or 1)
                check_patch(clean.smallest, patch_of(protocol.resolution, clean, scale), scale, param="resolution",
                            what=" (the training patch)")
        data = None if t.low_level else load_data(protocol, run.data_dir)
        if data is not None and protocol.batch_size > len(data.y_train):
            raise ParamError(f"{{batch_size}} {protocol.batch_size} is more than the {len(data.y_train):,} training "
                             f"images; use {{batch_size}} {len(data.y_train)} or less, or a larger {{train_size}}",
                             "batch_size", "train_size")
        col = "error" if metric == "final" else "best_error"
        for _ in range(10_000):  # each pass: a look, or one round of sampling and training
            errors, untrained = {}, False
            with self.store() as s:
                for n in names:  # the models in index order: the first k are the data of the look at k
                    ms = sorted(s.models(n), key=lambda m: m.idx)
                    errors[n] = [getattr(m, col) if m.status == "done" else None for m in ms]
                    untrained |= any(m.status in ("pending", "running") for m in ms[:max])
            counts = [min(len(errors[n]), max) for n in names]
            trained = min(sum(x is not None for x in e[:max]) for e in errors.values())
            full = min(counts) >= max  # no round follows: the sweeps hold --max models each
            if (trained >= MIN_PILOT or full) and not untrained:
                looks = list(range(step, min(counts) + 1, step))
                if full and (not looks or looks[-1] != max):
                    looks.append(max)
                ra, rb = _rounds(errors[names[0]], looks), _rounds(errors[names[1]], looks)
                if ra and min(sum(map(len, ra)), sum(map(len, rb))) < 2:
                    raise DseError(f"sweeps {names[0]!r} and {names[1]!r} hold {max} models each (the --max) but "
                                   f"fewer than 2 trained in one of them: nothing to compare; dse status says why "
                                   f"they failed")
                if ra:
                    d = sequential_decision(ra, rb, max, alpha, futility, seed=seed, last=full)
                    if progress:
                        progress(d)
                    if d.decision != "continue":
                        a, b = np.concatenate(ra), np.concatenate(rb)
                        plan = plan_sequential(a, b, step, max, alpha, reps=300, rng=np.random.default_rng(seed))
                        d.fixed_n = plan.fixed_n
                        d.saved = None if plan.fixed_n is None else plan.fixed_n - d.looks[-1].n
                        d.n = {n: int(len(x)) for n, x in zip(names, (a, b))}
                        return d
            if untrained:
                target = min(counts)  # train what the last round added first
            else:
                target = min(max, (min(counts) // step + 1) * step)
            for n in names:
                r = recs[n]
                reg = r.regime
                if target > len(errors[n]):  # the regime as stored (a low-level one: its scale or noise)
                    counted = {k: reg[k] for k in ("resolution", "stem", "num_classes", "scale", "sigma") if k in reg}
                    window = {"bitops": tuple(reg["bitops"])} if reg.get("bitops") else {"flops": tuple(reg["flops"])}
                    self.sample(parse_space(r.space, f"sweep {n}"), target, n, **window,
                                in_channels=reg["in_channels"], max_params=reg.get("max_params"),
                                max_acts=reg.get("max_acts"), **counted)
            self.train_protocol(protocol, run, names)
        raise DseError("compare did not converge")  # (unreachable: each pass adds or trains models)


def _rounds(errors: list, looks: list[int]) -> list:
    """The errors each look adds (models in index order; failed and diverged ones left out)."""
    out, prev = [], 0
    for n in looks:
        out.append(np.array([e for e in errors[prev:n] if e is not None], dtype=np.float64))
        prev = n
    return out
