"""The one lease keeper of the local workers and the Ray driver: a thread that extends the leases of
the models this process holds, from its own store connection, and notes the ones it lost."""

from __future__ import annotations

import threading

from dse.store.db import Store


class Leases(threading.Thread):
    """Extend the leases of held models every ``lease_s / 6`` seconds (at least 0.5 s).

    >>> with Leases("dse.sqlite", "host:123", 120.0) as leases:   # doctest: +SKIP
    ...     leases.hold("s", 0)      # after Store.claim
    ...     leases.lost("s", 0)      # True once another worker took it back (expired lease)
    ...     leases.drop("s", 0)      # after Store.finish / release
    """

    def __init__(self, db, worker: str, lease_s: float):
        super().__init__(daemon=True)
        self.db, self.worker, self.lease_s = str(db), worker, lease_s
        self.every = max(0.5, lease_s / 6)
        self._held: set = set()
        self._lost: set = set()
        self._lock = threading.Lock()
        self._stop_evt = threading.Event()

    def hold(self, sweep: str, idx: int) -> None:
        with self._lock:
            self._held.add((sweep, idx))
            self._lost.discard((sweep, idx))

    def drop(self, sweep: str, idx: int) -> None:
        with self._lock:
            self._held.discard((sweep, idx))

    def lost(self, sweep: str, idx: int) -> bool:
        """Whether a heartbeat found the model no longer held by this worker."""
        with self._lock:
            return (sweep, idx) in self._lost

    def run(self):
        with Store(self.db, create=False) as s:
            while not self._stop_evt.wait(self.every):
                with self._lock:
                    held = list(self._held)
                for sweep, idx in held:
                    try:
                        ok = s.heartbeat(sweep, idx, self.worker, self.lease_s)
                    except Exception:  # noqa: BLE001 - a busy store is retried at the next beat
                        continue
                    if not ok:
                        with self._lock:
                            self._lost.add((sweep, idx))
                            self._held.discard((sweep, idx))

    def stop(self) -> None:
        self._stop_evt.set()

    def __enter__(self) -> "Leases":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
