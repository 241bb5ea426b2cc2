"""Workers: long-lived loops that claim models from the store, train them and write the results.

A worker holds a model with a lease that a heartbeat thread extends; a model whose worker died goes
back to pending (lease expiry, or at once when the holder was a process on this host that is gone).
Every write checks that the model is still held, so nothing is written twice (the lease keeper,
``dse.train.lease.Leases``, is the one the Ray driver uses too). Ctrl-C gives the
current model back. Several workers (processes) per device, all devices, or one in-process on a CPU.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

from dse.errors import ParamError
from dse.models.precision import Precision
from dse.store.db import Store, worker_id
from dse.train.lease import Leases
from dse.train.options import RunOptions
from dse.validate import usable_cpus


SYNTHETIC_SIZES = (10_000, 2_000)  # (train, test) images of synthetic data without sizes


class _LeaseLost(Exception):
    """The model was taken back from this worker (its lease expired): drop the work."""


def resolve_devices(device: str) -> list[str]:
    """auto: every visible GPU, else the CPU; cpu; cuda (all GPUs); cuda:N."""
    from dse.params import PARAMS

    PARAMS["device"].check.check(device, "device")  # its one declaration: auto, cpu, cuda or cuda:N
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        return [f"cuda:{i}" for i in range(n)] or ["cpu"]
    if device == "cpu":
        return ["cpu"]
    if device.startswith("cuda"):
        if n == 0:
            raise ParamError(f"{{device}} {device}: CUDA is not available on this machine (torch "
                           f"{torch.__version__}, {'a CPU build' if not torch.version.cuda else 'no GPU visible'}); "
                           f"use {{device}} cpu or auto", "device")
        if device == "cuda":
            return [f"cuda:{i}" for i in range(n)]
        i = device.split(":", 1)[1]
        if not i.isdigit() or int(i) >= n:
            raise ParamError(f"{{device}} {device}: this machine has {n} GPU(s): cuda:0..cuda:{n - 1}", "device")
        return [device]
    raise AssertionError(device)  # (the declaration admits nothing else)


def load_data(protocol, data_dir=None):
    """The protocol's dataset (its fixed seeded subset when sizes are given), as numpy arrays."""
    from dse.train import data as D

    p = protocol
    if p.dataset == "synthetic" and data_dir is not None:  # an option that would be ignored is refused
        raise ParamError("{data_dir} does not apply to synthetic data, which is generated", "data_dir")
    if p.dataset == "synthetic":
        h = p.resolution or 32
        return D.synthetic((3, h, h), p.train_size or SYNTHETIC_SIZES[0], p.test_size or SYNTHETIC_SIZES[1],
                           seed=p.subset_seed)
    return D.load(p.dataset, data_dir, p.resolution).subset(p.train_size, p.test_size, p.subset_seed)


class Worker:
    """Claims and trains models of ``sweeps`` until none is pending; ``events(kind, **info)`` reports."""

    def __init__(self, db, sweeps, protocol, opts: RunOptions, device: str, events=None, log=print, data=None):
        self.db, self.sweeps, self.p, self.opts, self.device = str(db), list(sweeps), protocol, opts, device
        self.data = data
        self.events = events or (lambda kind, **kw: None)
        self.log = log
        self.id = worker_id()
        self.trained = 0

    def run(self):
        import torch

        from dse.train.engine import DeviceData

        if self.device.startswith("cuda"):
            torch.cuda.set_device(torch.device(self.device))
            torch.backends.cudnn.benchmark = False  # autotuning costs seconds per new shape; not worth it here
        with Store(self.db, create=False) as store:
            self.regimes = {n: store.sweep(n).regime or {} for n in self.sweeps}
        if low_level(self.regimes.values()):  # SR, denoising: clean images, patches cut per step
            from dse.train.restore import clean_for

            dd = self.data if self.data is not None else clean_for(self.p, self.opts.data_dir)
        else:
            data = self.data if self.data is not None else load_data(self.p, self.opts.data_dir)
            dd = DeviceData(data, self.device, augment=self.p.augment)
        with Store(self.db, create=False) as store, Leases(self.db, self.id, self.opts.lease_s) as leases:
            while True:
                m = store.claim(self.sweeps, self.id, self.opts.lease_s, self.device)
                if m is None:
                    return self.trained
                leases.hold(m.sweep, m.idx)
                try:
                    self._one(store, m, dd, leases)
                finally:
                    leases.drop(m.sweep, m.idx)

    def _one(self, store, m, dd, leases):
        import torch

        from dse.train.engine import train_model

        sweep, idx = m.sweep, m.idx
        ckpt = checkpoint_path(self.db, sweep, idx)
        resume = None
        if ckpt.exists():
            try:
                resume = torch.load(ckpt, weights_only=False)
            except Exception:  # noqa: BLE001 - a damaged checkpoint means a fresh start
                resume = None
        keep = resume["epoch"] if resume else 0
        t0 = time.time()
        every_epoch = self.opts.checkpoint == "on"
        own = {}  # this model's epochs (its own sampled batch changes them under a budget in steps)

        def on_epoch(row, state_fn):
            nonlocal every_epoch
            if leases.lost(sweep, idx) or not store.add_epoch(sweep, idx, self.id, asdict(row), self.opts.lease_s):
                raise _LeaseLost()
            if self.opts.checkpoint == "auto" and row.seconds > 60:
                every_epoch = True
            if every_epoch:
                _save(ckpt, state_fn())
            self.events("epoch", sweep=sweep, idx=idx, row=row, epochs=own.get("epochs"))

        finished = False
        try:  # everything that can fail for this model (its own settings too) is inside: it ends failed, never held
            p, res = model_protocol(self.p, m)
            regime = self.regimes.get(sweep) or {}
            on_step = lambda f: self.events("step", sweep=sweep, idx=idx, frac=f)  # noqa: E731
            if low_level([regime]):
                from dse.train.restore import patch_of, restore_epochs, train_restore_model

                own["epochs"] = restore_epochs(p)
                patch = patch_of(p.resolution, dd, int(regime.get("scale") or 1))
                store.reset_epochs(sweep, idx, self.id, keep, trained=trained_with(p, patch, m, patch))
                self.events("start", sweep=sweep, idx=idx, device=self.device, resume=keep)
                out = train_restore_model(m.arch, regime, dd, p, seed=self.p.model_seed(idx), device=self.device,
                                          on_epoch=on_epoch, resume=resume, on_step=on_step, graph=self.opts.graph,
                                          log=self.log, precision=Precision.of(m.settings))
            else:
                _, spe, total = p.schedule(len(dd.data.y_train))
                own["epochs"] = -(-total // spe)
                store.reset_epochs(sweep, idx, self.id, keep,
                                   trained=trained_with(p, res, m, dd.data.shape[1], len(dd.data.y_train)))
                self.events("start", sweep=sweep, idx=idx, device=self.device, resume=keep)
                out = train_model(m.arch, dd, p, seed=self.p.model_seed(idx), graph=self.opts.graph,
                                  on_epoch=on_epoch, resume=resume, log=self.log, on_step=on_step, resolution=res,
                                  precision=Precision.of(m.settings))
            if out.status == "done":
                finished = store.finish(sweep, idx, self.id, status="done", error=out.error, best_error=out.best_error,
                                        epochs=out.epochs,
                                        seconds=time.time() - t0)
            else:
                finished = store.finish(sweep, idx, self.id, status="diverged", error=None, best_error=out.best_error,
                                        epochs=out.epochs,
                                        seconds=time.time() - t0, reason=out.reason)
            self.events("end", sweep=sweep, idx=idx, status=out.status, error=out.error, seconds=time.time() - t0)
        except _LeaseLost:  # another worker holds the model now (and maybe its checkpoint): leave both alone
            self.events("lost", sweep=sweep, idx=idx)
        except KeyboardInterrupt:
            store.release(sweep, idx, self.id, keep=_ckpt_epoch(ckpt))
            raise
        except Exception as e:  # noqa: BLE001 - one model's failure must not stop the worker
            reason = _reason(e)
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            finished = store.finish(sweep, idx, self.id, "failed", reason=reason, seconds=time.time() - t0)
            self.events("end", sweep=sweep, idx=idx, status="failed", error=None, seconds=time.time() - t0,
                        reason=reason)
        self.trained += 1
        if finished:
            ckpt.unlink(missing_ok=True)


def low_level(regimes) -> bool:
    """Whether sweeps of these regimes are of a low-level task (SR, denoising: dse.train.restore trains them)."""
    from dse.tasks import task_of

    return any(task_of(r).low_level for r in regimes)


def stored_size(protocol) -> int:
    """The image size the protocol's dataset is held at (what ``load_data`` gives), without loading it."""
    from dse.train.data import FIXED

    if protocol.dataset in FIXED:
        return FIXED[protocol.dataset][0]
    return int(protocol.resolution or (32 if protocol.dataset == "synthetic" else 224))


def model_protocol(protocol, m):
    """(the protocol model ``m`` trains under, its resolution or None): the sweep's protocol with the model's
    sampled optimiser settings in place, and its sampled input resolution."""
    return protocol.for_model(m.settings), m.setting("resolution")


def trained_with(p, resolution, m, stored_size: int, n_train: int | None = None) -> dict:
    """What the store records a model was trained with: optimiser settings (the batch as used: at most the
    training set), input size and activation."""
    batch = p.batch_size if n_train is None else p.schedule(n_train)[0]
    return {"lr": p.lr, "wd": p.weight_decay, "momentum": p.momentum, "batch_size": batch,
            "resolution": int(resolution or stored_size), "activation": m.arch.activation}


def _reason(e: BaseException) -> str:
    name = type(e).__name__
    if "OutOfMemory" in name:
        return f"GPU out of memory ({name})"
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"{name}: {str(e).splitlines()[0] if str(e) else ''}{at}"[:500]


def checkpoint_dir(db, sweep) -> Path:
    """Where the checkpoints of a sweep's models lie: beside the store, DB.ckpt/SWEEP/."""
    return Path(f"{db}.ckpt") / quote(sweep, safe="")


def checkpoint_path(db, sweep, idx) -> Path:
    return checkpoint_dir(db, sweep) / f"{idx}.pt"


def _ckpt_epoch(path: Path) -> int:
    if not path.exists():
        return 0
    import torch

    try:
        return int(torch.load(path, weights_only=False)["epoch"])
    except Exception:  # noqa: BLE001
        return 0


def _save(path: Path, state):
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def run_training(db, sweeps, protocol, opts: RunOptions, data, progress) -> None:
    """Train every pending model of ``sweeps``: one worker in this process on a CPU, else
    ``workers_per_device`` processes per device (spawned), with the progress display fed meanwhile."""
    import torch

    from dse.train.allocation import GPU_WORKERS

    devices = resolve_devices(opts.device)
    k = opts.workers_per_device
    if k in (None, "auto"):  # (train_protocol resolves auto by model size; a direct call gets the plain default)
        k = GPU_WORKERS if devices[0].startswith("cuda") else 1
    slots = [d for d in devices for _ in range(int(k))]
    cpus = usable_cpus()
    threads = (opts.threads or max(1, cpus // len(slots))) if devices[0] == "cpu" else 1
    progress.begin(len(slots), devices)
    if len(slots) == 1:
        torch.set_num_threads(threads)
        Worker(db, sweeps, protocol, opts, slots[0], events=progress.event, log=progress.log, data=data).run()
        return
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker_main, args=(str(db), list(sweeps), protocol, opts, dev, threads),
                         daemon=False) for dev in slots]
    _start_without_main(procs)
    try:
        while any(p.is_alive() for p in procs):
            progress.poll()
            for p in procs:
                p.join(timeout=1.0 / len(procs))
        progress.poll()
    except KeyboardInterrupt:
        # from a terminal the workers got the SIGINT too and are giving their models back; give them a
        # moment before forwarding it (a second one could interrupt that), then wait, then terminate
        t = time.time()
        while time.time() - t < 3 and any(p.is_alive() for p in procs):
            time.sleep(0.1)
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
        raise
    bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
    if bad:
        progress.log(f"{len(bad)} worker process(es) exited with codes {bad}; their models go back to pending")


def _start_without_main(procs) -> None:
    """Start spawned workers without re-running the caller's main script in each: spawn imports ``__main__`` in a
    child by default, and a user's script that calls ``Study.train`` without an ``if __name__ == "__main__"`` guard
    would run again in every worker. The workers need nothing of it (their target and arguments are dse's own), so
    ``__main__`` is an empty module while they start."""
    import sys
    import types

    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for p in procs:
            p.start()
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _worker_main(db, sweeps, protocol, opts, device, threads):
    import torch

    torch.set_num_threads(threads)
    try:
        Worker(db, sweeps, protocol, opts, device, log=lambda m: print(m, flush=True)).run()
    except KeyboardInterrupt:
        os._exit(130)
