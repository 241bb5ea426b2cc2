"""Training sweeps under a protocol, and whether the budget was long enough (undertraining, budget-check)."""

from __future__ import annotations

import functools
import io
import json
import shutil
from dataclasses import dataclass, field

import numpy as np

from dse.api.common import StudyBase, same_task
from dse.errors import DseError, ParamError
from dse.store.records import SweepRecord
from dse.tasks import task_of
from dse.validate import (FIXED_SIZE_DATASETS, usable_cpus)
from dse.validate import MAX_MODELS, METRIC_COLUMN
from dse.params import DEFAULTS as D
from dse.params import PROTOCOL, REGIME_DEFAULTS, RUN, TASK_PROTOCOL, Factors, Instance, Int, Opt, checked
from dse.train.options import RunOptions
from dse.units import parse_factors
from dse.train.protocol import Protocol


@dataclass
class TrainSummary:
    """What ``Study.train`` did: the sweeps, and their models by status afterwards."""

    sweeps: list
    done: int = 0
    failed: int = 0
    diverged: int = 0
    pending: int = 0
    trained_now: bool = False  # False when nothing was pending
    header: str = ""           # the dataset and schedule line
    synthetic: bool = False
    counts: dict = field(default_factory=dict)
    allocation: object = None  # the dse.train.allocation.Allocation it trained with (local executor)


def copy_name(sweep: str, factor: float) -> str:
    """The sweep budget-check trains ``sweep``'s copies into at budget x ``factor``: ``S~x4``."""
    return f"{sweep}~x{factor:g}"


def copy_of(name: str, sweep: str) -> float | None:
    """The factor when ``name`` is a budget copy of ``sweep`` (``copy_name``'s inverse), else None.

    >>> copy_of(copy_name("anynet_a", 4), "anynet_a"), copy_of("anynet_a~xy", "anynet_a")
    (4.0, None)
    """
    head = copy_name(sweep, 1)[:-1]
    if not name.startswith(head):
        return None
    try:
        f = float(name[len(head):])
    except ValueError:
        return None
    return f if copy_name(sweep, f) == name else None


def _pairs(s, sweep, copy, col, ids=None) -> tuple[list, list]:
    """(errors at the base budget, errors at the copy's) of the models trained in both, in ``ids``' order (default:
    every copied model by index), oriented lower-is-better (a PSNR negated: ``dse.tasks.Metric.loss``)."""
    loss = task_of(s.sweep(sweep).regime).metric.loss
    base = {m.idx: getattr(m, col) for m in s.models(sweep)}
    long = {m.idx: getattr(m, col) for m in s.models(copy)}
    ids = [i for i in (sorted(long) if ids is None else ids) if long.get(i) is not None and base.get(i) is not None]
    return [loss(base[i]) for i in ids], [loss(long[i]) for i in ids]


def _regime_note(s, sweep: str, channels: int, size: int, classes: int) -> str | None:
    """When a sweep's models were sampled for other images than the data's (224 px ImageNet models trained on
    28 px Fashion-MNIST), one line saying so, with the complexity they have at training; else None."""
    from dse.models.arch import stem_for
    from dse.units import human

    r = s.sweep(sweep).regime
    if (r["resolution"], r["stem"], r["in_channels"], r["num_classes"]) == (size, stem_for(size), channels, classes):
        return None
    f = [m.train_flops or m.flops for m in s.models(sweep)]
    at = f", where they count {human(min(f), 'F')} to {human(max(f), 'F')}" if f else ""
    return (f"note: sweep {sweep} was sampled at {r['resolution']} px ({r['stem']} stem, {r['in_channels']} "
            f"channel(s), "
            f"{r['num_classes']} classes, flops {human(r['flops'][0], 'F')} to {human(r['flops'][1], 'F')}); it trains "
            f"on {size} px images ({stem_for(size)} stem, {channels} channel(s), {classes} classes){at}")


def _typed(obj, kind, group: dict, flat: dict, name: str):
    """The typed object of a group of settings (``protocol=`` a Protocol from dse.params.PROTOCOL, ``run=`` a
    RunOptions from RUN): ``obj`` when the caller gave one (then none of the flat keywords may differ from its
    default: the two ways are not mixed), else ``kind(**flat)``."""
    assert flat.keys() == group.keys(), sorted(set(group) ^ set(flat))  # every declared setting is routed
    if obj is None:
        return kind(**flat)
    mixed = [k for k, p in group.items() if flat[k] != p.default]
    if mixed:
        raise ParamError(f"{{{name}}} is given as an object: leave out {', '.join(mixed)} (set it on the object)",
                         name, *mixed)
    return obj


def _classes(rec: SweepRecord) -> int:
    """The number of classes a sweep was trained on: the dataset's (10 for the built-in ones), else its regime's."""
    from dse.train.data import FIXED

    dataset = (rec.protocol or {}).get("dataset")
    if dataset in FIXED:
        return FIXED[dataset][1]
    if dataset == "synthetic":
        return 10
    return int((rec.regime or {}).get("num_classes") or REGIME_DEFAULTS["num_classes"])


def _restore_counter(regime):
    """``train_cx`` of a low-level sweep: its models counted as its regime counts them (at the task's output)."""
    def count(archs, res):
        cx = [regime.count(a) for a in archs]
        return [[c[k] for c in cx] for k in ("flops", "params", "acts")]
    return count


class Training(StudyBase):
    """Training sweeps under a protocol, and whether the budget was long enough (undertraining, budget-check)."""

    # ---- training ----
    @checked(protocol=Opt(Instance(Protocol)), run=Opt(Instance(RunOptions)),
             **{k: Opt(PROTOCOL[k].check) for k in TASK_PROTOCOL})
    def train(self, sweeps=None, *, budget: str = D.budget, dataset: str | None = None, data_dir=D.data_dir,
              train_size: int | None = D.train_size, test_size: int | None = D.test_size,
              resolution: int | None = D.resolution, batch_size: int | None = None, lr: float | None = None,
              weight_decay: float | None = None, momentum: float = D.momentum, nesterov: bool | None = None,
              augment: bool = D.augment, seed: int = D.seed, device: str = D.device,
              workers_per_device: int | str | None = D.workers_per_device, checkpoint: str = D.checkpoint,
              graph: str = D.graph, executor: str = D.executor, address: str | None = D.address,
              gpus_per_model: float | None = D.gpus_per_model, max_concurrent: int | None = D.max_concurrent,
              progress=None, on_start=None, retry_failed: bool = False, reset_protocol: bool = False,
              discard_results: bool = False, protocol: Protocol | None = None,
              run: RunOptions | None = None) -> TrainSummary:
        """Train the pending models of ``sweeps`` (default: all) under one protocol and return when done.

        The protocol (dataset and subset, budget, regime) is stored with each sweep the first time it is
        trained; a later call with other settings is refused. ``reset_protocol`` forgets the stored protocol
        first (a mistaken first run): refused while any model has results under it, unless ``discard_results``
        (every model back to pending, its errors, epochs and checkpoints deleted). ``progress(db, sweeps, epochs)``
        makes the progress display (default: none); ``on_start(summary)`` is called before the first model.
        Ctrl-C (KeyboardInterrupt) gives running models back: call again to continue.

        The settings are keywords (declared in ``dse.params``: PROTOCOL, what an error means, and RUN, how to run),
        or the typed objects they make: ``protocol=Protocol(...)``, ``run=RunOptions(...)``. Those a task gives its
        own default (``TASK_PROTOCOL``: dataset, lr, weight_decay, batch_size, nesterov) are the sweeps' task's when
        left out (None): classification's declared ones, or super-resolution's (photos, Adam at 1e-3, ...).

        >>> Study("s.sqlite").train(budget="2ep", train_size=5000, device="cpu").done           # doctest: +SKIP
        """
        flat = dict(budget=budget, dataset=dataset, train_size=train_size, test_size=test_size, resolution=resolution,
                    batch_size=batch_size, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                    augment=augment)
        t = self._task_of(sweeps) if protocol is None else None
        own = t.protocol if t else {}  # a setting left out: the task's default (SR: photos, Adam at 1e-3), else
        flat.update({k: own.get(k, PROTOCOL[k].default) for k in TASK_PROTOCOL if flat[k] is None})  # the declared
        if t and resolution and flat["dataset"] in FIXED_SIZE_DATASETS and not t.low_level:
            raise ParamError(f"{{resolution}} applies to imagefolder and synthetic data; {flat['dataset']} images have "
                             f"a fixed size", "resolution")
        protocol = _typed(protocol, functools.partial(Protocol, seed=seed), PROTOCOL, flat, "protocol")
        run = _typed(run, RunOptions, RUN, dict(
            device=device, workers_per_device=workers_per_device, data_dir=data_dir, checkpoint=checkpoint,
            graph=graph, executor=executor, address=address, gpus_per_model=gpus_per_model,
            max_concurrent=max_concurrent, progress=progress, on_start=on_start), "run")
        return self.train_protocol(protocol, run, sweeps, retry_failed=retry_failed, reset_protocol=reset_protocol,
                                   discard_results=discard_results)

    @checked()
    def train_protocol(self, p, run: RunOptions | None = None, sweeps=None, *, retry_failed: bool = False,
                       reset_protocol: bool = False, discard_results: bool = False) -> TrainSummary:
        """``train`` with its settings as objects: ``p`` a ``dse.train.protocol.Protocol``, ``run`` how to run."""
        from dse.models.arch import stem_for
        from dse.models.complexity import complexity_many
        from dse.train.worker import load_data

        run = run or RunOptions()
        devices = run.devices()  # checked before anything is stored
        opts = run.for_workers()
        with self.store() as s:
            names = self._names(s, sweeps, copies=True)  # budget-check trains its copies through here
            if same_task(s, names, degradation=False).low_level:
                return self._train_low_level(s, p, run, names, retry_failed=retry_failed,
                                             reset_protocol=reset_protocol, discard_results=discard_results)
            data = load_data(p, run.data_dir)
            if p.batch_size > len(data.y_train):  # it would train at a smaller batch than the protocol says
                raise ParamError(f"{{batch_size}} {p.batch_size} is more than the {len(data.y_train):,} training "
                                 f"images; "
                                 f"use {{batch_size}} {len(data.y_train)} or less, or a larger {{train_size}}",
                                 "batch_size", "train_size")
            c, h, _ = data.shape
            kw = {"resolution": h, "stem": stem_for(h), "in_channels": c, "num_classes": data.num_classes}
            self._fix_protocol(s, names, p, lambda n: lambda archs, res: complexity_many(
                archs, **{**kw, "resolution": [r or h for r in res]}), reset_protocol=reset_protocol,
                discard_results=discard_results)
            notes = [_regime_note(s, n, c, h, data.num_classes) for n in names]
            if retry_failed:
                s.reset_failed(names)
            counts = s.status_counts()
        batch, spe, total = p.schedule(len(data.y_train))
        epochs = -(-total // spe)
        pending = sum(counts[n]["pending"] for n in names)
        alloc = None
        if run.executor == "local":  # workers and threads by model size (dse.train.allocation); Ray places its own
            alloc = self._allocation(names, devices, run.workers_per_device, batch, data)
            opts = run.for_workers(workers_per_device=alloc.workers, threads=alloc.threads)
        out = TrainSummary(names, synthetic=data.synthetic, allocation=alloc, header=(
            (f"workers: {alloc.reason}\n" if alloc and (pending or alloc.workers > 1) else "") +
            f"{p.dataset}: {len(data.y_train):,} train / {len(data.y_test):,} test images {c}x{h}x{h}, "
            f"{data.num_classes} classes; {epochs} epoch(s) of {spe} steps at batch {batch}; "
            f"{pending} model(s) pending in {', '.join(names)}" + "".join(f"\n{x}" for x in notes if x)))
        return self._run(out, names, p, run, opts=opts, data=data if len(devices) == 1 else None, epochs=epochs,
                         counts=counts)

    def _fix_protocol(self, s, names, p, train_cx, *, reset_protocol: bool, discard_results: bool) -> None:
        """Reset the sweeps' protocols when asked, then fix ``p`` as each one's (``train_cx(sweep)`` counts its
        models at training); a sweep trained under another protocol is refused, saying how they differ."""
        from dse.spaces import builtin_names
        from dse.train.worker import checkpoint_dir

        if reset_protocol:
            for n in names:  # all checked before any is reset
                s.reset_protocol(n, discard_results, check_only=True)
            for n in names:
                s.reset_protocol(n, discard_results)
                shutil.rmtree(checkpoint_dir(self.path, n), ignore_errors=True)
        elif discard_results:
            raise ParamError("{discard_results} goes with {reset_protocol}: it discards the results of a "
                             "protocol being reset", "discard_results", "reset_protocol")
        for n in names:
            old = s.set_protocol(n, p.to_dict(), train_cx(n))
            if old is not None:
                diff = ", ".join(f"{k} {old.get(k)!r} (stored) vs {v!r} (now)" for k, v in p.to_dict().items()
                                 if old.get(k) != v)
                rec = s.sweep(n)
                fresh = (f"dse sample --space {rec.space_name} -n N --sweep {n}-2"
                         if rec.source == "sampled" and rec.space_name in builtin_names() else
                         f"the same networks untrained: dse export --sweep {n} -o {n}.csv, empty its error "
                         f"columns, then dse import {n}.csv --sweep {n}-2")
                raise DseError(f"sweep {n!r} was trained under another protocol: {diff}. Models trained under "
                               f"different protocols are never mixed: rerun with the stored options, start a "
                               f"new sweep ({fresh}), or, "
                               f"if the stored protocol was a mistake, train with --reset-protocol (with "
                               f"--discard-results when models are already trained under it)")

    def _run(self, out: "TrainSummary", names, p, run, *, opts, data, epochs: int, counts: dict) -> "TrainSummary":
        """Train the pending models of ``names`` (local workers or Ray) with the progress display; ``out`` with the
        counts afterwards."""
        from dse.train.progress import Progress
        from dse.train.worker import run_training

        pending = sum(counts[n]["pending"] for n in names)
        if pending or sum(counts[n]["running"] for n in names):
            out.trained_now = True
            if run.on_start:
                run.on_start(out)
            prog = run.progress(self.path, names, epochs) if run.progress else Progress(
                self.path, names, epochs, live=False, out=io.StringIO(), log=lambda m: None)
            try:
                if run.executor == "ray":
                    from dse.train.ray_executor import run_ray

                    run_ray(self.path, names, p, opts, prog, address=run.address, gpus_per_model=run.gpus_per_model,
                            max_concurrent=run.max_concurrent)
                else:
                    run_training(self.path, names, p, opts, data=data, progress=prog)
            finally:
                prog.close()
        with self.store() as s:
            counts = s.status_counts()
        out.counts = {n: counts[n] for n in names}
        for k in ("done", "failed", "diverged", "pending"):
            setattr(out, k, sum(counts[n][k] for n in names))
        return out

    def _train_low_level(self, s, p, run, names, *, retry_failed, reset_protocol, discard_results) -> "TrainSummary":
        """train_protocol for SR and denoising sweeps: clean images (dse.train.restore), counts at the task's
        output size, one worker per device (the engine's allocation is sized for classification)."""
        from dse.spaces import Regime
        from dse.train.restore import (EPOCH_STEPS, baseline_psnr, check_patch, clean_for, patch_of, restore_epochs,
                                       restore_steps)

        data = clean_for(p, run.data_dir)
        regimes = {n: s.sweep(n).regime for n in names}
        for n, r in regimes.items():  # (a one-channel network trains on colour photographs' Y channel)
            if r.get("in_channels", 3) != data.channels and (data.channels, r.get("in_channels", 3)) != (3, 1):
                raise ParamError(f"{{dataset}} {p.dataset} has {data.channels}-channel images and sweep {n!r} was "
                                 f"sampled for {r.get('in_channels', 3)} (--in-channels); sample it with "
                                 f"--in-channels {data.channels} or train on other images", "dataset")
            scale = int(r.get("scale") or 1)
            check_patch(data.smallest, patch_of(p.resolution, data, scale), scale, param="resolution",
                        what=" (the training patch)")
        self._fix_protocol(s, names, p, lambda n: _restore_counter(Regime.from_dict(regimes[n])),
                           reset_protocol=reset_protocol, discard_results=discard_results)
        if retry_failed:
            s.reset_failed(names)
        counts = s.status_counts()
        epochs = restore_epochs(p)
        workers = run.workers_per_device if isinstance(run.workers_per_device, int) else 1
        opts = run.for_workers(workers_per_device=workers, threads=run.threads or max(1, usable_cpus() // workers))
        pending = sum(counts[n]["pending"] for n in names)
        scales = sorted({int(r.get("scale") or 1) for r in regimes.values()})
        degradations = {(r["task"], r.get("scale"), r.get("sigma")): r for r in regimes.values()}
        base = "; ".join(f"{'bicubic x' + str(k[1]) if k[0] == 'sr' else f'noisy input (sigma {k[2]:g})'} "
                         f"{baseline_psnr(data, r):.2f} dB" for k, r in degradations.items())
        luma = " (their Y channel for the one-channel networks)" if data.channels == 3 and any(
            r.get("in_channels", 3) == 1 for r in regimes.values()) else ""
        out = TrainSummary(names, synthetic=data.synthetic, header=(
            f"{p.dataset}: {len(data.train):,} train / {len(data.val):,} validation images, {data.channels} "
            f"channel(s){luma}; {', '.join(sorted({r['task'] for r in regimes.values()}))}"
            + (f" x{', x'.join(map(str, scales))}" if scales != [1] else "")
            + f"; {restore_steps(p):,} steps at batch {p.batch_size} ({epochs} evaluation(s), every {EPOCH_STEPS}), "
              f"{patch_of(p.resolution, data, scales[0])} px patches, Adam lr {p.lr:g}; PSNR in dB (higher is "
              f"better; the validation inputs themselves: {base}); {pending} model(s) pending in {', '.join(names)}"))
        devices = run.devices()
        return self._run(out, names, p, run, opts=opts, data=data if len(devices) * workers == 1 else None,
                         epochs=epochs, counts=counts)

    def _task_of(self, sweeps):
        """The one task of ``sweeps`` (default: every sweep); classification when the store does not exist yet
        (train then says what is missing)."""
        from dse.tasks import task

        if not self._exists():
            return task("classify")
        with self.store() as s:
            return same_task(s, self._names(s, sweeps, copies=True), degradation=False)

    def _allocation(self, names, devices, workers, batch: int, data):
        """Workers per device and threads each for the pending models of ``names`` (dse.train.allocation.choose): from
        their median training flops and activations per image, the cores, the free memory and the data's size."""
        from dse.models.blocks import in_every_process
        from dse.train.allocation import Allocation, choose, free_memory

        with self.store() as s:
            todo = [m for n in names for m in s.models(n) if m.status in ("pending", "running")]
        local = sorted({m.arch.block for m in todo if not in_every_process(m.arch.block)})
        if local and workers in (None, "auto"):  # a worker process could not build them: train here
            return Allocation(1, usable_cpus(), f"1 worker in this process with {usable_cpus()} thread(s): block "
                                                f"{local[0]!r} is registered in this process only (register it "
                                                f"through DSE_BLOCKS or a dse.blocks entry point for worker "
                                                f"processes)")
        flops = [m.train_flops or m.flops for m in todo if (m.train_flops or m.flops)]
        acts = [m.train_acts or m.acts for m in todo if (m.train_acts or m.acts)]
        per_device = -(-len(todo) // len(devices))
        return choose(devices[0], usable_cpus(), per_device, float(np.median(flops)) if flops else None,
                      float(np.median(acts)) if acts else None, batch=batch,
                      data_bytes=int(data.x_train.nbytes + data.x_test.nbytes), memory=free_memory(),
                      workers=workers)

    # ---- is the budget long enough? ----
    @checked()
    def undertraining(self, sweeps=None, *, metric: str = D.metric) -> dict:
        """{sweep: Undertraining}: the signals of a too-short budget computable from what is stored (training
        loss still falling in the last epoch, error rising with depth, models near chance), per sweep with
        trained models. No training; see ``dse.analysis.budget`` for the thresholds.

        >>> [u.warning() for u in Study("s.sqlite").undertraining().values() if u.flagged]   # doctest: +SKIP
        """
        from dse.analysis.budget import undertraining

        out = {}
        with self.store() as s:
            for n in self._names(s, sweeps):
                rec = s.sweep(n)
                col = METRIC_COLUMN[metric]
                ms = [m for m in s.models(n) if getattr(m, col) is not None]
                if not ms:
                    continue
                losses = {}
                for r in s.epoch_rows([n]):
                    losses.setdefault(r.idx, []).append(r.train_loss)
                t = task_of(rec.regime)  # (a PSNR oriented as an error; no chance level outside classification)
                out[n] = undertraining(n, t.metric.loss(np.array([getattr(m, col) for m in ms], dtype=np.float64)),
                                       [m.arch.depth for m in ms], [losses.get(m.idx, []) for m in ms],
                                       None if t.low_level else _classes(rec), measure=t.metric)
        return out

    @checked(models=Int(3, MAX_MODELS), factors=Factors(), run=Opt(Instance(RunOptions)))
    def budget_check(self, sweeps, *, models: int = 20, factors="2,4", seed: int = D.seed, metric: str = D.metric,
                     n_boot: int = 2000, device: str = D.device, workers_per_device: int | None = D.workers_per_device,
                     data_dir=D.data_dir, checkpoint: str = D.checkpoint, graph: str = D.graph,
                     executor: str = D.executor, address: str | None = D.address,
                     gpus_per_model: float | None = D.gpus_per_model, max_concurrent: int | None = D.max_concurrent,
                     progress=None, on_start=None, run: RunOptions | None = None):
        """Train copies of ``models`` models of each trained sweep (spread over its error quantiles) at its
        budget x each of ``factors``, under its protocol otherwise, into linked sweeps ``S~x4`` (stored,
        resumable: calling again continues, nothing is trained twice), then compare the rankings: Spearman and
        Kendall with a bootstrap interval, top-quarter overlap, median error change, and with several sweeps
        whether their order flips. Returns a BudgetCheck with the verdict trustworthy / doubtful / misleading.

        >>> Study("s.sqlite").budget_check(["anynet_a", "anynet_e"], models=20, factors=[4]).verdict  # doctest: +SKIP
        """
        from dse.analysis.budget import MIN_K, budget_check, scale_budget, stratified
        from dse.tasks import ERROR
        from dse.train.protocol import Protocol
        from dse.train.restore import clean_for
        from dse.train.worker import load_data

        # everything is checked before the copies are written (the keywords by @checked): a failing call leaves the
        # store as it was
        factors = sorted(dict.fromkeys(parse_factors(factors)))
        run = _typed(run, RunOptions, RUN, dict(
            device=device, workers_per_device=workers_per_device, data_dir=data_dir, checkpoint=checkpoint,
            graph=graph, executor=executor, address=address, gpus_per_model=gpus_per_model,
            max_concurrent=max_concurrent, progress=progress, on_start=on_start), "run")
        run.devices()  # the devices, workers and Ray address answer now, or the call ends here
        col = METRIC_COLUMN[metric]
        plan = {}  # {(sweep, factor): (copy name, budget)}
        with self.store(write=True) as s:
            names = self._names(s, sweeps)
            measure = same_task(s, names).metric  # (its sweeps are compared: one task, one scale or noise)
            chosen = {}
            for n in names:
                rec = s.sweep(n)
                if rec.source == "budget":
                    raise DseError(f"sweep {n!r} is a copy dse budget-check made; check the sweep it came from")
                if rec.protocol is None:
                    raise DseError(f"sweep {n!r} was not trained by dse (no stored protocol): budget-check trains "
                                   f"copies under the sweep's own protocol; train it with dse train first")
                ms = [m for m in s.models(n) if getattr(m, col) is not None and m.status == "done"]
                if len(ms) < 3:
                    raise DseError(f"sweep {n!r} has {len(ms)} trained model(s); budget-check needs at least 3 "
                                   f"(train more with dse train)")
                if models > len(ms):
                    enough = (f"use {{models}} {len(ms)} or fewer" if len(ms) >= MIN_K else
                              f"a verdict needs {MIN_K} or more per sweep: train more models of {n!r} (dse sample "
                              f"--sweep {n} -n {MIN_K} tops it up, then dse train), or use {{models}} {len(ms)} for "
                              f"the "
                              f"rank statistics without a verdict")
                    raise ParamError(f"{{models}} {models} is more than the {len(ms)} trained models of sweep {n!r}; "
                                     + enough, "models")
                pick = stratified([measure.loss(getattr(m, col)) for m in ms], models, seed)
                chosen[n] = [ms[i].idx for i in pick]
                Protocol.from_dict(rec.protocol, f"sweep {n!r}")  # a damaged stored budget is said as such
                for f in factors:
                    plan[(n, f)] = (copy_name(n, f), scale_budget(rec.protocol["budget"], f))
                    try:  # the longer budget within the limits
                        Protocol.from_dict({**rec.protocol, "budget": plan[(n, f)][1]})
                    except ParamError as e:
                        raise ParamError(f"{{factors}} {f:g}: sweep {n!r} trained at {rec.protocol['budget']} would "
                                         f"train at {plan[(n, f)][1]}, which is refused: {e}", "factors") from None
                copy = s.sweep_names()
                for f in factors:
                    if plan[(n, f)][0] in copy and s.sweep(plan[(n, f)][0]).source != "budget":
                        raise DseError(f"sweep {plan[(n, f)][0]!r} exists and was not made by budget-check; rename it")
            seen = set()
            for n in names:  # the data each protocol trains on is there (loaded once per protocol)
                p = Protocol.from_dict(s.sweep(n).protocol, f"sweep {n!r}")
                key = (p.dataset, p.train_size, p.test_size, p.resolution, p.subset_seed)
                if key not in seen:
                    seen.add(key)
                    clean_for(p, run.data_dir) if measure != ERROR else load_data(p, run.data_dir)
            with s.write() as c:
                for (n, f), (copy, _) in plan.items():
                    if copy in s.sweep_names():
                        if s.sweep(copy).source != "budget":
                            raise DseError(f"sweep {copy!r} exists and was not made by budget-check; rename it")
                    else:
                        rec = s.sweep(n)
                        s.create_sweep(c, copy, rec.space_name, space=rec.space, regime=rec.regime, seed=rec.seed,
                                       source="budget")
                    s.copy_models(c, n, copy, chosen[n])
            protos = {n: s.sweep(n).protocol for n in names}
        runs = {}  # one training run per distinct protocol at the longer budget (the copies of a factor share one)
        for f in factors:
            for n in names:
                copy, budget = plan[(n, f)]
                p = {**protos[n], "budget": budget}
                runs.setdefault(json.dumps(p, sort_keys=True), (p, []))[1].append(copy)
        for p, copies in runs.values():
            self.train_protocol(Protocol.from_dict(p), run, copies)
        pairs, budgets = {}, {}
        with self.store() as s:
            for (n, f), (copy, budget) in plan.items():
                pairs[(n, f)] = _pairs(s, n, copy, col, chosen[n])
                budgets[(n, f)] = budget
            pops = {n: [measure.loss(getattr(m, col)) for m in s.models(n)
                        if getattr(m, col) is not None and m.status == "done"] for n in names}
        r = budget_check(pairs, budgets, n_boot, seed, pops, measure=measure)
        flagged = [n for n, u in self.undertraining(names, metric=metric).items() if u.flagged]
        if flagged and r.verdict == "trustworthy":  # never contradict the undertraining warning without a word
            r.why += (f"; {', '.join(flagged)} looked undertrained at the base budget (the warning of dse edf): the "
                      f"retrained models kept their order, which says the ranking held, not that the base budget "
                      f"is long enough for every comparison")
        return r

    @checked()
    def stored_budget_check(self, sweeps=None, *, metric: str = D.metric):
        """The budget check of ``sweeps`` from the copies ``budget_check`` already trained (nothing is trained),
        or None when no sweep has a copy with 3 or more trained models."""
        from dse.analysis.budget import budget_check

        pairs, budgets = {}, {}
        with self.store() as s:
            names, all_names = self._names(s, sweeps), s.sweep_names()
            for n in names:
                for copy in all_names:
                    f = copy_of(copy, n)
                    if f is None or s.sweep(copy).source != "budget":
                        continue
                    base, long = _pairs(s, n, copy, METRIC_COLUMN[metric])
                    if len(base) >= 3:
                        pairs[(n, f)], budgets[(n, f)] = (base, long), (s.sweep(copy).protocol or {}).get("budget", "?")
        if not pairs:
            return None
        with self.store() as s:
            metric_of = {n: task_of(s.sweep(n).regime).metric for n, _ in pairs}
        measure = metric_of[next(iter(pairs))[0]]  # the sweeps of the first one's measure (a mixed store: its task)
        pairs = {k: v for k, v in pairs.items() if metric_of[k[0]] == measure}
        return budget_check(pairs, {k: budgets[k] for k in pairs}, measure=measure)
