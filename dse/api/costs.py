"""What training will cost here, one estimator for every command that quotes a time (``dse findings --plan``, ``dse
power``, ``dse compare --until-decided``): a ``dse.analysis.cost.CostModel`` fitted to this store's trained models
(any space) when they cover the sizes asked about, else to short timings of real models of those sizes; a plan's
time is its models' sum over the workers ``dse train`` would choose (``dse.train.allocation``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from dse.analysis.cost import CostModel, Estimate, Timing, fit_cost, load_factor, plan_cost
from dse.api.common import StudyBase
from dse.train.worker import SYNTHETIC_SIZES
from dse.validate import usable_cpus

MIN_STORED = 5      # trained models (with per-epoch records, on this kind of device) the store needs to be the source
COVER = 2.0         # ... spanning the sizes asked about within this factor
# (train, test) images of a protocol that gives no sizes: the fixed data sets', synthetic data's defaults
# (dse.train.worker.load_data), and for an image folder a guess (its size is known only once read)
FULL_SIZES = {"fashion-mnist": (60_000, 10_000), "cifar10": (50_000, 10_000), "synthetic": SYNTHETIC_SIZES}
FOLDER_GUESS = (50_000, 10_000)


def sizes(protocol: dict, guess: bool = False) -> tuple:
    """(training images, test images) a protocol ({"dataset", "train_size", "test_size"}) trains and tests on;
    None where unknown (an image folder without sizes), or FOLDER_GUESS's when ``guess``."""
    full = FULL_SIZES.get(protocol.get("dataset"), FOLDER_GUESS if guess else (None, None))
    return protocol.get("train_size") or full[0], protocol.get("test_size") or full[1]


class Costs(StudyBase):
    """Estimates of training time from the store's timings or short probes."""

    def stored_timings(self, sweeps=None, device: str = "cpu") -> list[Timing]:
        """One Timing per trained model of ``sweeps`` (default: every sweep) trained on ``device``'s kind (cpu or
        cuda) with per-epoch records: seconds per training image (median of its epochs), per test image, and outside
        its epochs."""
        if not self._exists():
            return []
        kind = device.split(":")[0]
        out = []
        with self.store() as s:
            names = s.sweep_names() if sweeps is None else [n for n in sweeps if n in set(s.sweep_names())]
            for n in names:
                rec = s.sweep(n)
                proto = rec.protocol or {}
                n_test = sizes(proto)[1]
                rows = {}
                for r in s.epoch_rows([n]):
                    rows.setdefault(r.idx, []).append(r)
                for m in s.models(n):
                    ep = rows.get(m.idx)
                    f = m.train_flops or m.flops
                    if m.status != "done" or not ep or not f or (m.device or "").split(":")[0] != kind:
                        continue
                    ips = [r.images_per_s for r in ep if r.images_per_s]
                    if not ips or not m.train_seconds:
                        continue
                    train_s = float(np.median([1.0 / x for x in ips]))
                    batch = (m.trained or {}).get("batch_size") or proto.get("batch_size") or 128
                    n_train = proto.get("train_size")
                    evals, inside = [], 0.0
                    for r in ep:
                        if r.seconds is None or not r.images_per_s:
                            continue
                        inside += r.seconds
                        if n_train and n_test:
                            steps = n_train // min(batch, n_train)
                            evals.append(max(0.0, r.seconds - steps * min(batch, n_train) / r.images_per_s) / n_test)
                    eval_s = float(np.median(evals)) if evals else None
                    out.append(Timing(float(f), train_s, eval_s, max(0.0, m.train_seconds - inside)))
        return out

    def cost_model(self, flops, shape: tuple, threads: int | None = None, sweeps=None, device: str = "cpu",
                   per_size: int = 2, seed: int = 0, batch: int = 128) -> CostModel:
        """The cost model for models of ``flops`` (their per-image flops: a list, or a (low, high) range) on
        ``shape`` = (channels, h, w) images: from this store's trained models when at least MIN_STORED cover the
        range (within a factor COVER), else from timing ``per_size`` regnetx models near each distinct flops value
        (at most 3 sizes) with ``threads`` threads (default: a worker's under the plan's allocation)."""
        flops = [float(x) for x in flops]
        lo, hi = min(flops), max(flops)
        stored = self.stored_timings(sweeps, device)
        if len(stored) >= MIN_STORED:
            fs = [t.flops for t in stored]
            if min(fs) / COVER <= lo and hi <= max(fs) * COVER:
                return fit_cost(stored, f"this store's {len(stored)} trained models")
        return self.probe_cost(flops, shape, threads or 1, per_size=per_size, seed=seed, batch=batch)

    def probe_cost(self, flops, shape: tuple, threads: int, per_size: int = 2, seed: int = 0,
                   batch: int = 128) -> CostModel:
        """The cost model from short timings (``dse.train.probe``) of ``per_size`` regnetx models near each of at
        most 3 sizes spanning ``flops``, at ``threads`` threads, on synthetic images of ``shape``."""
        from dse.spaces import resolve_space
        from dse.spaces.sampling import Regime, Sampler
        from dse.models.arch import stem_for
        from dse.train.probe import time_model

        from dse.train.probe import RunnableMeter

        flops = sorted(float(x) for x in flops)
        sizes = sorted({flops[0], float(np.sqrt(flops[0] * flops[-1])), flops[-1]})
        c, h, _ = shape
        space = resolve_space("regnetx")
        timings = []
        with RunnableMeter() as load:
            for i, f in enumerate(sizes):
                reg = Regime(flops=(int(f * 0.8), int(f * 1.25) + 1), resolution=h, stem=stem_for(h), in_channels=c,
                             num_classes=10)
                for m in Sampler(space, reg, seed=seed + i).sample(per_size):
                    timings.append(Timing(*time_model(m.arch, m.flops, shape, threads, batch=batch, seed=seed)))
        # the probe's own threads are runnable too, and so is the meter's while it reads
        others = max(0.0, (load.mean or threads + 1) - threads - 1)
        busy = f", {others:.1f} other thread(s) running" if others >= 0.5 else ""
        return dataclasses.replace(fit_cost(timings, f"timing {len(timings)} regnetx models here ({threads} "
                                                     f"thread(s) each{busy})"), others=others)

    def estimate(self, models, shape: tuple, sweeps=None, device: str = "cpu", cost: CostModel | None = None,
                 seed: int = 0, batch: int = 128) -> tuple[Estimate, CostModel, object]:
        """(the time ``models`` [(flops, epochs, n_train, n_test), ...] take here with the workers dse train would
        choose, the cost model, that allocation)."""
        from dse.train.allocation import choose, worker_efficiency

        fl = [m[0] for m in models] or [1e6]
        alloc = choose(device, usable_cpus(), len(models), float(np.median(fl)))
        if cost is None:
            cost = self.cost_model(fl, shape, alloc.threads, sweeps=sweeps, device=device, seed=seed, batch=batch)
        # timed alone (probes): a worker among others runs at the measured per-worker efficiency; stored timings
        # were taken among the workers that trained them
        eff = 1.0
        if cost.source.startswith("timing"):  # timed alone: a worker among others keeps the measured efficiency,
            # and on a busy machine our workers share the cores with the other work more than the probe did
            eff = worker_efficiency(float(np.median(fl)), alloc.workers) * load_factor(
                usable_cpus(), cost.others, alloc.threads, alloc.workers * alloc.threads)
        start = 0.0
        if alloc.workers > 1 and models:  # dse train spawns its workers (one in-process worker starts at once)
            from dse.train.probe import worker_start_seconds

            start = worker_start_seconds()
        return plan_cost(cost, models, alloc.workers, eff, start=start), cost, alloc
