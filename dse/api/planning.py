"""How many models? The power of a comparison from two pilot sweeps, and comparisons that train in rounds and
stop when decided (``dse.analysis.power`` holds the statistics)."""

from __future__ import annotations

import numpy as np

from dse.analysis.power import (MIN_PILOT, PowerResult, SequentialDecision, plan_sequential, power_analysis,
                                sequential_decision)
from dse.api.common import StudyBase
from dse.errors import DseError, ParamError
from dse.validate import check_int, check_number, check_seed


def _ns(ns) -> list[int]:
    """'25,50,100' or [25, 50, 100] -> [25, 50, 100]."""
    items = ns.split(",") if isinstance(ns, str) else ([ns] if isinstance(ns, (int, np.integer)) else list(ns))
    try:
        out = [int(x) for x in items]
    except (TypeError, ValueError):
        raise ParamError(f"{{n}}: cannot read {ns!r}; write model counts such as 25,50,100,200", "n") from None
    return out


class Planning(StudyBase):
    """Power and sequential comparisons: how many models a comparison needs, and training until it is decided."""

    def _pair(self, sweeps, metric: str = "final"):
        names = self._compared(sweeps, "power")
        if len(names) != 2:
            raise ParamError(f"{{sweeps}}: name exactly two sweeps, got {len(names)}", "sweeps")
        pops = self._pops(names, metric, need=1)
        with self.store() as s:
            protos = {n: s.sweep(n).protocol for n in names}
            secs = [m.train_seconds for n in names for m in s.models(n) if m.train_seconds]
        if protos[names[0]] != protos[names[1]]:
            raise DseError(f"sweeps {names[0]!r} and {names[1]!r} were trained under different protocols: their errors "
                           f"are not comparable (dse train stores each sweep's protocol)")
        return names, pops, protos[names[0]], (float(np.mean(secs)) if secs else None)

    def power(self, sweeps, n="25,50,100,200", alpha: float = 0.05, target: float = 0.8, effect: float | None = None,
              reps: int = 2000, seed: int = 0, sequential: tuple | None = None, metric: str = "final") -> PowerResult:
        """For each n models per space, the probability that the KS test ``edf`` reports rejects at ``alpha``,
        from the two trained pilot sweeps (or, with ``effect``, for a shift of the first pilot to that KS
        distance); the smallest n reaching ``target``, the models and hours beyond those trained, and the
        uncertainty the pilots add. ``sequential=(step, max)`` simulates ``compare(until_decided)`` as well.

        >>> Study("s.sqlite").power(["anynet_a", "anynet_e"]).n_needed                     # doctest: +SKIP
        """
        check_seed(seed)
        ns = _ns(n)
        if sequential is not None:
            step, mx = sequential
            check_int(step, "step")
            check_int(mx, "max", step)
        names, pops, _, secs = self._pair(sweeps, metric)
        return power_analysis(pops[names[0]].errors, pops[names[1]].errors, names, ns, alpha, target, effect, reps,
                              seed, secs, sequential=sequential)

    def compare(self, sweeps, step: int = 10, max: int = 200, alpha: float = 0.05, futility: float | None = 0.1,
                seed: int = 0, metric: str = "final", protocol=None, run=None, progress=None) -> SequentialDecision:
        """Compare two sweeps in rounds until decided: look (KS with O'Brien-Fleming alpha spending over the looks,
        see dse.analysis.power), and while undecided sample ``step`` more models into each (the seeded top-up of
        ``sample``, same regime) and train them (``protocol``: a dse.train.protocol.Protocol, default the sweeps'
        stored one; ``run``: RunOptions). Each round is sample + train + test on the store, so a crash or Ctrl-C
        loses nothing: call again to continue. ``progress(decision)`` is called after each look."""
        from dse.spaces import parse_space
        from dse.train.protocol import Protocol

        check_int(step, "step")
        check_int(max, "max", step)
        check_number(alpha, "alpha", 0, 1, low_open=True, high_open=True)
        if futility is not None:
            check_number(futility, "futility", 0, 1, low_open=True, high_open=True)
        check_seed(seed)
        names = self._compared(sweeps, "compare")
        if len(names) != 2:
            raise ParamError(f"{{sweeps}}: name exactly two sweeps, got {len(names)}", "sweeps")
        with self.store() as s:
            recs = {n: s.sweep(n) for n in names}
        for n, r in recs.items():
            if r.source != "sampled":
                raise DseError(f"sweep {n!r} was {r.source}: compare --until-decided samples more models into it, which "
                               f"needs a sampled sweep")
        stored = [r.protocol for r in recs.values()]
        if stored[0] != stored[1] and None not in stored:
            raise DseError(f"sweeps {names[0]!r} and {names[1]!r} were trained under different protocols")
        if protocol is None:
            known = next((p for p in stored if p), None)
            if known is None:
                raise ParamError("{protocol}: the sweeps have no stored protocol yet; give the training options",
                                 "protocol")
            protocol = Protocol.from_dict(known)
        for n, r in recs.items():
            if r.regime.get("ms_cap"):
                raise DseError(f"sweep {n!r} was sampled with --max-ms: compare tops sweeps up by their regime alone")
        col = "error" if metric == "final" else "best_error"
        for _ in range(10_000):  # each pass: a look, or one round of sampling and training
            errors, untrained = {}, False
            with self.store() as s:
                for n in names:  # the models in index order: the first k are the data of the look at k
                    ms = sorted(s.models(n), key=lambda m: m.idx)
                    errors[n] = [getattr(m, col) if m.status == "done" else None for m in ms]
                    untrained |= any(m.status in ("pending", "running") for m in ms)
            counts = [len(errors[n]) for n in names]
            trained = min(sum(x is not None for x in e) for e in errors.values())
            pending = untrained
            if trained >= MIN_PILOT and not pending:
                looks = list(range(step, min(min(counts), max) + 1, step))
                if min(counts) >= max and (not looks or looks[-1] != max):
                    looks.append(max)
                ra, rb = _rounds(errors[names[0]], looks), _rounds(errors[names[1]], looks)
                if ra:
                    d = sequential_decision(ra, rb, max, alpha, futility, seed=seed)
                    if progress:
                        progress(d)
                    if d.decision != "continue":
                        a, b = np.concatenate(ra), np.concatenate(rb)
                        plan = plan_sequential(a, b, step, max, alpha, reps=300, rng=np.random.default_rng(seed))
                        d.fixed_n = plan.fixed_n
                        d.saved = None if plan.fixed_n is None else plan.fixed_n - d.looks[-1].n
                        return d
            target = min(max, (min(counts) // step + 1) * step) if not pending else min(counts)
            if not pending and target <= min(counts):
                raise DseError(f"no models left to add: both sweeps hold {min(counts)} (the --max)")
            for n in names:
                r = recs[n]
                reg = r.regime
                self.sample(parse_space(r.space, f"sweep {n}"), target, n, tuple(reg["flops"]), reg["resolution"],
                            reg["stem"], reg["in_channels"], reg["num_classes"], reg.get("max_params"),
                            reg.get("max_acts"))
            self.train_protocol(protocol, run, names)
        raise DseError("compare did not converge")  # (unreachable: each pass adds or trains models)


def _rounds(errors: list, looks: list[int]) -> list:
    """The errors each look adds (models in index order; failed and diverged ones left out)."""
    out, prev = [], 0
    for n in looks:
        out.append(np.array([e for e in errors[prev:n] if e is not None], dtype=np.float64))
        prev = n
    return out
