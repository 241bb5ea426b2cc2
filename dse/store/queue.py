"""The work queue of a store: models claimed by workers under a lease (heartbeats extend it; a lease that
expires, or a holder on this host that is gone, makes the model claimable again), their epochs and their end
(done, failed, diverged, or given back). A part of ``Store``: it uses the store's connection and write
transaction."""

from __future__ import annotations

import json
import time

from dse.store.connection import HOST, _alive
from dse.store.records import ModelRecord
from dse.store.schema import EPOCH_COLUMNS, MODEL_COLUMNS


class WorkQueue:
    """Claiming, heartbeats, epochs and the end of a model's training (mixed into ``Store``)."""

    def stale(self, sweep: str) -> dict:
        """{idx: seconds since its lease expired (0 when its holder on this host is gone)} of the models marked
        running that no live worker holds; nothing is changed (the next claim takes them back)."""
        now, out = time.time(), {}
        for idx, worker, until in self.con.execute("SELECT idx, worker, lease_until FROM models WHERE sweep = ? AND "
                                                   "status = 'running'", (sweep,)).fetchall():
            host, _, pid = (worker or "").rpartition(":")
            if until is None or until < now:
                out[idx] = now - (until or now)
            elif host == HOST and pid.isdigit() and not _alive(int(pid)):
                out[idx] = 0.0
        return out

    def _reclaim(self, c, now: float) -> int:
        """Running models whose lease expired, or whose holder was a process on this host that is gone,
        go back to pending."""
        n = c.execute("UPDATE models SET status = 'pending', worker = NULL, lease_until = NULL "
                      "WHERE status = 'running' AND lease_until < ?", (now,)).rowcount
        rows = c.execute("SELECT sweep, idx, worker FROM models WHERE status = 'running'").fetchall()
        for sweep, idx, worker in rows:
            host, _, pid = (worker or "").rpartition(":")
            if host == HOST and pid.isdigit() and not _alive(int(pid)):
                c.execute("UPDATE models SET status = 'pending', worker = NULL, lease_until = NULL "
                          "WHERE sweep = ? AND idx = ?", (sweep, idx))
                n += 1
        return n

    def claim(self, sweeps, worker: str, lease_s: float, device: str = "") -> ModelRecord | None:
        """Atomically take the next pending model of ``sweeps`` (lowest sweep order, then index)."""
        now = time.time()
        with self.write() as c:
            self._reclaim(c, now)
            for sweep in sweeps:
                r = c.execute("SELECT idx FROM models WHERE sweep = ? AND status = 'pending' ORDER BY idx LIMIT 1",
                              (sweep,)).fetchone()
                if r is None:
                    continue
                c.execute("UPDATE models SET status = 'running', worker = ?, lease_until = ?, heartbeat = ?, "
                          "attempts = attempts + 1, device = ?, reason = NULL WHERE sweep = ? AND idx = ?",
                          (worker, now + lease_s, now, device, sweep, r[0]))
                m = self.con.execute(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE sweep = ? AND idx = ?",
                                     (sweep, r[0])).fetchone()
                return self._record(sweep, m)
        return None

    def _owned(self, c, sweep, idx, worker) -> bool:
        r = c.execute("SELECT status, worker FROM models WHERE sweep = ? AND idx = ?", (sweep, idx)).fetchone()
        return r is not None and r[0] == "running" and r[1] == worker

    def heartbeat(self, sweep, idx, worker, lease_s) -> bool:
        """Extend the lease; False when the model is no longer held by ``worker``."""
        now = time.time()
        with self.write() as c:
            return c.execute("UPDATE models SET lease_until = ?, heartbeat = ? WHERE sweep = ? AND idx = ? "
                             "AND status = 'running' AND worker = ?", (now + lease_s, now, sweep, idx,
                                                                       worker)).rowcount == 1

    def reset_epochs(self, sweep, idx, worker, keep: int, trained: dict | None = None) -> bool:
        """Drop epoch rows after ``keep`` (a fresh start, or a resume from a checkpoint at ``keep``); ``trained``:
        the settings the model is trained with (lr, wd, momentum, batch_size, resolution, activation), recorded."""
        with self.write() as c:
            if not self._owned(c, sweep, idx, worker):
                return False
            if trained is not None:
                r = c.execute("SELECT extra FROM models WHERE sweep = ? AND idx = ?", (sweep, idx)).fetchone()
                extra = json.loads(r[0]) if r[0] else {}
                extra["trained"] = trained
                c.execute("UPDATE models SET extra = ? WHERE sweep = ? AND idx = ?", (json.dumps(extra), sweep, idx))
            c.execute("DELETE FROM epochs WHERE sweep = ? AND idx = ? AND epoch > ?", (sweep, idx, keep))
            c.execute("UPDATE models SET epochs = ? WHERE sweep = ? AND idx = ?", (keep or None, sweep, idx))
            return True

    def add_epoch(self, sweep, idx, worker, row: dict, lease_s: float) -> bool:
        """Record one epoch of a model still held by ``worker`` (and extend its lease)."""
        now = time.time()
        with self.write() as c:
            if not self._owned(c, sweep, idx, worker):
                return False
            c.execute(f"INSERT OR REPLACE INTO epochs (sweep, idx, {', '.join(EPOCH_COLUMNS)}) VALUES "
                      f"(?, ?, {', '.join('?' * len(EPOCH_COLUMNS))})", (sweep, idx, *[row[k] for k in EPOCH_COLUMNS]))
            c.execute("UPDATE models SET epochs = ?, images_per_s = ?, lease_until = ?, heartbeat = ? "
                      "WHERE sweep = ? AND idx = ?", (row["epoch"], row["images_per_s"], now + lease_s, now, sweep,
                                                      idx))
            return True

    def finish(self, sweep, idx, worker, status, error=None, best_error=None, epochs=None, seconds=None,
               reason=None, device=None) -> bool:
        """Final result of a model still held by ``worker``: done, diverged or failed. The worker stays
        recorded as the one that trained it."""
        with self.write() as c:
            if not self._owned(c, sweep, idx, worker):
                return False
            c.execute("UPDATE models SET status = ?, error = ?, best_error = ?, epochs = COALESCE(?, epochs), "
                      "train_seconds = ?, reason = ?, device = COALESCE(?, device), lease_until = NULL "
                      "WHERE sweep = ? AND idx = ?",
                      (status, error, best_error, epochs, seconds, reason, device, sweep, idx))
            return True

    def release(self, sweep, idx, worker, keep: int = 0) -> bool:
        """Give a model back (Ctrl-C): pending again, epoch rows after ``keep`` (its checkpoint) dropped."""
        with self.write() as c:
            if not self._owned(c, sweep, idx, worker):
                return False
            c.execute("DELETE FROM epochs WHERE sweep = ? AND idx = ? AND epoch > ?", (sweep, idx, keep))
            c.execute("UPDATE models SET status = 'pending', worker = NULL, lease_until = NULL, epochs = ? "
                      "WHERE sweep = ? AND idx = ?", (keep or None, sweep, idx))
            return True

    def reset_failed(self, sweeps) -> int:
        """Failed and diverged models of ``sweeps`` back to pending (for a retry)."""
        with self.write() as c:
            return sum(c.execute("UPDATE models SET status = 'pending', reason = NULL WHERE sweep = ? AND "
                                 "status IN ('failed', 'diverged')", (s,)).rowcount for s in sweeps)

    def running(self, sweeps) -> list[dict]:
        q = ("SELECT sweep, idx, epochs, images_per_s, device, worker, heartbeat FROM models WHERE status = 'running' "
             f"AND sweep IN ({', '.join('?' * len(sweeps))}) ORDER BY heartbeat")
        return [dict(r) for r in self.con.execute(q, list(sweeps))]
