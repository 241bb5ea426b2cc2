"""How to run training, apart from what an error means (the Protocol): ``RunOptions``, the one object the API, the
local workers and the Ray driver share. Its user-facing fields are ``dse.params.RUN``'s (declared once there);
``threads`` and ``lease_s`` are the engine's own (chosen by dse.train.allocation, the lease length)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from dse.errors import ParamError
from dse.params import DEFAULTS as D
from dse.params import RUN
from dse.validate import usable_cpus

LEASE_S = 120.0  # a model's lease: a worker that stops extending it for this long gives the model back


def _check_workers(k, devices) -> None:
    """Worker processes per device must fit the machine: at most its CPU cores on a CPU, 32 per GPU (auto chooses
    within these)."""
    if k is None or k == "auto":
        return
    top = usable_cpus() if devices[0] == "cpu" else 32
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= top:
        where = f"this machine's {top} CPU core(s)" if devices[0] == "cpu" else "32 per GPU"
        raise ParamError(f"{{workers_per_device}} must be from 1 to {top} ({where}), got {k!r}", "workers_per_device")


@dataclass(frozen=True)
class RunOptions:
    """How to run training, apart from what an error means (the Protocol): devices and workers, data folder,
    checkpoints, the CUDA graph, the executor (local or Ray) and its options, and the progress callbacks.

    >>> RunOptions(device="cpu").executor
    'local'
    """

    device: str = D.device
    workers_per_device: int | str | None = D.workers_per_device
    data_dir: object = D.data_dir
    checkpoint: str = D.checkpoint
    graph: str = D.graph
    executor: str = D.executor
    address: str | None = D.address
    gpus_per_model: float | None = D.gpus_per_model
    max_concurrent: int | None = D.max_concurrent
    progress: object = None   # progress(db, sweeps, epochs) -> a display with event/poll/log/close
    on_start: object = None   # on_start(summary), before the first model
    threads: int | None = None  # torch threads per worker (default: the CPU cores shared out among the workers)
    lease_s: float = LEASE_S

    def __post_init__(self):
        for k, param in RUN.items():  # each field's one declaration (dse.params.RUN)
            param.check.check(getattr(self, k), k)

    def devices(self) -> list[str]:
        """The devices to train on, checked now (a clear error before any protocol is stored)."""
        if self.executor == "ray":
            from dse.train.ray_executor import _ray, check_address

            _ray()  # a clear message now when Ray is missing
            check_address(self.address)  # and when its head is unreachable
            return ["ray"]
        from dse.train.worker import resolve_devices

        devices = resolve_devices(self.device)
        _check_workers(self.workers_per_device, devices)
        return devices

    def for_workers(self, **chosen) -> "RunOptions":
        """What a worker process is sent: these options without the caller's callbacks (a display, a lambda: not
        for another process), with ``chosen`` (workers_per_device, threads) set."""
        return dataclasses.replace(self, progress=None, on_start=None, **chosen)
