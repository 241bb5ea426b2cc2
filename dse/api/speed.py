"""Runtime: measuring models on a device, and what their timings say (RegNet Fig. 12 top)."""

from __future__ import annotations

import numpy as np

from dse.analysis.speed import SpeedResult
from dse.models.runtime import SpeedFit
from dse.api.common import StudyBase
from dse.errors import DseError, ParamError
from dse.validate import COUNTS, MAX_BATCH, SPEED_CHOICES, SPEED_MODES, check_choice
from dse.params import Bool, Choice, Func, Int, Names, Opt, Text, checked


def _modes(mode: str) -> tuple:
    check_choice(mode, "mode", SPEED_CHOICES)
    return SPEED_MODES if mode == "both" else (mode,)


def _from_training(s, names, report):
    """A SpeedResult from training throughput: ms per batch = batch / images_per_s of each model's last epoch,
    against its complexity at the training resolution; the models of the most common training device."""
    rows, devices = [], {}
    for n in names:
        rec = s.sweep(n)
        for m in s.models(n):
            batch = m.used("batch_size", rec.regime, rec.protocol)  # what it trained with (its own, if sampled)
            if m.images_per_s and batch:
                devices[m.device] = devices.get(m.device, 0) + 1
                rows.append((m.device, batch, {"sweep": n, "id": m.idx, "ms": 1000.0 * batch / m.images_per_s,
                                               **{k: getattr(m, f"train_{k}") or getattr(m, k)
                                                  for k in COUNTS}}))
    if not rows:
        raise DseError(f"no trained model of {', '.join(names)} has a training throughput; train first, or measure "
                       f"with dse speed")
    dev = max(devices, key=devices.get)
    batches = {b for d, b, _ in rows if d == dev}
    return report(f"training on {dev}", "train", batches.pop() if len(batches) == 1 else 0,
                  [r for d, _, r in rows if d == dev], source="training")


class Speed(StudyBase):
    """Runtime: measuring models on a device, and what their timings say (RegNet Fig. 12 top)."""

    # ---- runtime ----
    @checked(mode=Choice(SPEED_CHOICES), batch=Int(1, MAX_BATCH), repeat=Int(1, 10_000), force=Bool(),
             events=Opt(Func()), baseline=Opt(Names()))
    def speed(self, sweeps=None, *, device: str = "auto", mode: str = "infer", batch: int = 64, repeat: int = 10,
              force: bool = False, events=None, baseline: str | list | None = None) -> list[SpeedResult]:
        """Time every model of ``sweeps`` (pending or trained: only the architecture is needed) at its sweep's
        regime on ``device`` (auto, cpu, cuda, cuda:N) in ``mode`` (infer, train or both), measuring only what
        is missing (``force``: everything again), then report per device and mode: correlations of ms with
        flops/params/acts and the fits. Stores the flops + acts fit that ``sample(max_ms=...)`` predicts with.
        ``events(sweep, idx, mode, ms)`` is called after each timing. Ctrl-C keeps what was measured.
        ``baseline`` ("effnet_b0,resnet50" or a list; ``dse model list``) times those reference networks too, at the
        first sweep's regime, and sets each result's ``baselines``: each against the models of about its flops.
        Reference sweeps (``sample --reference``) are always baselines, never part of the fits.

        >>> Study("s.sqlite").speed(mode="both")[0].pearson                        # doctest: +SKIP
        """
        from dse.train.speed import measure
        from dse.train.worker import resolve_devices

        modes = _modes(mode)
        devices = resolve_devices(device)
        with self.store() as s:
            names = self._names(s, sweeps, copies=True)
            refs = [n for n in names if s.sweep(n).source == "reference"]
        names = [n for n in names if n not in refs]  # reference sweeps are baselines, not the population
        refs += self._baselines(baseline, names)
        done = measure(self.path, names + refs, devices, modes, batch=int(batch), repeat=int(repeat), force=force,
                       events=events)
        out = []
        for label in done:
            for m in modes:
                r = self.speed_report(names, device=label, mode=m, batch=batch)
                with self.store() as s:
                    s.set_speed_fit(label, m, int(batch), {**r.fits[2].to_json(), "n": r.n, "sweeps": names})
                if refs:
                    r.baselines = self._baseline_rows(refs, r, label, m, int(batch))
                out.append(r)
        return out

    def _baselines(self, baseline, names: list) -> list[str]:
        """The reference sweeps of ``baseline`` (names), each at the regime of the first timed sweep (made if
        missing: ``NAME@Rpx`` when R is not the network's own resolution)."""
        from dse.models.reference import reference

        wanted = [b.strip() for b in baseline.split(",")] if isinstance(baseline, str) else list(baseline or [])
        if not wanted:
            return []
        if not names:
            raise ParamError("{baseline} is timed beside a population: the store has no sampled or imported sweep",
                             "baseline")
        refs = list({r.name: r for r in (reference(b) for b in wanted)}.values())  # every name known before
        # anything is written; a network named twice (in any case) is timed once
        with self.store() as s:
            reg = s.sweep(names[0]).regime
        out = []
        for ref in refs:
            res = int(reg["resolution"])
            sweep = ref.name if (res, reg["num_classes"]) == (ref.resolution, ref.num_classes) else \
                f"{ref.name}@{res}px"
            out.append(self.add_reference(ref.name, sweep, resolution=res, stem=reg["stem"],
                                          in_channels=int(reg["in_channels"]),
                                          num_classes=int(reg["num_classes"])).sweep)
        return out

    def _baseline_rows(self, refs, r, device, mode, batch) -> list:
        from dse.analysis.speed import compare_baselines

        with self.store() as s:
            timed = {(t.sweep, t.idx): t.ms for t in s.speeds(refs, device) if (t.mode, t.batch) == (mode, batch)}
            rows = [{"name": n, "sweep": n, "ms": timed[(n, m.idx)], "flops": m.flops, "params": m.params,
                     "acts": m.acts} for n in refs for m in s.models(n) if (n, m.idx) in timed]
        return compare_baselines(rows, r.models)

    @checked(device=Opt(Text()), mode=Choice(SPEED_MODES), batch=Opt(Int(1, MAX_BATCH)), from_training=Bool())
    def speed_report(self, sweeps=None, *, device: str | None = None, mode: str = "infer", batch: int | None = None,
                     from_training: bool = False) -> SpeedResult:
        """The stored timings of ``sweeps`` on ``device`` (default: the most measured) in ``mode`` at ``batch``
        (default: the most measured), as a SpeedResult. ``from_training``: from the training throughput
        instead (each model's last-epoch images/s at its protocol's batch, against its training complexity).
        Without ``sweeps``, reference sweeps are baselines (``baselines``), not part of the fits."""
        from dse.analysis.speed import speed_report

        with self.store() as s:
            names = self._names(s, sweeps, copies=True)
            refs = [n for n in names if s.sweep(n).source == "reference"] if sweeps is None else []
            names = [n for n in names if n not in refs] or names  # references are baselines, not the population
            if from_training:
                return _from_training(s, names, speed_report)
            devices = [d for d, _ in s.speed_devices()]
            if not devices:
                raise DseError(f"{self.path} holds no timings; run dse speed first (or --from-training)")
            device = device or devices[0]
            if device not in devices:
                raise ParamError(f"{{device}} {device!r} has no timings; measured: {', '.join(devices)}", "device")
            recs = s.speeds(names, device, mode, None if batch is None else int(batch))
            if batch is None and recs:  # the same batch export and the analyses use
                from dse.store.table import most_measured_batch

                batch = most_measured_batch(recs)
                recs = [r for r in recs if r.batch == batch]
            if not recs:
                raise DseError(f"no {mode} timings on {device}" + (f" at batch {batch}" if batch else "")
                               + f" for {', '.join(names)}; run dse speed --mode {mode}")
            models = {(n, m.idx): m for n in names for m in s.models(n)}
            regimes = {n: s.sweep(n).regime for n in names}
        rows = [{"sweep": r.sweep, "id": r.idx, "ms": r.ms, "spread": r.spread,
                 **{k: getattr(models[(r.sweep, r.idx)], k) for k in COUNTS}} for r in recs]
        predicted = {}
        for n in names:
            cap = regimes[n].get("ms_cap")
            if cap and (cap["device"], cap["mode"], cap["batch"]) == (device, mode, int(batch)):
                mine = [r for r in rows if r["sweep"] == n]
                if mine:
                    pred = SpeedFit.from_json(cap).predict({k: [r[k] for r in mine] for k in ("flops", "acts")})
                    predicted[n] = float(np.median([abs(p - r["ms"]) / r["ms"] * 100 for p, r in zip(pred, mine)]))
        out = speed_report(device, mode, int(batch), rows, predicted)
        if refs:  # the reference networks timed on the same device, mode and batch, beside the models
            out.baselines = self._baseline_rows(refs, out, device, mode, int(batch))
        return out
