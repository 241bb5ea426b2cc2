"""The public API: a study is one store of sweeps and everything done with them, from a notebook or the CLI.

    >>> import dse
    >>> study = dse.Study("dse.sqlite")                                         # doctest: +SKIP
    >>> study.sample("anynet_e", n=100, flops="2M:8M", resolution=28, stem="cifar", in_channels=1,
    ...              num_classes=10)                                            # doctest: +SKIP
    >>> study.train(budget="2ep", train_size=5000)                              # doctest: +SKIP
    >>> study.models()            # a pandas DataFrame, one row per model       # doctest: +SKIP
    >>> study.edf(["anynet_a", "anynet_e"]).plot()                              # doctest: +SKIP

Every ``dse`` command calls exactly these methods; their results are typed objects (``dse.analysis``)
with ``to_frame()``, ``plot(ax=None)`` and ``to_json()`` (what ``--json`` prints).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dse.analysis.population import METRICS, Population, check_metric, stage_index
from dse.analysis.rank import RankResult
from dse.analysis.refine import RefineResult
from dse.analysis.results import (NORMALIZE_BY, BootstrapResult, ComplexityView, Curves, EdfComparison, FitResult, FitRow,
                                  SearchEfficiency, bootstrap_panel, compare_edfs, compare_search, normalize)
from dse.analysis.speed import SpeedResult
from dse.analysis.trends import TrendsResult, complexity_trend, trend_series
from dse.errors import DseError, ParamError, write_error
from dse.validate import MAX_BATCH
from dse.validate import check_name, check_number, check_output, check_seed
from dse.spaces import Regime, Space, parse_space, resolve_space
from dse.store import STATUSES, Store
from dse.store.records import Fit, ModelRecord, SweepRecord
from dse.sweep import SampleResult, import_sweep, sample_regimes, sample_sweep
from dse.units import parse_count, parse_regimes, parse_window, regime_label


@dataclass
class SweepStatus:
    """A sweep's models counted by status, its best and median final error, training hours, failures."""

    sweep: str
    space: str
    source: str
    models: int
    counts: dict
    best_error: float | None
    median_error: float | None
    train_hours: float | None
    failures: list
    protocol: dict | None
    regime: int | None = None  # nominal flops of a sampled sweep (its window's upper end)
    stale: dict = field(default_factory=dict)  # {idx: s since its lease expired}: marked running, no live worker

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "space": self.space, "source": self.source, "regime": self.regime,
                "models": self.models,
                **self.counts, "stale": len(self.stale), "best_error": self.best_error, "median_error": self.median_error,
                "train_hours": self.train_hours, "failures": self.failures, "protocol": self.protocol}


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


class Study:
    """One store (an SQLite file) of sweeps: sample, train, read populations, analyse, report.

    ``Study(path)`` opens the store, creating it on the first write (``create=False``: it must exist).
    """

    def __init__(self, path=None, create: bool = True):
        self.path = Path(path) if path else Path(os.environ.get("DSE_DB") or "dse.sqlite")
        self.create = create

    def __repr__(self) -> str:
        return f"Study({str(self.path)!r})"

    @contextmanager
    def store(self, write: bool = False):
        """The store, open for the duration of a ``with`` block (created when writing to a new file)."""
        new = write and self.create and not self.path.exists()
        try:
            with Store(self.path, create=write and self.create) as s:
                yield s
        except BaseException:
            if new:  # a failed first write leaves no empty store behind
                for suffix in ("", "-wal", "-shm"):
                    try:
                        Path(str(self.path) + suffix).unlink(missing_ok=True)
                    except OSError:  # there was no file to remove (the path is not one that can exist)
                        pass
            raise

    # ---- sweeps ----
    def sweeps(self) -> list[str]:
        """Names of the sweeps in the store, oldest first."""
        with self.store() as s:
            return s.sweep_names()

    def sweep(self, name: str) -> SweepRecord:
        with self.store() as s:
            return s.sweep(name)

    def _names(self, s, sweeps, what="sweeps", copies: bool = False) -> list[str]:
        """The named sweeps (checked), or by default every sweep but the copies dse budget-check trains (those
        only when ``copies``: they hold a few models at another budget, not a population of their own)."""
        names = _name_list(sweeps, "sweeps")
        if not names:
            names = [n for n in s.sweep_names() if copies or s.sweep(n).source != "budget"]
        for n in names:
            s.sweep(n)
        if not names:
            raise DseError(f"{self.path} holds no sweeps; run `dse sample` (Study.sample) first")
        return names

    def sample(self, space: str | Space, n: int, sweep: str | None = None, flops="360M:400M", resolution: int = 224,
               stem: str = "simple", in_channels: int = 3, num_classes: int = 1000, max_params=None, max_acts=None,
               seed: int | None = None, max_ms: float | None = None, speed_device: str | None = None,
               speed_mode: str = "infer", speed_batch: int = 64) -> SampleResult:
        """Draw ``n`` distinct models of ``space`` (a built-in name, a .toml path or a Space) whose flops lie in
        ``flops`` (``"360M:400M"`` or ``(lo, hi)``) at ``resolution`` into sweep ``sweep`` (default: the
        space's name). A second call with a larger ``n`` tops the sweep up.

        ``max_ms`` keeps only models whose predicted time (``speed_mode`` at ``speed_batch`` on ``speed_device``,
        default the most measured) is at most that many ms: the flops + acts fit the last ``speed`` stored.

        >>> Study("s.sqlite").sample("regnetx", n=20, flops="2M:8M", resolution=28, stem="cifar")  # doctest: +SKIP
        """
        check_seed(seed)
        sp, (regime,) = self._sampling(space, n, [parse_window("360M:400M" if flops is None else flops, "flops")],
                                       resolution, stem, in_channels, num_classes, max_params, max_acts,
                                       self._ms_cap(max_ms, speed_device, speed_mode, speed_batch))
        with self.store(write=True) as s:
            return sample_sweep(s, sp, regime, int(n), sweep, seed)

    def sample_regimes(self, space: str | Space, regimes, n: int, sweep: str | None = None, resolution: int = 224,
                       stem: str = "simple", in_channels: int = 3, num_classes: int = 1000, max_params=None,
                       max_acts=None, seed: int | None = None, max_ms: float | None = None,
                       speed_device: str | None = None, speed_mode: str = "infer",
                       speed_batch: int = 64) -> list[SampleResult]:
        """Sample ``space`` at several complexity regimes, ``n`` models each, into one sweep per regime named
        ``<sweep>@<regime>`` (default prefix: the space's name). ``regimes`` is ``"200MF,400MF"`` (a regime F
        is the window [0.9F, F]), explicit windows ``"180M:200M,360M:400M"``, or a list of either; each
        regime draws from its own seed stream. Calling again with a larger ``n`` tops every regime up.

        >>> Study("s.sqlite").sample_regimes("regnetx", "200MF,400MF,800MF", n=100)  # doctest: +SKIP
        [SampleResult(sweep='regnetx@200MF', ...), ...]
        """
        check_seed(seed)
        sp, regs = self._sampling(space, n, parse_regimes(regimes, "regimes"), resolution, stem, in_channels,
                                  num_classes, max_params, max_acts,
                                  self._ms_cap(max_ms, speed_device, speed_mode, speed_batch))
        with self.store(write=True) as s:
            return sample_regimes(s, sp, regs, int(n), sweep, seed)

    def _ms_cap(self, max_ms, device, mode, batch) -> dict | None:
        """The regime's time cap: ``max_ms`` and the stored flops + acts fit it predicts with."""
        if max_ms is None:
            return None
        if not isinstance(max_ms, (int, float)) or isinstance(max_ms, bool) or not 0 < max_ms < float("inf"):
            raise ParamError(f"{{max_ms}} must be a positive number of milliseconds, got {max_ms!r}", "max_ms")
        if mode not in ("infer", "train"):
            raise ParamError(f"{{speed_mode}} {mode!r} unknown; allowed: infer, train", "speed_mode")
        fits, measured = [], []
        if self.path.exists():
            with self.store() as s:
                fits, measured = s.speed_fits(), [d for d, _ in s.speed_devices()]
        if device is None and fits:  # the most measured device that has a fit
            device = next((d for d in measured if any(f["device"] == d for f in fits)), fits[0]["device"])
        fit = next((f for f in fits if (f["device"], f["mode"], f["batch"]) == (device, mode, int(batch))), None)
        if fit is None:
            have = "; stored fits: " + ", ".join(f"{f['device']} ({f['mode']}, batch {f['batch']})" for f in fits) \
                if fits else ""
            raise ParamError(f"{{max_ms}} needs a time prediction for {device or 'a device'} ({mode}, batch {batch}) "
                             f"and {self.path} has none{have}: run dse speed --mode {mode} --batch {batch} on a "
                             f"sweep measured on that device first", "max_ms")
        return {"max_ms": float(max_ms), "device": fit["device"], "mode": mode, "batch": int(batch),
                "coef": list(fit["coef"]), "intercept": fit["intercept"]}

    @staticmethod
    def _sampling(space, n, windows, resolution, stem, in_channels, num_classes, max_params, max_acts, ms_cap=None):
        """The space and one Regime per flops window, validated."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 < n <= MAX_MODELS:
            raise ParamError(f"{{n}} must be a number of models from 1 to {MAX_MODELS:,}, got {n!r}", "n")
        caps = [parse_count(max_params, "max_params") if max_params is not None else None,
                parse_count(max_acts, "max_acts") if max_acts is not None else None]
        regs = [Regime(w, resolution, stem, in_channels, num_classes, *caps, ms_cap) for w in windows]
        if not isinstance(space, (str, os.PathLike, Space)):
            raise ParamError(f"{{space}} must be a built-in space's name, a .toml path or a Space, got {space!r}",
                             "space")
        return (space if isinstance(space, Space) else resolve_space(str(space))), regs

    def import_table(self, path, sweep: str, resolution: int = 224, stem: str = "simple", in_channels: int = 3,
                     num_classes: int = 1000) -> int:
        """Read a population trained elsewhere (CSV or Parquet, as ``export`` writes it) into a new sweep;
        complexity missing from the file is counted at the given regime. Returns the number of models."""
        from dse.store.table import check_table_file

        check_name(sweep, "sweep")
        check_table_file(path)
        regime = Regime((0, 0), resolution, stem, in_channels, num_classes)
        with self.store(write=True) as s:
            return import_sweep(s, path, sweep, regime)

    # ---- training ----
    def train(self, sweeps=None, budget: str = "10ep", dataset: str = "fashion-mnist", data_dir=None,
              train_size: int | None = None, test_size: int | None = None, resolution: int | None = None,
              batch_size: int = 128, lr: float = 0.05, weight_decay: float = 5e-5, momentum: float = 0.9,
              nesterov: bool = True, augment: bool = True, seed: int = 0, device: str = "auto",
              workers_per_device: int | None = None, checkpoint: str = "auto", retry_failed: bool = False,
              graph: str = "auto", executor: str = "local", address: str | None = None,
              gpus_per_model: float | None = None, max_concurrent: int | None = None, progress=None,
              on_start=None, reset_protocol: bool = False, discard_results: bool = False) -> TrainSummary:
        """Train the pending models of ``sweeps`` (default: all) under one protocol and return when done.

        The protocol (dataset and subset, budget, regime) is stored with each sweep the first time it is
        trained; a later call with other settings is refused. ``reset_protocol`` forgets the stored protocol
        first (a mistaken first run): refused while any model has results under it, unless ``discard_results``
        (every model back to pending, its errors, epochs and checkpoints deleted). ``progress(db, sweeps, epochs)`` makes the
        progress display (default: none); ``on_start(summary)`` is called before the first model.
        Ctrl-C (KeyboardInterrupt) gives running models back: call again to continue.
        """
        from dse.models.arch import stem_for
        from dse.models.complexity import complexity_many
        from dse.train.protocol import Protocol
        from dse.train.progress import Progress
        from dse.train.worker import TrainOptions, checkpoint_dir, load_data, resolve_devices, run_training

        if resolution and dataset in ("fashion-mnist", "cifar10"):
            raise ParamError(f"{{resolution}} applies to imagefolder and synthetic data; {dataset} images have a "
                             f"fixed size", "resolution")
        check_seed(seed)
        if checkpoint not in ("auto", "on", "off"):
            raise ParamError(f"{{checkpoint}} {checkpoint!r} unknown; allowed: auto, on, off", "checkpoint")
        p = Protocol(dataset, train_size, test_size, 0, budget, batch_size, lr, momentum, nesterov, weight_decay,
                     augment, resolution, seed)
        opts = TrainOptions(data_dir, device, workers_per_device, checkpoint, graph=graph)
        if executor == "ray":
            from dse.train.ray_executor import _ray, check_address

            _ray()  # a clear message now when Ray is missing
            check_address(address)  # and when its head is unreachable (before the protocol is stored)
            devices = ["ray"]
        elif executor == "local":
            devices = resolve_devices(device)
            _check_workers(workers_per_device, devices)
        else:
            raise ParamError(f"{{executor}} {executor!r} unknown; allowed: local, ray", "executor")
        with self.store() as s:
            names = self._names(s, sweeps)
            data = load_data(p, data_dir)
            c, h, _ = data.shape
            kw = {"resolution": h, "stem": stem_for(h), "in_channels": c, "num_classes": data.num_classes}
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
                old = s.set_protocol(n, p.to_dict(), lambda archs, res: complexity_many(
                    archs, **{**kw, "resolution": [r or h for r in res]}))
                if old is not None:
                    diff = ", ".join(f"{k} {old.get(k)!r} (stored) vs {v!r} (now)" for k, v in p.to_dict().items()
                                     if old.get(k) != v)
                    raise DseError(f"sweep {n!r} was trained under another protocol: {diff}. Models trained under "
                                   f"different protocols are never mixed: rerun with the stored options, start a "
                                   f"new sweep (dse sample --space {s.sweep(n).space_name} -n N --sweep {n}-2), or, "
                                   f"if the stored protocol was a mistake, train with --reset-protocol (with "
                                   f"--discard-results when models are already trained under it)")
            if retry_failed:
                s.reset_failed(names)
            counts = s.status_counts()
        batch, spe, total = p.schedule(len(data.y_train))
        epochs = -(-total // spe)
        pending = sum(counts[n]["pending"] for n in names)
        out = TrainSummary(names, synthetic=data.synthetic, header=(
            f"{dataset}: {len(data.y_train):,} train / {len(data.y_test):,} test images {c}x{h}x{h}, "
            f"{data.num_classes} classes; {epochs} epoch(s) of {spe} steps at batch {batch}; "
            f"{pending} model(s) pending in {', '.join(names)}"))
        if pending or sum(counts[n]["running"] for n in names):
            out.trained_now = True
            if on_start:
                on_start(out)
            prog = progress(self.path, names, epochs) if progress else Progress(
                self.path, names, epochs, live=False, out=io.StringIO(), log=lambda m: None)
            try:
                if executor == "ray":
                    from dse.train.ray_executor import run_ray

                    run_ray(self.path, names, p, opts, prog, address, gpus_per_model, max_concurrent)
                else:
                    run_training(self.path, names, p, opts, data if len(devices) == 1 else None, prog)
            finally:
                prog.close()
        with self.store() as s:
            counts = s.status_counts()
        out.counts = {n: counts[n] for n in names}
        for k in ("done", "failed", "diverged", "pending"):
            setattr(out, k, sum(counts[n][k] for n in names))
        return out

    # ---- is the budget long enough? ----
    def undertraining(self, sweeps=None, metric: str = "final") -> dict:
        """{sweep: Undertraining}: the signals of a too-short budget computable from what is stored (training
        loss still falling in the last epoch, error rising with depth, models near chance), per sweep with
        trained models. No training; see ``dse.analysis.budget`` for the thresholds.

        >>> [u.warning() for u in Study("s.sqlite").undertraining().values() if u.flagged]   # doctest: +SKIP
        """
        from dse.analysis.budget import undertraining

        check_metric(metric)
        out = {}
        with self.store() as s:
            for n in self._names(s, sweeps):
                rec = s.sweep(n)
                col = METRICS[metric]
                ms = [m for m in s.models(n) if getattr(m, col) is not None]
                if not ms:
                    continue
                losses = {}
                for r in s.epoch_rows([n]):
                    losses.setdefault(r.idx, []).append(r.train_loss)
                out[n] = undertraining(n, [getattr(m, col) for m in ms], [m.arch.depth for m in ms],
                                       [losses.get(m.idx, []) for m in ms], _classes(rec))
        return out

    def budget_check(self, sweeps, models: int = 20, factors=(2, 4), seed: int = 0, metric: str = "final",
                     n_boot: int = 2000, device: str = "auto", workers_per_device: int | None = None,
                     data_dir=None, checkpoint: str = "auto", graph: str = "auto", executor: str = "local",
                     address: str | None = None, gpus_per_model: float | None = None,
                     max_concurrent: int | None = None, progress=None, on_start=None):
        """Train copies of ``models`` models of each trained sweep (spread over its error quantiles) at its
        budget x each of ``factors``, under its protocol otherwise, into linked sweeps ``S~x4`` (stored,
        resumable: calling again continues, nothing is trained twice), then compare the rankings: Spearman and
        Kendall with a bootstrap interval, top-quarter overlap, median error change, and with several sweeps
        whether their order flips. Returns a BudgetCheck with the verdict trustworthy / doubtful / misleading.

        >>> Study("s.sqlite").budget_check(["anynet_a", "anynet_e"], models=20, factors=[4]).verdict  # doctest: +SKIP
        """
        from dse.analysis.budget import budget_check, scale_budget, stratified

        check_metric(metric)
        check_seed(seed)
        if not isinstance(models, (int, np.integer)) or isinstance(models, bool) or models < 3:
            raise ParamError(f"{{models}} must be an integer >= 3 (models per sweep to retrain), got {models!r}",
                             "models")
        factors = sorted(dict.fromkeys(_factors(factors)))
        col = METRICS[metric]
        plan = {}  # {(sweep, factor): (copy name, budget)}
        with self.store(write=True) as s:
            names = self._names(s, sweeps)
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
                    raise ParamError(f"{{models}} {models} is more than the {len(ms)} trained models of sweep {n!r}; "
                                     f"use --models {len(ms)} or fewer", "models")
                pick = stratified([getattr(m, col) for m in ms], models, seed)
                chosen[n] = [ms[i].idx for i in pick]
                for f in factors:
                    plan[(n, f)] = (f"{n}~x{f:g}", scale_budget(rec.protocol["budget"], f))
            with s.write() as c:
                for (n, f), (copy, _) in plan.items():
                    if copy in s.sweep_names():
                        if s.sweep(copy).source != "budget":
                            raise DseError(f"sweep {copy!r} exists and was not made by budget-check; rename it")
                    else:
                        rec = s.sweep(n)
                        s.create_sweep(c, copy, rec.space_name, rec.space, rec.regime, rec.seed, "budget")
                    s.copy_models(c, n, copy, chosen[n])
            protos = {n: s.sweep(n).protocol for n in names}
        runs = {}  # one training run per distinct protocol at the longer budget (the copies of a factor share one)
        for f in factors:
            for n in names:
                copy, budget = plan[(n, f)]
                p = {**protos[n], "budget": budget}
                runs.setdefault(json.dumps(p, sort_keys=True), (p, []))[1].append(copy)
        for p, copies in runs.values():
            self.train(copies, p["budget"], p["dataset"], data_dir, p["train_size"], p["test_size"], p["resolution"],
                       p["batch_size"], p["lr"], p["weight_decay"], p["momentum"], p["nesterov"], p["augment"],
                       p["seed"], device, workers_per_device, checkpoint, False, graph, executor, address,
                       gpus_per_model, max_concurrent, progress, on_start)
        pairs, budgets = {}, {}
        with self.store() as s:
            for (n, f), (copy, budget) in plan.items():
                base = {m.idx: getattr(m, col) for m in s.models(n)}
                long = {m.idx: getattr(m, col) for m in s.models(copy)}
                ids = [i for i in chosen[n] if long.get(i) is not None and base.get(i) is not None]
                pairs[(n, f)] = ([base[i] for i in ids], [long[i] for i in ids])
                budgets[(n, f)] = budget
        return budget_check(pairs, budgets, n_boot, seed)

    # ---- runtime ----
    def speed(self, sweeps=None, device: str = "auto", mode: str = "infer", batch: int = 64, repeat: int = 10,
              force: bool = False, events=None) -> list[SpeedResult]:
        """Time every model of ``sweeps`` (pending or trained: only the architecture is needed) at its sweep's
        regime on ``device`` (auto, cpu, cuda, cuda:N) in ``mode`` (infer, train or both), measuring only what
        is missing (``force``: everything again), then report per device and mode: correlations of ms with
        flops/params/acts and the fits. Stores the flops + acts fit that ``sample(max_ms=...)`` predicts with.
        ``events(sweep, idx, mode, ms)`` is called after each timing. Ctrl-C keeps what was measured.

        >>> Study("s.sqlite").speed(mode="both")[0].pearson                        # doctest: +SKIP
        """
        from dse.train.speed import measure
        from dse.train.worker import resolve_devices

        modes = _modes(mode)
        _positive(batch, "batch", MAX_BATCH)
        _positive(repeat, "repeat", 10_000)
        devices = resolve_devices(device)
        with self.store() as s:
            names = self._names(s, sweeps)
        done = measure(self.path, names, devices, modes, int(batch), int(repeat), force, events)
        out = []
        for label in done:
            for m in modes:
                r = self.speed_report(names, label, m, batch)
                with self.store() as s:
                    s.set_speed_fit(label, m, int(batch), {**r.fits[2].to_json(), "n": r.n, "sweeps": names})
                out.append(r)
        return out

    def speed_report(self, sweeps=None, device: str | None = None, mode: str = "infer", batch: int | None = None,
                     from_training: bool = False) -> SpeedResult:
        """The stored timings of ``sweeps`` on ``device`` (default: the most measured) in ``mode`` at ``batch``
        (default: the most measured), as a SpeedResult. ``from_training``: from the training throughput
        instead (each model's last-epoch images/s at its protocol's batch, against its training complexity)."""
        from dse.analysis.speed import speed_report

        if mode not in ("infer", "train"):
            raise ParamError(f"{{mode}} {mode!r} unknown here; allowed: infer, train", "mode")
        with self.store() as s:
            names = self._names(s, sweeps)
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
        rows = [{"sweep": r.sweep, "id": r.idx, "ms": r.ms, **{k: getattr(models[(r.sweep, r.idx)], k)
                                                                  for k in ("flops", "params", "acts")}} for r in recs]
        predicted = {}
        for n in names:
            cap = regimes[n].get("ms_cap")
            if cap and (cap["device"], cap["mode"], cap["batch"]) == (device, mode, int(batch)):
                mine = [r for r in rows if r["sweep"] == n]
                if mine:
                    pred = [cap["coef"][0] * r["flops"] + cap["coef"][1] * r["acts"] + cap["intercept"] for r in mine]
                    predicted[n] = float(np.median([abs(p - r["ms"]) / r["ms"] * 100 for p, r in zip(pred, mine)]))
        return speed_report(device, mode, int(batch), rows, predicted)

    # ---- populations as records and DataFrames ----
    def status(self, sweep: str | None = None) -> list[SweepStatus]:
        """Each sweep (or one) with its models counted by status and its results summarised; the regimes of a
        space come together, ordered by flops."""
        if sweep is not None and not isinstance(sweep, str):
            raise ParamError(f"{{sweep}} must be a sweep name, got {sweep!r}", "sweep")
        with self.store() as s:
            s.check_tables()  # the store's health: a table lost is said here, not only when a command reads it
            out = []
            for n, c in s.status_counts(sweep).items():
                r, e, stale = s.sweep(n), s.errors(n), s.stale(n)
                c = {**c, "running": c["running"] - len(stale)}  # counted apart: nothing is training them
                out.append(SweepStatus(n, r.space_name, r.source, sum(c.values()) + len(stale), c, e["best_error"],
                                       e["median_error"], e["train_hours"], e["failures"], r.protocol,
                                       r.nominal_flops, stale))
        first = {}
        for i, x in enumerate(out):
            first.setdefault(x.space, i)
        return [x for _, x in sorted(enumerate(out), key=lambda t: (
            first[t[1].space], t[1].regime is None, t[1].regime or 0, t[0]))]

    def records(self, sweep: str) -> list[ModelRecord]:
        """The models of a sweep as typed records, in index order."""
        with self.store() as s:
            s.sweep(sweep)
            return s.models(sweep)

    def models(self, sweeps=None):
        """One row per model (the columns of ``dse export``) as a pandas DataFrame."""
        import pandas as pd

        from dse.store import export_rows

        with self.store() as s:
            cols, rows = export_rows(s, self._names(s, sweeps, copies=True))
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)

    def epochs(self, sweeps=None):
        """One row per model and epoch: sweep, id, epoch, train_loss, train_error, test_error, lr, seconds,
        images_per_s (a pandas DataFrame)."""
        import pandas as pd

        from dse.store import EPOCH_COLUMNS

        with self.store() as s:
            recs = s.epoch_rows(self._names(s, sweeps, copies=True))
        return pd.DataFrame([{"sweep": r.sweep, "id": r.idx, **{k: getattr(r, k) for k in EPOCH_COLUMNS}}
                             for r in recs], columns=["sweep", "id", *EPOCH_COLUMNS])

    def export(self, path, sweeps=None, epochs: bool = False, speed_device: str | None = None) -> int:
        """Write the models (or with ``epochs`` the per-epoch rows) to a .csv or .parquet file, or '-' for
        standard output. Returns the number of rows."""
        from dse.store import EPOCH_COLUMNS, export_rows, write_table

        _check_table_path(path)
        with self.store() as s:
            names = self._names(s, sweeps, copies=True)
            if epochs:
                cols = ["sweep", "id", *EPOCH_COLUMNS]
                rows = [{"sweep": r.sweep, "id": r.idx, **{k: getattr(r, k) for k in EPOCH_COLUMNS}}
                        for r in s.epoch_rows(names)]
            else:
                cols, rows = export_rows(s, names, speed_device)
        write_table(cols, rows, path)
        return len(rows)

    def population(self, sweep: str, metric: str = "final") -> Population:
        """The models of ``sweep`` with a ``metric`` error (final or best epoch), as arrays."""
        check_metric(metric)
        with self.store() as s:
            return _populations(s, [sweep], metric)[sweep]

    def _pops(self, sweeps, metric, need=2, what="this analysis") -> dict:
        check_metric(metric)
        with self.store() as s:
            names = self._names(s, sweeps)
            pops = _populations(s, names, metric)
        for p in pops.values():
            p.require(need, what)
        return pops

    @staticmethod
    def _compared(sweeps, what) -> list[str]:
        names = _name_list(sweeps, "sweeps")
        if len(names) < 2:
            raise ParamError(f"{{sweeps}}: name at least two sweeps to compare, e.g. dse {what} --compare anynet_a "
                             f"anynet_e", "sweeps")
        return names

    @staticmethod
    def _check_normalization(by, bins, range_):
        """The options of a normalised comparison, checked before any data is read."""
        check_number(bins, "bins", 1, 10_000, integer=True)
        if not by:
            if range_ is not None:
                raise ParamError("{range} sets the bins of a normalised comparison: give it with {normalize}",
                                 "range", "normalize")
            return None
        if by not in NORMALIZE_BY:
            raise ParamError(f"{{normalize}} {by!r} unknown; allowed: {', '.join(NORMALIZE_BY)}", "normalize")
        return parse_window(range_, "range") if isinstance(range_, str) else range_

    def _normalization(self, pops, by, bins, range_):
        lo_hi = self._check_normalization(by, bins, range_)
        if not by:
            return None
        vals = {}
        for n, p in pops.items():
            if by not in p.param_names():
                raise DseError(f"sweep {n!r} has no {by} timings; run dse speed --sweep {n} first")
            vals[n] = p.values(by)
            if np.isnan(vals[n]).any():
                raise DseError(f"sweep {n!r}: {int(np.isnan(vals[n]).sum())} trained model(s) have no {by} timing; "
                               f"run dse speed --sweep {n} first")
        return normalize(vals, by, bins, lo_hi)

    # ---- analyses ----
    def edf(self, sweeps, normalize: str | None = None, bins: int = 10, range=None, thresholds=None,
            metric: str = "final") -> EdfComparison:
        """Error EDFs of two or more sweeps, their statistics and KS tests of every pair; ``normalize`` by
        flops, params or acts (NDS: ``bins`` equal bins over ``range``, default the common range)."""
        names = self._compared(sweeps, "edf")
        for t in thresholds or ():
            check_number(t, "thresholds", 0, 100)
        self._check_normalization(normalize, bins, range)
        pops = self._pops(names, metric)
        norm = self._normalization(pops, normalize, bins, range)
        return compare_edfs({n: p.errors for n, p in pops.items()}, metric, norm, thresholds)

    def search_efficiency(self, sweeps, normalize: str | None = None, bins: int = 10, range=None, seed: int = 0,
                          metric: str = "final") -> SearchEfficiency:
        """Expected best error of m random models (m = 1, 2, 4, ...) of two or more sweeps."""
        names = self._compared(sweeps, "search-efficiency")
        self._check_normalization(normalize, bins, range)
        pops = self._pops(names, metric)
        norm = self._normalization(pops, normalize, bins, range)
        return compare_search({n: p.errors for n, p in pops.items()}, metric, norm, seed)

    def bootstrap(self, params, sweeps=None, n_boot: int = 10_000, frac: float = 0.25, ci: float = 95.0,
                  seed: int = 0, metric: str = "final") -> BootstrapResult:
        """Where the good models lie: the empirical bootstrap of the best model's value of each parameter
        (``"depth"``, ``["wm", "w4"]``, ...) in each sweep that has it (named sweeps must all have it)."""
        params = _name_list(params, "params")
        if not params:
            raise ParamError("{params}: name at least one parameter", "params")
        named = bool(sweeps)
        check_metric(metric)
        _check_boot(n_boot, frac, ci, seed)  # before the data: a bad option is named whatever the store holds
        with self.store() as s:
            names = self._names(s, sweeps)
            pops = _populations(s, names, metric)
        panels = []
        for param in params:
            if named:  # sweeps named explicitly must all qualify
                for p in pops.values():
                    p.require(2, "the bootstrap")
                    p.values(param)  # raises for an unknown parameter, listing the valid ones
            have = [n for n in names if pops[n].n >= 2 and param in pops[n].param_names()]
            if not have:
                valid = sorted({q for p in pops.values() for q in p.param_names()})
                raise ParamError(f"no sweep with at least 2 trained models has the parameter {param!r} ({{params}}); valid: "
                                 + ", ".join(valid), "params")
            for n in have:
                panels.append(bootstrap_panel(n, param, pops[n].values(param), pops[n].errors, n_boot, frac, ci,
                                              seed))
        return BootstrapResult(metric, panels)

    def rank(self, x: str = "lr", y: str | None = "wd", sweeps=None, good: float = 0.25,
             metric: str = "final") -> RankResult:
        """The relative-rank scatter (NDS Fig. 12, RegNet Fig. 21): every trained model of ``sweeps`` (default:
        those that have ``x`` and ``y``) at (x, y), coloured by its error rank within its sweep / n, with the
        least-squares line of the good models (relative rank <= ``good``) in log-log space; ``y=None`` draws
        relative rank against ``x`` (e.g. ``x="lr_wd"``).

        >>> Study("s.sqlite").rank("lr", "wd").fit["slope"]                           # doctest: +SKIP
        """
        from dse.analysis.rank import rank_scatter

        check_metric(metric)
        check_number(good, "good", 0, 1, low_open=True)
        if y is not None and y == x:
            raise ParamError(f"{{y}} must differ from {{x}} ({x!r}); omit {{y}} to draw rank against {x}", "y", "x")
        with self.store() as s:
            names = self._names(s, sweeps)
            pops = _populations(s, names, metric)
        wanted = [q for q in (x, y) if q]
        have = [n for n in names if pops[n].n and all(q in pops[n].param_names() for q in wanted)]
        if sweeps:
            for n in names:
                for q, flag in ((x, "x"), (y, "y")):
                    if q:
                        try:
                            pops[n].values(q)
                        except ParamError as e:
                            raise ParamError(str(e).replace("{param}", f"{{{flag}}}"), flag) from None
        if not have:
            valid = sorted({q for p in pops.values() for q in p.param_names()})
            raise ParamError(f"no trained sweep has {' and '.join(map(repr, wanted))} ({{x}}/{{y}}); sample a space "
                             f"that varies them (e.g. regnetx_lrwd) and train it; parameters here: {', '.join(valid)}",
                             "x", "y")
        xs = np.concatenate([pops[n].values(x) for n in have])
        ys = np.concatenate([pops[n].values(y) for n in have]) if y else None
        es = np.concatenate([pops[n].errors for n in have])
        g = np.concatenate([[n] * pops[n].n for n in have])
        return rank_scatter(xs, es, g, ys, x, y, good)

    def trends(self, params, sweeps=None, n_boot: int = 10_000, frac: float = 0.25, ci: float = 95.0, seed: int = 0,
               metric: str = "final") -> TrendsResult:
        """How the good models change with complexity (RegNet Fig. 11, 12 bottom): per regime the bootstrap of
        the best model's value of each parameter, across regimes the slope of log(value) on log(flops) with a
        ci% interval from the replicates, and acts ~ flops^alpha, params ~ flops^beta of the good models.

        Without ``sweeps`` every trained sweep counts, grouped by space (a space with two or more regimes is a
        series); named sweeps form one series whatever their spaces.

        >>> Study("s.sqlite").trends(["depth", "w0"]).to_frame()                      # doctest: +SKIP
        """
        params = _name_list(params, "params")
        if not params:
            raise ParamError("{params}: name at least one parameter", "params")
        check_metric(metric)
        with self.store() as s:
            names = self._names(s, sweeps)
            recs = {n: s.sweep(n) for n in names}
            pops = _populations(s, names, metric)
        return _trends(recs, pops, params, bool(sweeps), n_boot, frac, ci, seed, metric)

    def fit(self, sweeps=None, top: int = 20, metric: str = "final", save: bool = True) -> FitResult:
        """Fit the RegNet form to every model's per-block widths (stored fits are reused); ``save`` stores the
        new ones, so later analyses of w0/wa/wm/e_fit reuse them."""
        check_metric(metric)
        if not isinstance(top, (int, np.integer)) or top < 1:
            raise ParamError(f"{{top}} must be a positive number of models, got {top!r}", "top")
        col = METRICS[metric]
        rows = []
        with self.store() as s:
            names = self._names(s, sweeps)
            for n in names:
                ms = s.models(n)
                fits = _fits(ms)
                if save:
                    s.set_fits(n, {m.idx: fits[m.idx] for m in ms if m.fit is None})
                rows += [FitRow(n, m.idx, getattr(m, col), fits[m.idx], m.arch) for m in ms]
        if not rows:
            raise DseError("no models to fit")
        return FitResult(metric, int(top), rows)

    def complexity(self, sweeps=None, metric: str = "final") -> ComplexityView:
        """Error against flops, params and acts of the trained models of each sweep."""
        pops = self._pops(sweeps, metric, need=1)
        return ComplexityView(metric, {n: {k: p.values(k) for k in ("flops", "params", "acts")} | {"errors": p.errors}
                                       for n, p in pops.items()})

    def curves(self, sweep: str, best: int = 5, worst: int = 5, metric: str = "final") -> Curves:
        """Per-epoch train and test error of the ``best`` and ``worst`` models of a sweep."""
        for k, v in (("best", best), ("worst", worst)):
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ParamError(f"{{{k}}} must be a number of models >= 0, got {v!r}", k)
        pop = self._pops([sweep], metric, need=1)[sweep]
        with self.store() as s:
            return _curves(pop, s.epoch_rows([sweep]), best, worst)

    def refine(self, sweep, base: str | Space | None = None, min_support: int = 20, n_boot: int = 10_000,
               ci: float = 95.0, seed: int = 0, metric: str = "final") -> RefineResult:
        """Proposals for a better space from a trained sweep: narrower ranges and structural constraints
        with their evidence, and the refined space (``.write(path)`` writes its file).

        ``sweep`` may name several sweeps of one space (its regimes, ``["regnetx@200MF", "regnetx@800MF"]``):
        ranges then cover every regime's good interval and a proposal must be accepted at each regime."""
        from dse.analysis.refine import refine_regimes

        if not isinstance(min_support, (int, np.integer)) or min_support < 1:
            raise ParamError(f"{{min_support}} must be at least 1, got {min_support!r}", "min_support")
        names = _name_list(sweep, "sweep")
        if not names:
            raise ParamError("{sweep}: name the trained sweep(s) to refine from", "sweep")
        pops = self._pops(names, metric, need=2, what="refine")
        with self.store() as s:
            x = {n: _regime_x(s.sweep(n), p) for n, p in pops.items()}
        pops = dict(sorted(pops.items(), key=lambda t: x[t[0]]))  # regimes vote in order of flops
        if base is not None:
            space = base if isinstance(base, Space) else resolve_space(base)
            _check_base(space, pops)
        else:
            imported = [n for n, p in pops.items() if not p.space]
            if imported:
                raise ParamError(f"sweep {imported[0]!r} was imported: name its base space with {{base}} NAME|PATH",
                                 "base")
            specs = {n: json.dumps(p.space, sort_keys=True) for n, p in pops.items()}
            if len(set(specs.values())) > 1:
                raise ParamError(f"sweeps {', '.join(names)} were sampled from different space definitions "
                                 f"({', '.join(sorted({pops[n].space_name for n in names}))}); refine one space's "
                                 f"regimes together, or name the base space with {{base}}", "base")
            space = parse_space(pops[names[0]].space, f"sweep {names[0]}")
        return refine_regimes(space, [(n, p.models, p.errors) for n, p in pops.items()], min_support, n_boot, ci,
                              seed=seed)

    def report(self, path="report.html", sweeps=None, metric: str = "final") -> Path:
        """Write the study as one self-contained HTML file (figures inline as SVG); returns its path."""
        from dse.analysis.refine import refine
        from dse.report.html import ReportData, render

        if not isinstance(path, (str, os.PathLike)) or Path(path).suffix.lower() not in (".html", ".htm"):
            raise ParamError(f"{{path}} {path!r}: the report is an .html file", "path")
        out = check_output(path, "path")
        check_metric(metric)
        with self.store() as s:
            names = self._names(s, sweeps)
            recs = {n: s.sweep(n) for n in names}
            models = {n: s.models(n) for n in names}
            epochs = {n: s.epoch_rows([n]) for n in names}
            speeds = _speeds(s, names)
        data = ReportData(self.path, metric, names, self.status(None), recs)
        pops = {n: Population.from_records(recs[n], models[n], metric, speeds.get(n)) for n in names}
        trained = [n for n in names if pops[n].n >= 2]
        data.trained = trained
        data.with_error = {n: p.n for n, p in pops.items()}
        data.status = [st for st in data.status if st.sweep in names]
        if trained:
            data.edf = compare_edfs({n: pops[n].errors for n in trained}, metric)
            if len(trained) > 1:
                for k in (10, 5, 3, 2):  # the finest binning every sweep fills
                    try:
                        data.edf_flops = compare_edfs({n: pops[n].errors for n in trained}, metric,
                                                      normalize({n: pops[n].values("flops") for n in trained},
                                                                "flops", k))
                        break
                    except DseError:
                        continue
            for n in trained:
                fam = (recs[n].space or {}).get("family")
                names_n = pops[n].param_names()
                want = [q for q in names_n if q in ("depth", "w0", "wa", "wm", "b", "g")] if fam == "regnet" else \
                    [q for q in names_n if q in ("depth", "b", "g") or stage_index(q) is not None]
                want += pops[n].setting_names()  # the design choices it samples (activation, resolution, lr, ...)
                panels = []
                for q in want:
                    x = pops[n].values(q)
                    if (~np.isnan(x)).sum() >= 2:
                        panels.append(bootstrap_panel(n, q, x, pops[n].errors))
                if panels:
                    data.bootstraps[n] = BootstrapResult(metric, panels)
                data.curves[n] = _curves(pops[n], epochs[n], 3, 3)
                best = [pops[n].models[i] for i in np.argsort(pops[n].errors, kind="stable")[:8]]
                fits = _fits(best)  # the 8 shown: stored fits, or fitted now (not stored: the report only reads)
                data.fits[n] = FitResult(metric, 8, [FitRow(n, m.idx, getattr(m, METRICS[metric]), fits[m.idx], m.arch)
                                                     for m in best])
                opt = [q for q in ("lr", "wd", "momentum", "batch_size") if q in pops[n].setting_names()]
                if len(opt) >= 1 and pops[n].n >= 4:  # a sweep that samples optimiser settings: Fig. 21
                    from dse.analysis.rank import rank_scatter

                    x, y = ("lr", "wd") if {"lr", "wd"} <= set(opt) else (opt[0], None)
                    data.ranks[n] = [rank_scatter(pops[n].values(x), pops[n].errors, None,
                                                  pops[n].values(y) if y else None, x, y)]
                    if y == "wd":
                        data.ranks[n].append(rank_scatter(pops[n].values("lr_wd"), pops[n].errors, x_name="lr_wd"))
                if recs[n].space:
                    data.refines[n] = refine(parse_space(recs[n].space, f"sweep {n}"), pops[n].models, pops[n].errors,
                                             min_support=min(20, max(2, pops[n].n // 5)))
            data.complexity = ComplexityView(metric, {n: {k: pops[n].values(k) for k in ("flops", "params", "acts")}
                                                      | {"errors": pops[n].errors} for n in trained})
        data.trends, data.regime_refines = _report_trends(recs, {n: pops[n] for n in trained}, metric)
        data.undertraining = self.undertraining(names, metric) if trained else {}
        with self.store() as s:
            data.budget_check = _stored_budget_check(s, trained, metric)
        text = render(data)
        try:
            out.write_text(text)
        except OSError as e:
            raise write_error(out, e) from None
        return out


def _stored_budget_check(s, names, metric):
    """The budget check of ``names`` from the copies dse budget-check stored (``S~x4``), or None when none."""
    from dse.analysis.budget import budget_check

    col = METRICS[metric]
    pairs, budgets = {}, {}
    all_names = s.sweep_names()
    for n in names:
        for copy in all_names:
            if not copy.startswith(f"{n}~x") or s.sweep(copy).source != "budget":
                continue
            try:
                f = float(copy[len(n) + 2:])
            except ValueError:
                continue
            base = {m.idx: getattr(m, col) for m in s.models(n)}
            long = {m.idx: getattr(m, col) for m in s.models(copy)}
            ids = [i for i in sorted(long) if long[i] is not None and base.get(i) is not None]
            if len(ids) >= 3:
                pairs[(n, f)] = ([base[i] for i in ids], [long[i] for i in ids])
                budgets[(n, f)] = (s.sweep(copy).protocol or {}).get("budget", "?")
    return budget_check(pairs, budgets) if pairs else None


def _check_boot(n_boot, frac, ci, seed) -> None:
    """The bootstrap's options, as dse.analysis.bootstrap checks them, before any data is read."""
    check_number(n_boot, "n_boot", 1, 10**8, integer=True)
    check_number(frac, "frac", 0, 1, low_open=True)
    check_number(ci, "ci", 0, 100, low_open=True, high_open=True)
    check_seed(seed)


MAX_MODELS = 1_000_000  # per sweep: a bigger n is a typo that would fill memory before anything is written


def _check_workers(k, devices) -> None:
    """Worker processes per device must fit the machine: at most its CPU cores on a CPU, 32 per GPU."""
    if k is None:
        return
    top = (os.cpu_count() or 1) if devices[0] == "cpu" else 32
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= top:
        where = f"this machine's {top} CPU core(s)" if devices[0] == "cpu" else "32 per GPU"
        raise ParamError(f"{{workers_per_device}} must be from 1 to {top} ({where}), got {k!r}", "workers_per_device")


def _classes(rec: SweepRecord) -> int:
    """The number of classes a sweep was trained on: the dataset's (10 for the built-in ones), else its regime's."""
    from dse.train.data import FIXED

    dataset = (rec.protocol or {}).get("dataset")
    if dataset in FIXED:
        return FIXED[dataset][1]
    if dataset == "synthetic":
        return 10
    return int((rec.regime or {}).get("num_classes") or 1000)


def _factors(factors) -> list:
    """'2,4' or [2, 4] -> [2.0, 4.0]; each must be a finite number > 1."""
    items = str(factors).split(",") if isinstance(factors, str) else list(factors)
    out = []
    for x in items:
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise ParamError(f"{{factors}}: cannot read {x!r}; write numbers > 1 such as 2,4", "factors") from None
        if not np.isfinite(v) or v <= 1:
            raise ParamError(f"{{factors}}: {x!r} is not a longer budget; each factor must be > 1 (e.g. 2,4)",
                             "factors")
        out.append(v)
    if not out:
        raise ParamError("{factors}: name at least one factor, e.g. 2,4", "factors")
    return out


def _modes(mode: str) -> tuple:
    if mode not in ("infer", "train", "both"):
        raise ParamError(f"{{mode}} {mode!r} unknown; allowed: infer, train, both", "mode")
    return ("infer", "train") if mode == "both" else (mode,)


def _positive(v, name: str, most: int) -> None:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 1 <= v <= most:
        raise ParamError(f"{{{name}}} must be a positive integer up to {most:,}, got {v!r}", name)


def _from_training(s, names, report):
    """A SpeedResult from training throughput: ms per batch = batch / images_per_s of each model's last epoch,
    against its complexity at the training resolution; the models of the most common training device."""
    rows, devices = [], {}
    for n in names:
        batch = (s.sweep(n).protocol or {}).get("batch_size")
        for m in s.models(n):
            if m.images_per_s and batch:
                devices[m.device] = devices.get(m.device, 0) + 1
                rows.append((m.device, batch, {"sweep": n, "id": m.idx, "ms": 1000.0 * batch / m.images_per_s,
                                               **{k: getattr(m, f"train_{k}") or getattr(m, k)
                                                  for k in ("flops", "params", "acts")}}))
    if not rows:
        raise DseError(f"no trained model of {', '.join(names)} has a training throughput; train first, or measure "
                       f"with dse speed")
    dev = max(devices, key=devices.get)
    batches = {b for d, b, _ in rows if d == dev}
    return report(f"training on {dev}", "train", batches.pop() if len(batches) == 1 else 0,
                  [r for d, _, r in rows if d == dev], source="training")


def _speeds(s, names) -> dict:
    """{sweep: {"infer_ms"|"train_ms": {idx: ms}}}: the timings `dse export` carries (one device)."""
    from dse.store.table import speed_columns

    _, cols = speed_columns(s, names)
    out = {}
    for (sweep, idx), d in cols.items():
        for k in ("infer_ms", "train_ms"):
            if k in d:
                out.setdefault(sweep, {}).setdefault(k, {})[idx] = d[k]
    return out


def _populations(s, names, metric) -> dict:
    """{name: Population} of the sweeps ``names``, with the timings of the most measured device."""
    sp = _speeds(s, names)
    return {n: Population.from_records(s.sweep(n), s.models(n), metric, sp.get(n)) for n in names}


def _regime_x(rec: SweepRecord, pop: Population) -> float:
    """A sweep's place on the complexity axis: its regime's nominal flops, or the median flops of an imported one."""
    return float(rec.nominal_flops or np.median(pop.values("flops")))


def _series(recs: dict, pops: dict, named: bool) -> tuple[dict, list]:
    """{series label: [sweep names]} with two or more regimes each, and why other sweeps were left out."""
    if named:
        for p in pops.values():
            p.require(2, "a trend")
        groups = {"+".join(dict.fromkeys(recs[n].space_name for n in pops)): list(pops)}
        skipped = []
    else:
        groups, skipped = {}, []
        for n, p in pops.items():
            if p.n < 2:
                skipped.append(f"sweep {n}: {p.n} trained model(s)")
            else:
                groups.setdefault(recs[n].space_name, []).append(n)
    out = {}
    for label, ns in groups.items():
        if len({_regime_x(recs[n], pops[n]) for n in ns}) >= 2:
            out[label] = sorted(ns, key=lambda n: _regime_x(recs[n], pops[n]))
        elif not named:
            skipped.append(f"space {label}: one regime only ({', '.join(ns)})")
    if not out:
        found = ", ".join(f"{n} ({recs[n].space_name} at {regime_label(_regime_x(recs[n], p)) if p.n else '?'})"
                          for n, p in pops.items() if p.n >= 2) or "none trained"
        raise DseError(f"a trend needs one space trained at two or more complexity regimes; the sweeps found: {found}. "
                       f"Sample several regimes with: dse sample --space NAME --regimes 200MF,400MF,800MF -n 100")
    return out, skipped


def _trends(recs, pops, params, named, n_boot, frac, ci, seed, metric) -> TrendsResult:
    """The trends of ``params`` and the complexity trends of every series (see ``Study.trends``)."""
    groups, skipped = _series(recs, pops, named)
    series = []
    for param in params:
        have = [g for g, ns in groups.items() if all(param in pops[n].param_names() for n in ns)]
        if named:
            for ns in groups.values():
                for n in ns:
                    pops[n].values(param)  # raises for an unknown parameter, listing the valid ones
        if not have:
            valid = sorted({q for ns in groups.values() for n in ns for q in pops[n].param_names()})
            raise ParamError(f"no series of regimes has the parameter {param!r} ({{params}}); valid: "
                             + ", ".join(valid), "params")
        for g in have:
            series.append(trend_series(g, param, [(n, _regime_x(recs[n], pops[n]), pops[n].values(param),
                                                   pops[n].errors) for n in groups[g]], n_boot, frac, ci, seed))
    cx = [complexity_trend(g, m, [(pops[n].values("flops"), pops[n].values(m), pops[n].errors) for n in ns], ci)
          for g, ns in groups.items() for m in ("acts", "params")]
    return TrendsResult(metric, ci, n_boot, series, cx, skipped)


def _report_trends(recs, pops, metric):
    """The report's trends: every space trained at two or more regimes, on the parameters its family is known
    by (RegNet: depth w0 wa wm b g; AnyNet: depth and the stage widths, no fits needed), and each such space
    refined by the votes of all its regimes. (None, {}) when no space has two regimes."""
    from dse.analysis.refine import refine_regimes

    try:
        groups, _ = _series(recs, pops, named=False)
    except DseError:
        return None, {}
    ns = [n for g in groups.values() for n in g]
    common = set.intersection(*(set(pops[n].param_names()) for n in ns))
    if all(recs[n].family == "regnet" for n in ns):
        want = [q for q in ("depth", "w0", "wa", "wm", "b", "g") if q in common]
    else:
        want = ["depth"] + [q for q in pops[ns[0]].param_names() if q in common and q[0] == "w" and stage_index(q) is not None]
    trends = _trends(recs, pops, want, False, 10_000, 0.25, 95.0, 0, metric)
    refines = {}
    for g, names in groups.items():
        specs = {json.dumps(recs[n].space, sort_keys=True) for n in names}
        if len(specs) == 1 and recs[names[0]].space:
            refines[g] = refine_regimes(parse_space(recs[names[0]].space, f"sweep {names[0]}"),
                                        [(n, pops[n].models, pops[n].errors) for n in names],
                                        min_support=min(20, max(2, min(pops[n].n for n in names) // 5)))
    return trends, refines


def _curves(pop: Population, epochs, best: int, worst: int) -> Curves:
    """The ``best`` and ``worst`` models of a population (each once) with their per-epoch records."""
    by = {}
    for r in epochs:
        by.setdefault(r.idx, []).append(r)
    order = np.argsort(pop.errors, kind="stable")
    pick = list(dict.fromkeys(list(order[:best]) + list(order[::-1][:worst])))
    ids = pop.ids
    ms = [{"label": f"{pop.sweep}/{ids[i]} ({pop.errors[i]:.1f}%)", "rows": by.get(int(ids[i]), [])} for i in pick]
    return Curves([m for m in ms if m["rows"]])


def _fits(models) -> dict[int, Fit]:
    """{idx: Fit}: the stored fit of each model, or a new one."""
    from dse.analysis.fit import fit_regnet

    return {m.idx: m.fit or Fit.from_dict(fit_regnet(m.arch.block_widths())) for m in models}


def _name_list(x, param: str) -> list[str]:
    """A name or names (sweeps, parameters) as a list without repeats; None or empty: []."""
    items = [x] if isinstance(x, str) else x
    try:
        items = list(items or [])
    except TypeError:
        items = [x]
    if not all(isinstance(i, str) for i in items):
        raise ParamError(f"{{{param}}} must be a name or a list of names, got {x!r}", param)
    return list(dict.fromkeys(items))


def _check_base(space: Space, pops: dict) -> None:
    """A base space must describe the sweeps' models: the same family, block and stage count as a sampled
    sweep's space; for an imported sweep, every model's stage count and block (SE or not)."""
    for n, p in pops.items():
        if p.space:
            for k, want in (("family", space.family), ("block", space.block), ("stages", space.stages)):
                if p.space.get(k) != want:
                    raise ParamError(f"{{base}} {space.name!r} has {k} {want!r} but sweep {n!r} was sampled from "
                                     f"{p.space_name!r} with {k} {p.space.get(k)!r}; name a base space of the same "
                                     f"family, block and stage count (or omit it to use the sweep's own)", "base")
            continue
        stages = sorted({m.arch.stages for m in p.models})
        se = {m.arch.se for m in p.models}
        if stages != [space.stages] or se != {space.se}:
            raise ParamError(f"{{base}} {space.name!r} has {space.stages} stages of {space.block.upper()} blocks but "
                             f"sweep {n!r} holds models with {'/'.join(map(str, stages))} stages"
                             f"{' and Y blocks' if True in se else ''}{' and X blocks' if False in se else ''}; name a "
                             f"base space that describes its models", "base")


def _check_table_path(path) -> None:
    if path is None or str(path) == "-":
        return
    if not isinstance(path, (str, os.PathLike)):
        raise ParamError(f"{{path}} must be a file path or '-', got {path!r}", "path")
    if Path(path).suffix.lower() not in (".csv", ".parquet"):
        raise ParamError(f"{{path}} {path}: unknown table type {Path(path).suffix or '(none)'!r}; use a .csv or "
                         f".parquet file name, or - for standard output", "path")
    check_output(path, "path")


__all__ = ["STATUSES", "Study", "SweepStatus", "TrainSummary"]
